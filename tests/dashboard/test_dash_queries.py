"""The dashboard's SQL against the real TimescaleDB: the ward in order of
acuity, alerts, downsampling with time_bucket, the ward's figures, and a
ward of 500 patients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import unique

from dashboard import queries, rows, sample
from ward import clinical, db

pytestmark = pytest.mark.db

FRESH = timedelta(hours=12)


@pytest.fixture(scope="module")
def ward(services_up):
    """A sample ward of 20 (dashboard/sample.py): (ward_id, patient ids, now)."""
    now = datetime.now(UTC)
    ward_id, prefix = unique("wq"), unique("q")
    with db.connect(services_up, autocommit=True) as conn:
        ids = sample.build_ward(conn, now=now, ward_id=ward_id, prefix=prefix)
    return ward_id, ids, now


def test_the_ward_comes_sickest_first(conn, ward):
    ward_id, ids, now = ward
    patients = queries.ward_patients(conn, ward_id, now=now, freshness=FRESH)
    assert len(patients) == len(sample.PROFILES)
    grid = rows.ward_rows(patients, now)
    assert [r["patient_id"] for r in grid[:3]] == ids[:3]  # NEWS2 13, 9, 7: high
    assert [r["score"] for r in grid[:3]] == ["13 High", "9 High", "7 High"]
    order = [r["band"] for r in grid]
    rank = {"high": 5, "medium": 4, "low-medium": 3, "none": 2.5, "low": 2, "zero": 1}
    assert [rank[b] for b in order] == sorted((rank[b] for b in order), reverse=True)


def test_a_ward_row_shows_what_a_clinician_needs(conn, ward):
    ward_id, ids, now = ward
    grid = {r["patient_id"]: r for r in
            rows.ward_rows(queries.ward_patients(conn, ward_id, now=now, freshness=FRESH), now)}
    first = grid[ids[0]]
    assert (first["rr"], first["rr_s"], first["o2"], first["o2_s"]) == (
        "26 · 3 min", 3, "O₂ · 3 min", 2)
    assert first["alerts"] == "EMERGENCY" and first["alert_new"]
    assert first["trend"].count("L") > 5  # a day of hourly samples
    # Never complete (no SBP, no temperature): the highest band of its two days stands.
    quinn = grid[ids[5]]
    assert quinn["score"] == "High · now 6+" and quinn["band"] == "high"
    assert "no SBP, Temp" in quinn["flags"] and quinn["overdue"]
    assert grid[ids[18]]["overdue"] and "OVERDUE" in grid[ids[18]]["flags"]  # 13 h silent
    assert grid[ids[16]]["devices"].startswith("1 OFFLINE")
    assert grid[ids[17]]["devices"] == "online · 12 % LOW"
    assert (grid[ids[15]]["spo2"], grid[ids[15]]["spo2_s"]) == ("89 (S2) · 45 min", 0)
    assert grid[ids[19]]["score"] == "No score"


def test_the_sample_ward_has_old_values_and_an_adjusted_score_as_the_engine_stores_them(
        conn, ward):
    """dashboard/sample.py scores with the engine's own code: Drew Irving's oximeter
    sends SpO2 and pulse, the rest is 11 h old (stale, the set incomplete, overdue);
    Emery Jones has an accepted pulse range (true NEWS2 5, adjusted 3)."""
    ward_id, ids, now = ward
    grid = {r["patient_id"]: r for r in
            rows.ward_rows(queries.ward_patients(conn, ward_id, now=now, freshness=FRESH), now)}
    drew = grid[ids[8]]
    assert (drew["spo2"], drew["spo2_stale"]) == ("95 · 55 min", False)
    assert (drew["sbp"], drew["sbp_stale"]) == ("118 · 11 h", True)
    assert drew["temp_stale"] and drew["rr_stale"] and drew["acvpu_stale"]
    assert drew["score"] == "2+ Low" and drew["overdue"]
    assert "stale RR, SBP, ACVPU, Temp" in drew["flags"]
    assert drew["measured"].endswith("h ago")  # the last complete set, hours ago
    emery = grid[ids[9]]
    assert emery["score"] == "5 (adj. 3) Low" and emery["band"] == "low"
    stored = conn.execute(
        "SELECT total, band, adjusted_total, adjusted_band, overridden_parameters,"
        " monitoring_band, cardinality(input_times) FROM scores WHERE patient_id = %s"
        " ORDER BY time DESC LIMIT 1", (ids[9],)).fetchone()
    assert stored == (5, "medium", 3, "low", ["heart_rate"], "low", 7)
    review = conn.execute("SELECT review_at - valid_from FROM patient_settings"
                          " WHERE patient_id = %s", (ids[9],)).fetchone()[0]
    assert review == timedelta(days=14)


def test_all_wards_and_an_empty_ward(conn, ward):
    ward_id, _, now = ward
    everyone = queries.ward_patients(conn, None, now=now, freshness=FRESH)
    assert {p.ward_id for p in everyone} >= {ward_id}
    assert queries.ward_patients(conn, unique("nowhere"), now=now, freshness=FRESH) == []


def test_open_alerts_new_first_then_most_severe_then_newest(conn, ward):
    ward_id, ids, _ = ward
    alerts = queries.open_alerts(conn, ward_id)
    assert alerts and all(a.state != "resolved" for a in alerts)
    key = [((a.state == "open"), queries.SEVERITIES.index(a.severity), a.opened_at)
           for a in alerts]
    assert key == sorted(key, reverse=True)
    emergencies = queries.unacknowledged_emergencies(conn, ward_id)
    # Newest first: 01 was last; 06 (high held, and overdue on it) before them all.
    assert [a.patient_id for a in emergencies] == [*ids[:3], ids[5], ids[5]]
    assert [e.event for e in queries.alert_events(conn, emergencies[0].alert_id)] == ["opened"]


def _insert_minutely(conn, patient_id: str, device_id: str, end: datetime, days: int) -> int:
    """A reading every 30 s for `days` days: heart rate 60..119 and SpO2."""
    return conn.execute(
        "INSERT INTO observations (time, patient_id, device_id, type, value)"
        " SELECT t, %(p)s, %(d)s, kind, CASE kind WHEN 'heart_rate'"
        "  THEN 60 + (extract(epoch FROM t)::bigint / 30) %% 60 ELSE 95 END"
        " FROM generate_series(%(end)s::timestamptz - %(span)s, %(end)s, interval '30 s') t,"
        " unnest(ARRAY['heart_rate', 'spo2']) kind",
        {"p": patient_id, "d": device_id, "end": end, "span": timedelta(days=days)}).rowcount


def test_long_ranges_are_downsampled_in_the_database(conn, register):
    dev = register(ward_id=unique("wd"))
    end = datetime.now(UTC).replace(microsecond=0)
    assert _insert_minutely(conn, dev.patient_id, dev.device_id, end, 1) > 5000
    week, bucket = queries.observations(conn, dev.patient_id, end - timedelta(days=7), end)
    assert bucket == 900 and set(week) == {"heart_rate", "spo2"}
    hr = week["heart_rate"]
    assert 0 < len(hr.times) <= queries.MAX_POINTS
    assert min(hr.low) == 60 and max(hr.high) == 119 and sum(hr.count) == 2881
    hour, bucket = queries.observations(conn, dev.patient_id, end - timedelta(hours=1), end,
                                        max_points=720)
    assert bucket == 5 and len(hour["heart_rate"].times) == 121  # every reading, raw
    assert set(hour["heart_rate"].count) == {1}


def test_settings_history_has_ended_settings_and_who_ended_them(conn, register):
    dev = register(ward_id=unique("ws"))
    now = datetime.now(UTC)
    first = clinical.set_spo2_scale(conn, dev.patient_id, 2, by="dr a", reason="type 2 RF",
                                    now=now - timedelta(hours=2))
    clinical.end_setting(conn, first.setting_id, by="dr b", now=now - timedelta(hours=1))
    second = clinical.set_accepted_range(conn, dev.patient_id, "heart_rate", 50, 110,
                                         by="dr a", reason="resting rate", now=now)
    history = queries.settings_history(conn, dev.patient_id)
    assert [s.setting_id for s in history] == [second.setting_id, first.setting_id]
    assert history[0] == second and history[0].ended_by is None
    assert history[0].review_at == now + clinical.MAX_REVIEW
    assert history[1].ended_by == "dr b" and history[1].patient_id == dev.patient_id
    assert history[1].ended_at == now - timedelta(hours=1)


def test_score_history_keeps_the_worst_of_each_bucket(conn, register):
    dev = register(ward_id=unique("ws"))
    end = datetime.now(UTC).replace(microsecond=0)
    conn.execute(
        "INSERT INTO scores (time, patient_id, total, band, max_single, complete, missing,"
        " sub_scores, inputs, spo2_scale)"
        " SELECT t, %s, CASE WHEN extract(minute FROM t) = 30 THEN 7 ELSE 1 END,"
        "  CASE WHEN extract(minute FROM t) = 30 THEN 'high' ELSE 'low' END, 1, true, '{}',"
        "  '{0,0,0,0,0,0,1}', '{18,97,0,120,80,0,36.0}', 1"
        " FROM generate_series(%s::timestamptz - interval '3 days', %s, interval '1 min') t",
        (dev.patient_id, end, end))
    history = queries.score_history(conn, dev.patient_id, end - timedelta(days=3), end)
    assert len(history.times) <= queries.MAX_POINTS and history.bucket == 600
    assert set(history.totals) == {7, 1} and history.bands.count("high") == 72
    assert queries.latest_score(conn, dev.patient_id).time == end


def test_the_wards_own_figures(conn, register):
    ward_id = unique("wo")
    a, b = register(ward_id=ward_id), register(ward_id=ward_id)
    now = datetime.now(UTC)
    conn.execute("UPDATE patients SET admitted_at = %s WHERE ward_id = %s",
                 (now - timedelta(days=30), ward_id))

    def alert(pid, kind, severity, opened_ago, delay_s, ack_after_s=None, changed=None):
        opened = now - opened_ago
        ack = None if ack_after_s is None else opened + timedelta(seconds=ack_after_s)
        conn.execute(
            "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
            " condition_time, opened_at, updated_at, last_notified_severity, acknowledged_at,"
            " acknowledged_by, changed_management) VALUES (%s, %s, %s, 'clinical', %s, %s,"
            " 'test', %s, %s, %s, %s, %s, %s, %s)",
            (pid, ward_id, kind, severity, "open" if ack is None else "acknowledged",
             opened - timedelta(seconds=delay_s), opened, opened, severity, ack,
             None if ack is None else "ana", changed))
        # The reading it rests on, received when measured (the figure counts from receipt).
        conn.execute("INSERT INTO observations (time, patient_id, device_id, type, value,"
                     " received_at) VALUES (%s, %s, %s, 'heart_rate', 80, %s)",
                     (opened - timedelta(seconds=delay_s), pid,
                      {a.patient_id: a.device_id, b.patient_id: b.device_id}[pid],
                      opened - timedelta(seconds=delay_s)))

    alert(a.patient_id, "news2", "urgent", timedelta(days=1), 60, 600, True)
    alert(b.patient_id, "news2", "emergency", timedelta(days=2), 120, 120, False)
    alert(a.patient_id, "overdue", "low", timedelta(days=3), 30, 1800)
    alert(b.patient_id, "score_rising", "low", timedelta(days=20), 60)  # before the week
    o = queries.outcomes(conn, ward_id, now - timedelta(days=7), now)
    assert o.patient_days == pytest.approx(14, abs=0.01)
    assert o.per_kind == [("news2", 2), ("overdue", 1)]
    news2 = next(s for s in o.reading_to_alert if s.group == "news2")
    assert (news2.n, news2.p50) == (2, 90)
    assert [s.group for s in o.alert_to_ack] == ["emergency", "urgent", "low"]
    assert o.management == [("news2", 1, 1, 0), ("overdue", 0, 0, 1)]


def test_a_ward_of_500_is_ordered_by_acuity(conn, services_up):
    """500 patients, a day of 5-minutely scores each: the whole ward view (one
    query and the rows), sickest first.  How fast is `vward bench web`'s figure, not
    a test's: a timing here would fail on a busy machine."""
    ward_id, prefix = unique("big"), unique("b")
    now = datetime.now(UTC)
    conn.execute("INSERT INTO wards (ward_id, name) VALUES (%s, 'Big ward')", (ward_id,))
    conn.execute("INSERT INTO patients (patient_id, ward_id, display_name, admitted_at)"
                 " SELECT %s || '-' || i, %s, 'Patient ' || i, %s - interval '2 days'"
                 " FROM generate_series(1, 500) i", (prefix, ward_id, now))
    conn.execute(
        "INSERT INTO scores (time, patient_id, total, band, max_single, complete, missing,"
        " sub_scores, inputs, spo2_scale)"
        " SELECT t, %s || '-' || i, (i + extract(minute FROM t)::int) %% 9,"
        "  (ARRAY['zero','low','low','low','low','medium','medium','high','high'])"
        "   [(i + extract(minute FROM t)::int) %% 9 + 1], 1, i %% 4 <> 0, '{}',"
        "  '{0,1,0,0,1,0,0}', '{18,95,0,120,95,0,37.0}', 1"
        " FROM generate_series(1, 500) i,"
        " generate_series(%s::timestamptz - interval '24 hours', %s, interval '5 min') t",
        (prefix, now, now))
    conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " opened_at, updated_at, last_notified_severity)"
        " SELECT %s || '-' || i, %s, 'news2', 'clinical', 'urgent', 'open', 'test', %s, %s,"
        " 'urgent' FROM generate_series(1, 500, 7) i", (prefix, ward_id, now, now))
    conn.execute("ANALYZE scores")
    grid = rows.ward_rows(queries.ward_patients(conn, ward_id, now=now, freshness=FRESH), now)
    alerts = rows.alert_rows(queries.open_alerts(conn, ward_id), now)
    assert len(grid) == 500 and len(alerts) == 72
    assert grid[0]["band"] == "high" and grid[-1]["band"] in ("zero", "low")
