"""The ward view's rows: sickest first, values coloured by sub-score,
incomplete and overdue marked plainly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dashboard import rows
from dashboard.queries import AlertItem, WardPatient

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def patient(pid: str, total: int | None, band: str | None, **kw) -> WardPatient:
    base = WardPatient(
        patient_id=pid, ward_id="w", name=pid.title(), time_zone="Europe/London",
        scored_time=NOW - timedelta(minutes=10) if total is not None else None, total=total,
        band=band, max_single=None, complete=True if total is not None else None, missing=[],
        sub_scores=[0, 1, 0, 0, 0, 0, 3] if total is not None else None,
        inputs=[18, 95, 0, 120, 80, 0, 34.8] if total is not None else None,
        spo2_scale=1 if total is not None else None, overridden=False, open_alerts=0,
        unacknowledged=0, top_severity=None, alert_kinds=[], devices=1, offline=0,
        battery=80.0, last_seen=NOW, trend=[0, 1, None, 4])
    return replace(base, **kw)


def test_sickest_first():
    ward = [patient("zero", 0, "zero"), patient("high", 8, "high"),
            patient("lowmed", 3, "low-medium"), patient("low4", 4, "low"),
            patient("medium", 5, "medium"), patient("silent", None, None),
            patient("high7", 7, "high")]
    order = [r["patient_id"] for r in rows.ward_rows(ward, NOW)]
    assert order == ["high", "high7", "medium", "lowmed", "silent", "low4", "zero"]
    assert [r["rank"] for r in rows.ward_rows(ward, NOW)] == list(range(1, 8))


def test_ties_go_to_the_worse_alert_then_the_overdue():
    calm = patient("calm", 2, "low")
    alerted = patient("alerted", 2, "low", open_alerts=1, top_severity="low",
                      alert_kinds=["score_rising"])
    late = patient("late", 2, "low", scored_time=NOW - timedelta(hours=5))
    order = [r["patient_id"] for r in rows.ward_rows([calm, late, alerted], NOW)]
    assert order == ["alerted", "late", "calm"]


def test_overdue_follows_the_band_monitoring_interval():
    assert not rows.is_overdue(patient("a", 0, "zero", scored_time=NOW - timedelta(hours=11)),
                               NOW)
    assert rows.is_overdue(patient("a", 0, "zero", scored_time=NOW - timedelta(hours=13)), NOW)
    assert rows.is_overdue(patient("a", 8, "high", scored_time=NOW - timedelta(minutes=16)),
                           NOW)
    assert rows.is_overdue(patient("a", 1, "low", alert_kinds=["overdue"]), NOW)
    assert rows.is_overdue(patient("a", None, None), NOW)


def test_a_row_carries_values_sub_scores_and_plain_flags():
    p = patient("p", 4, "low", complete=False, missing=["systolic_bp", "temperature"],
                inputs=[18, 95, 0, None, 80, 0, None], sub_scores=[0, 1, 0, -1, 0, 0, -1],
                spo2_scale=2, open_alerts=2, unacknowledged=1, top_severity="urgent",
                alert_kinds=["news2", "battery_low"], battery=12.0)
    r = rows.ward_rows([p], NOW)[0]
    assert r["score"] == "4+ Low" and r["incomplete"]
    assert (r["rr"], r["rr_s"]) == ("18", 0)
    assert (r["spo2"], r["spo2_s"]) == ("95 (S2)", 1)
    assert (r["sbp"], r["sbp_s"]) == ("", -1)
    assert r["o2"] == "Air" and r["acvpu"] == "A"
    assert r["flags"] == "Incomplete: no SBP, Temp"
    assert r["measured"] == "10 min ago" and "GMT" in r["measured_at"]
    assert r["alerts"] == "URGENT +1" and r["alert_new"]
    assert "NEWS2, Battery low" in r["alert_detail"]
    assert r["devices"] == "online · 12 % LOW" and r["device_problem"]
    assert r["trend"].startswith("M") and r["href"] == "/patient/p"


def test_a_patient_without_a_score_says_so():
    r = rows.ward_rows([patient("new", None, None, devices=0)], NOW)[0]
    assert r["score"] == "No score" and r["band"] == "none"
    assert r["flags"] == "NO SCORE" and r["measured"] == "never"
    assert r["devices"] == "no device" and r["device_problem"]


def test_band_summary_counts():
    grid = rows.ward_rows([patient("a", 8, "high"), patient("b", 0, "zero"),
                           patient("c", None, None)], NOW)
    counts = rows.band_summary(grid)
    assert (counts["high"], counts["zero"], counts["none"], counts["patients"]) == (1, 1, 1, 3)
    assert counts["overdue"] == 1


def test_alert_rows_say_who_acknowledged_and_when():
    a = AlertItem(alert_id=7, patient_id="p", patient_name="Pat", ward_id="w",
                  time_zone="Europe/London", kind="news2", category="clinical", device_id="",
                  severity="urgent", state="acknowledged", reason="NEWS2 5 (medium)",
                  condition_time=NOW, opened_at=NOW - timedelta(minutes=30), updated_at=NOW,
                  last_notified_severity="urgent", clear_since=None,
                  escalated_at=None, acknowledged_at=NOW - timedelta(minutes=5),
                  acknowledged_by="ana", ack_note="called GP", ack_action="",
                  changed_management=True, resolved_at=None, resolved_by=None)
    r = rows.alert_rows([a], NOW)[0]
    assert r["row_id"] == "7" and r["kind"] == "NEWS2"
    assert r["alert"] == "URGENT\nAck. ana 5 min ago"
    assert r["acknowledged"].startswith("ana, Mon 23 Nov 11:55 GMT: called GP")
