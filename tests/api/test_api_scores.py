"""Scores as the API returns them (clinical-safety findings 2 and 8, issue 8):
each value with its own measurement time, age and staleness; the true NEWS2
with an adjusted score beside it, named as adjusted; the monitoring and
effective bands; the ward summary ordered and counted by the effective band."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from conftest import unique

from alerts.engine import Engine
from ward import clinical, db
from ward.news2_chart import PARAMETERS

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def _readings(conn, patient_id, t, **values):
    conn.cursor().executemany(
        "INSERT INTO observations (time, patient_id, device_id, type, value)"
        " VALUES (%s, %s, 'dev-scores', %s, %s)",
        [(t, patient_id, k, float(v)) for k, v in values.items()])


def _score_with_the_engine(settings, ward_id, patient_id, since, now):
    """The alerts engine's own scoring path, for one patient."""
    with db.connect(settings, autocommit=True) as conn:
        engine = Engine(conn, engine_id=unique("engine"), freshness=timedelta(hours=12),
                        wards=[ward_id])
        with conn.transaction():
            assert engine.score([patient_id], [since], now) > 0


def _scores(web, person, patient_id, **params):
    r = web.get(f"/api/v1/patients/{patient_id}/scores", params=params, headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()["scores"]


def test_each_score_carries_each_values_measurement_time_age_and_staleness(
        web, admin, clinician, conn, services_up):
    """Five values measured 5 min ago, blood pressure and temperature 11 h ago: the
    engine's score is low (RR 21 scores 2, SpO2 95 scores 1), whose 4-hourly
    monitoring makes the two old values stale and the set incomplete."""
    ward_id = unique("ward-age")
    patient_id = api_fixtures.admit(web, admin, ward_id=ward_id)
    now = datetime.now(UTC).replace(microsecond=0)
    old, recent = now - timedelta(hours=11), now - timedelta(minutes=5)
    conn.execute("UPDATE patients SET admitted_at = %s WHERE patient_id = %s",
                 (now - timedelta(days=1), patient_id))
    _readings(conn, patient_id, old, systolic_bp=125, temperature=37.1)
    _readings(conn, patient_id, recent, respiratory_rate=21, spo2=95, on_oxygen=0,
              heart_rate=80, consciousness=0)
    _score_with_the_engine(services_up, ward_id, patient_id, now - timedelta(hours=12), now)

    latest = _scores(web, clinician, patient_id)[-1]
    assert datetime.fromisoformat(latest["time"]) == recent
    assert (latest["total"], latest["band"], latest["complete"]) == (3, "low", False)
    assert (latest["monitoring_band"], latest["effective_band"]) == ("low", "low")
    assert sorted(latest["stale"]) == ["systolic_bp", "temperature"]
    assert latest["adjusted_total"] is None and latest["adjusted_band"] is None
    params = latest["parameters"]
    assert list(params) == list(PARAMETERS)
    spo2 = params["spo2"]
    assert (spo2["value"], spo2["sub_score"], spo2["stale"], spo2["age_seconds"]) == (
        95.0, 1, False, 0.0)
    assert datetime.fromisoformat(spo2["measured_at"]) == recent
    bp = params["systolic_bp"]
    assert (bp["value"], bp["sub_score"], bp["stale"]) == (125.0, 0, True)
    assert bp["age_seconds"] == (recent - old).total_seconds()
    assert datetime.fromisoformat(bp["measured_at"]) == old
    # The old columns stay as they were.
    assert latest["sub_scores"]["respiratory_rate"] == 2 and latest["inputs"]["spo2"] == 95
    detail = web.get(f"/api/v1/patients/{patient_id}", headers=clinician.headers).json()
    assert detail["latest_score"]["parameters"]["temperature"]["stale"] is True


def test_a_missing_value_and_an_old_row_have_no_age(web, admin, clinician, conn):
    patient_id = api_fixtures.admit(web, admin)
    now = datetime.now(UTC).replace(microsecond=0)
    # Scored before migration 005: no measurement times, no monitoring band.
    api_fixtures.add_score(conn, patient_id, now - timedelta(hours=1), 2, "low",
                           sub_scores=(2, 0, 0, 0, 0, 0, -1),
                           inputs=(21, 97, 0, 120, 70, 0, None), complete=False,
                           missing=("temperature",))
    old = _scores(web, clinician, patient_id)[-1]
    assert old["parameters"]["temperature"] == {"value": None, "sub_score": None,
                                                "measured_at": None, "age_seconds": None,
                                                "stale": False}
    assert old["parameters"]["respiratory_rate"]["measured_at"] is None
    assert old["parameters"]["respiratory_rate"]["age_seconds"] is None
    assert old["parameters"]["respiratory_rate"]["value"] == 21
    # Read as its own band, as the engine reads it.
    assert (old["monitoring_band"], old["effective_band"], old["stale"]) == ("low", "low", [])


def test_the_adjusted_score_is_beside_the_true_news2_and_named_as_adjusted(
        web, admin, clinician, conn, services_up):
    """A resting heart rate accepted by a clinician: the engine stores the true NEWS2
    (5, medium) and the adjusted score (3, low) beside it."""
    ward_id = unique("ward-adj")
    patient_id = api_fixtures.admit(web, admin, ward_id=ward_id)
    now = datetime.now(UTC).replace(microsecond=0)
    clinical.set_accepted_range(conn, patient_id, "heart_rate", 111, 130, by="dr.test",
                                reason="known resting tachycardia", now=now - timedelta(hours=1))
    _readings(conn, patient_id, now - timedelta(minutes=30), respiratory_rate=21, spo2=97,
              on_oxygen=0, systolic_bp=120, heart_rate=115, consciousness=0, temperature=38.5)
    _score_with_the_engine(services_up, ward_id, patient_id, now - timedelta(hours=2), now)

    latest = _scores(web, clinician, patient_id)[-1]
    assert (latest["total"], latest["band"]) == (5, "medium")  # the true NEWS2
    assert latest["sub_scores"]["heart_rate"] == 2
    assert latest["parameters"]["heart_rate"]["sub_score"] == 2
    assert (latest["adjusted_total"], latest["adjusted_band"]) == (3, "low")
    assert latest["overridden"] is True and latest["overridden_parameters"] == ["heart_rate"]
    assert latest["complete"] is True and latest["effective_band"] == "low"
    settings = web.get(f"/api/v1/patients/{patient_id}/settings",
                       headers=clinician.headers).json()
    assert settings[0]["review_at"] is not None and settings[0]["ended_at"] is None
    review = datetime.fromisoformat(settings[0]["review_at"])
    assert review == now - timedelta(hours=1) + clinical.MAX_REVIEW


def test_the_ward_summary_orders_and_counts_by_the_effective_band(web, admin, clinician, conn):
    """A patient whose latest score fell to 1 only because values aged out stays in
    the medium band held since the last complete set, above a steady low; a silent
    patient past the monitoring interval is overdue by the engine's rule."""
    ward = unique("ward-eff")
    aged, steady, adjusted, silent = (api_fixtures.admit(web, admin, ward_id=ward)
                                      for _ in range(4))
    now = datetime.now(UTC).replace(microsecond=0)
    conn.execute("UPDATE patients SET admitted_at = %s WHERE ward_id = %s",
                 (now - timedelta(days=2), ward))
    t = now - timedelta(minutes=2)
    times = [t] * 7
    api_fixtures.add_score(conn, aged, t, 1, "low", sub_scores=(0, 1, 0, 0, 0, 0, 0),
                           complete=False, monitoring_band="medium", stale=["systolic_bp"],
                           input_times=[t, t, t, t - timedelta(hours=3), t, t, t])
    api_fixtures.add_score(conn, steady, t, 4, "low", sub_scores=(2, 1, 0, 0, 1, 0, 0),
                           input_times=times, monitoring_band="low")
    api_fixtures.add_score(conn, adjusted, t, 6, "medium", sub_scores=(2, 1, 0, 0, 2, 0, 1),
                           input_times=times, monitoring_band="low", adjusted=(4, "low"),
                           overridden=["heart_rate"])
    late = now - timedelta(hours=2)
    api_fixtures.add_score(conn, silent, late, 0, "zero", input_times=[late] * 7,
                           monitoring_band="medium", complete=False)
    api_fixtures.add_score(conn, silent, late - timedelta(minutes=1), 5, "medium",
                           sub_scores=(2, 1, 0, 0, 2, 0, 0),
                           input_times=[late - timedelta(minutes=3)] + [late] * 6,
                           monitoring_band="medium")
    body = web.get(f"/api/v1/wards/{ward}/summary", headers=clinician.headers).json()
    rows = {r["patient_id"]: r for r in body["rows"]}
    assert [r["patient_id"] for r in body["rows"]] == [aged, silent, adjusted, steady]
    assert body["by_band"] == {"zero": 0, "low": 2, "low-medium": 0, "medium": 2, "high": 0}
    assert rows[aged]["score"]["effective_band"] == "medium"
    assert rows[aged]["score"]["band"] == "low" and rows[aged]["score"]["total"] == 1
    assert rows[aged]["score"]["parameters"]["systolic_bp"]["age_seconds"] == 3 * 3600
    assert rows[adjusted]["score"]["total"] == 6
    assert rows[adjusted]["score"]["adjusted_total"] == 4
    # Overdue: the monitoring band's interval since the last complete set, which is as
    # old as its oldest value (the SQL function last_complete_set).
    assert rows[silent]["overdue"] is True
    assert datetime.fromisoformat(rows[silent]["last_complete_set"]) == late - timedelta(minutes=3)
    assert rows[aged]["overdue"] is True  # medium, and no complete set at all for 2 days
    assert rows[steady]["overdue"] is False and rows[steady]["last_complete_set"] is not None


def test_the_openapi_schema_describes_ages_and_the_adjusted_score(web, clinician):
    spec = web.get("/openapi.json", headers=clinician.headers).json()
    schemas = spec["components"]["schemas"]
    for path in ("/api/v1/patients/{patient_id}/scores", "/api/v1/wards/{ward_id}/summary"):
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"].rsplit("/", 1)[-1] in ("Scores", "WardSummary")
    score = schemas["ScoreOut"]["properties"]
    for name in ("parameters", "adjusted_total", "adjusted_band", "monitoring_band",
                 "effective_band", "stale", "total"):
        assert name in score, name
    assert "NOT NEWS2" in score["adjusted_total"]["description"]
    assert "true NEWS2" in score["total"]["description"]
    assert set(schemas["ParameterOut"]["properties"]) == {
        "value", "sub_score", "measured_at", "age_seconds", "stale"}
    assert {"overdue", "last_complete_set"} <= set(schemas["WardPatient"]["properties"])
    assert {"review_at", "ended_at"} <= set(schemas["SettingOut"]["properties"])
    assert "resolve_note" in schemas["AlertOut"]["properties"]


def test_resolving_an_urgent_alert_by_hand_needs_a_reason(web, admin, clinician, conn):
    patient_id = api_fixtures.admit(web, admin, ward_id="ward-resolve")
    now = datetime.now(UTC)
    alert_id = conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " condition_time, opened_at, updated_at, last_notified_severity) VALUES (%s,"
        " 'ward-resolve', 'news2', 'clinical', 'urgent', 'open', 'NEWS2 5 (medium)', %s, %s,"
        " %s, 'urgent') RETURNING alert_id", (patient_id, now, now, now)).fetchone()[0]
    url = f"/api/v1/alerts/{alert_id}/resolve"
    refused = web.post(url, json={}, headers=clinician.headers)
    assert refused.status_code == 409 and "give the reason" in refused.json()["detail"]
    done = web.post(url, json={"note": "seen at home, false reading"}, headers=clinician.headers)
    assert done.status_code == 200
    assert done.json()["resolve_note"] == "seen at home, false reading"
