"""Observations (raw and bucketed), scores, alerts (acknowledge and resolve
as the signed-in user) and the ward summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from conftest import unique

from alerts.news2 import PARAMETERS
from api.queries import NEWS2_PARAMETERS

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician
iso = api_fixtures.iso


def test_the_scores_column_order_is_the_engines():
    assert NEWS2_PARAMETERS == PARAMETERS


def _readings(conn, patient_id, rows):
    conn.cursor().executemany(
        "INSERT INTO observations (time, patient_id, device_id, type, value)"
        " VALUES (%s, %s, 'dev-reads', %s, %s)", [(t, patient_id, ty, v) for t, ty, v in rows])


def test_observations_raw_and_bucketed_in_sql(web, admin, clinician, conn):
    patient_id = api_fixtures.admit(web, admin)
    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    _readings(conn, patient_id, [(t0 + timedelta(minutes=i), "heart_rate", 60 + i)
                                 for i in range(10)]
              + [(t0, "spo2", 97), (t0 + timedelta(minutes=7), "spo2", 93)])
    url = f"/api/v1/patients/{patient_id}/observations"
    window = {"start": iso(t0), "end": iso(t0 + timedelta(hours=1))}
    raw = web.get(url, params=window, headers=clinician.headers).json()
    assert raw["bucket_seconds"] is None and raw["truncated"] is False
    series = {s["type"]: s for s in raw["series"]}
    assert series["heart_rate"]["value"] == [60 + i for i in range(10)]
    assert series["heart_rate"]["unit"] == "/min" and series["heart_rate"]["loinc"] == "8867-4"
    assert series["spo2"]["device_id"] == ["dev-reads", "dev-reads"]
    assert "avg" not in series["spo2"]
    only = web.get(url, params={**window, "type": "spo2"}, headers=clinician.headers).json()
    assert [s["type"] for s in only["series"]] == ["spo2"]
    cut = web.get(url, params={**window, "limit": 5}, headers=clinician.headers).json()
    assert cut["truncated"] is True
    buckets = web.get(url, params={**window, "bucket": "5m"}, headers=clinician.headers).json()
    assert buckets["bucket_seconds"] == 300
    hr = {s["type"]: s for s in buckets["series"]}["heart_rate"]
    assert hr["avg"] == [62.0, 67.0] and hr["min"] == [60, 65] and hr["max"] == [64, 69]
    assert hr["count"] == [5, 5] and "value" not in hr
    assert hr["time"][0].startswith("2026-11-20T08:00:00")


@pytest.mark.parametrize("params", [
    {"bucket": "5 parsecs"}, {"bucket": "0m"}, {"bucket": ""},
    {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T08:00:00Z"},
    {"start": "2026-11-20T08:00:00"}, {"start": "0.5"}, {"type": "glucose"}, {"limit": 0},
])
def test_bad_observation_queries_are_422(web, admin, clinician, params):
    patient_id = api_fixtures.admit(web, admin)
    r = web.get(f"/api/v1/patients/{patient_id}/observations", params=params,
                headers=clinician.headers)
    assert r.status_code == 422, r.text


def test_queries_the_schema_allows_are_answered(web, admin, clinician):
    """Issue 10, item 15: an empty window, a window too long for the bucket (widened,
    and said so) and an end before any default start are answers, not 422s."""
    patient_id = api_fixtures.admit(web, admin)
    url = f"/api/v1/patients/{patient_id}/observations"
    empty = web.get(url, params={"start": "2026-11-20T08:00:00Z", "end": "2026-11-20T08:00:00Z"},
                    headers=clinician.headers)
    assert empty.status_code == 200 and empty.json()["series"] == [], empty.text
    wide = web.get(url, params={"bucket": "1s", "start": "2026-01-01T00:00:00Z"},
                   headers=clinician.headers)
    assert wide.status_code == 200, wide.text
    assert wide.json()["bucket_seconds"] > 1
    early = web.get(url, params={"end": "0001-01-01T00:00:00Z"}, headers=clinician.headers)
    assert early.status_code == 200 and early.json()["series"] == [], early.text


def test_scores_with_sub_scores_and_inputs_by_parameter(web, admin, clinician, conn):
    patient_id = api_fixtures.admit(web, admin)
    now = datetime.now(UTC).replace(microsecond=0)
    api_fixtures.add_score(conn, patient_id, now - timedelta(hours=2), 0, "zero")
    api_fixtures.add_score(conn, patient_id, now - timedelta(hours=1), 5, "medium",
              sub_scores=(2, 1, 0, 0, 1, 0, -1), inputs=(22, 95, 0, 120, 95, 0, None),
              complete=False, missing=("temperature",))
    body = web.get(f"/api/v1/patients/{patient_id}/scores", headers=clinician.headers).json()
    assert [s["total"] for s in body["scores"]] == [0, 5]
    last = body["scores"][-1]
    assert last["sub_scores"]["respiratory_rate"] == 2 and last["sub_scores"]["temperature"] is None
    assert last["inputs"]["heart_rate"] == 95 and last["inputs"]["temperature"] is None
    assert (last["complete"], last["missing"]) == (False, ["temperature"])
    detail = web.get(f"/api/v1/patients/{patient_id}", headers=clinician.headers).json()
    assert detail["latest_score"]["total"] == 5


def _open_alert(conn, patient_id, ward_id, kind="news2", severity="urgent"):
    now = datetime.now(UTC)
    return conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " condition_time, opened_at, updated_at, last_notified_severity)"
        " VALUES (%s, %s, %s, 'clinical', %s, 'open', 'NEWS2 5 (medium): RR 22 scores 2', %s,"
        " %s, %s, %s) RETURNING alert_id",
        (patient_id, ward_id, kind, severity, now, now, now, severity)).fetchone()[0]


def test_alerts_are_acknowledged_and_resolved_as_the_signed_in_user(web, admin, clinician,
                                                                    conn):
    patient_id = api_fixtures.admit(web, admin, ward_id="ward-alerts")
    alert_id = _open_alert(conn, patient_id, "ward-alerts")
    live = web.get("/api/v1/alerts", params={"ward": "ward-alerts"},
                   headers=clinician.headers).json()
    assert alert_id in [a["alert_id"] for a in live]
    url = f"/api/v1/alerts/{alert_id}"
    r = web.post(f"{url}/acknowledge", json={"note": "phoned", "action": "visit booked",
                                             "changed_management": True},
                 headers=clinician.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["acknowledged_by"]) == ("acknowledged", clinician.name)
    assert r.json()["changed_management"] is True
    assert r.json()["ack_via"] == "api"
    twice = web.post(f"{url}/acknowledge", json={}, headers=clinician.headers)
    assert twice.status_code == 409 and "already acknowledged" in twice.json()["detail"]
    done = web.post(f"{url}/resolve", json={"note": "better"}, headers=clinician.headers)
    assert (done.json()["state"], done.json()["resolved_by"]) == ("resolved", clinician.name)
    assert web.post(f"{url}/resolve", json={}, headers=clinician.headers).status_code == 409
    full = web.get(url, headers=clinician.headers).json()
    assert [(e["event"], e["actor"]) for e in full["events"]] == [
        ("acknowledged", clinician.name), ("resolved", clinician.name)]
    assert web.post("/api/v1/alerts/999999999/acknowledge", json={},
                    headers=clinician.headers).status_code == 404
    resolved = web.get("/api/v1/alerts", params={"patient": patient_id, "state": "resolved"},
                       headers=clinician.headers).json()
    assert [a["alert_id"] for a in resolved] == [alert_id]


def test_the_ward_summary_puts_the_sickest_first(web, admin, clinician, conn):
    ward = unique("ward")
    quiet = api_fixtures.admit(web, admin, ward_id=ward)
    sick = api_fixtures.admit(web, admin, ward_id=ward)
    unscored = api_fixtures.admit(web, admin, ward_id=ward)
    now = datetime.now(UTC).replace(microsecond=0)
    api_fixtures.add_score(conn, quiet, now - timedelta(minutes=5), 1, "low")
    api_fixtures.add_score(conn, sick, now - timedelta(hours=1), 2, "low")
    api_fixtures.add_score(conn, sick, now - timedelta(minutes=1), 7, "high",
              sub_scores=(3, 3, 0, 0, 1, 0, 0))
    _readings(conn, sick, [(now - timedelta(minutes=1), "spo2", 90)])
    _open_alert(conn, sick, ward, severity="emergency")
    r = web.get(f"/api/v1/wards/{ward}/summary", headers=clinician.headers)
    assert r.status_code == 200
    body = r.json()
    assert [p["patient_id"] for p in body["rows"]] == [sick, quiet, unscored]
    assert body["patients"] == 3 and body["unscored"] == 1 and body["open_alerts"] == 1
    assert body["by_band"] == {"zero": 0, "low": 1, "low-medium": 0, "medium": 0, "high": 1}
    top = body["rows"][0]
    assert top["score"]["total"] == 7 and top["score"]["sub_scores"]["spo2"] == 3
    assert top["top_severity"] == "emergency" and top["alert_kinds"] == ["news2"]
    assert top["last_reading"] is not None
    assert body["rows"][2]["score"] is None
    wards = {w["ward_id"]: w for w in web.get("/api/v1/wards", headers=clinician.headers).json()}
    assert wards[ward]["patients"] == 3 and wards[ward]["live_alerts"] == 1
    assert web.get("/api/v1/wards/no-ward/summary", headers=clinician.headers).status_code == 404
