"""The ward view's rows: sickest first by the effective band, values
coloured by sub-score with their own ages (stale ones greyed), the true NEWS2
with an adjusted score only beside it, incomplete and overdue marked plainly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dashboard import rows
from dashboard.queries import AlertItem, WardPatient
from ward.news2_chart import MONITORING_INTERVAL

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SCORED = NOW - timedelta(minutes=10)


def patient(pid: str, total: int | None, band: str | None, **kw) -> WardPatient:
    """A ward row as the query returns it: scored 10 min ago, every value measured
    then, the set complete (the last complete set is this one)."""
    scored = total is not None
    base = WardPatient(
        patient_id=pid, ward_id="w", display_name=pid.title(), name=pid.title(),
        time_zone="Europe/London", admitted_at=NOW - timedelta(days=2),
        score_time=SCORED if scored else None, total=total,
        band=band, max_single=None, complete=True if scored else None, missing=[],
        sub_scores=[0, 1, 0, 0, 0, 0, 3] if scored else None,
        inputs=[18, 95, 0, 120, 80, 0, 34.8] if scored else None,
        spo2_scale=1 if scored else None, overridden=False, overridden_parameters=[],
        adjusted_total=None, adjusted_band=None,
        input_times=[SCORED] * 7 if scored else None, stale=[] if scored else None,
        monitoring_band=band, last_complete_set=SCORED if scored else None,
        last_reading=SCORED if scored else None,
        open_alerts=0, acknowledged_alerts=0, top_severity=None, alert_kinds=[], devices=1,
        offline=0, battery=80.0, last_seen=NOW, trend=[0, 1, None, 4])
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
    alerted = patient("alerted", 2, "low", acknowledged_alerts=1, top_severity="low",
                      alert_kinds=["score_rising"])
    late = patient("late", 2, "low", last_complete_set=NOW - timedelta(hours=5))
    order = [r["patient_id"] for r in rows.ward_rows([calm, late, alerted], NOW)]
    assert order == ["alerted", "late", "calm"]


def test_overdue_follows_the_band_monitoring_interval():
    def done(band, ago, **kw):
        return patient("a", 1, band, last_complete_set=NOW - ago, **kw)

    assert not rows.is_overdue(done("zero", timedelta(hours=11)), NOW)
    assert rows.is_overdue(done("zero", timedelta(hours=13)), NOW)
    assert rows.is_overdue(done("high", timedelta(minutes=16)), NOW)
    assert rows.is_overdue(patient("a", 1, "low", alert_kinds=["overdue"]), NOW)
    assert rows.is_overdue(patient("a", None, None), NOW)  # admitted 2 days ago, no score


def test_a_row_carries_values_sub_scores_and_plain_flags():
    t = SCORED
    p = patient("p", 4, "low", complete=False, missing=["systolic_bp", "temperature"],
                inputs=[18, 95, 0, None, 80, 0, None], sub_scores=[0, 1, 0, -1, 0, 0, -1],
                input_times=[t, t, t, None, t, t, None], last_complete_set=NOW - timedelta(hours=1),
                spo2_scale=2, open_alerts=1, acknowledged_alerts=1, top_severity="urgent",
                alert_kinds=["news2", "battery_low"], battery=12.0)
    r = rows.ward_rows([p], NOW)[0]
    assert r["score"] == "4+ Low" and r["incomplete"]
    assert (r["rr"], r["rr_s"], r["rr_stale"]) == ("18 · 10 min", 0, False)
    assert (r["spo2"], r["spo2_s"]) == ("95 (S2) · 10 min", 1)
    assert (r["sbp"], r["sbp_s"], r["sbp_stale"]) == ("", -1, False)
    assert "missing" in r["sbp_tip"]
    assert r["o2"] == "Air · 10 min" and r["acvpu"] == "A · 10 min"
    assert r["flags"] == "Incomplete: no SBP, Temp"
    assert r["measured"] == "1 h ago" and "GMT" in r["measured_at"]
    assert r["alerts"] == "URGENT +1" and r["alert_new"]
    assert "NEWS2, Battery low" in r["alert_detail"]
    assert r["devices"] == "online · 12 % LOW" and r["device_problem"]
    assert r["trend"].startswith("M") and r["href"] == "/patient/p"


def test_a_patient_without_a_score_says_so():
    r = rows.ward_rows([patient("new", None, None, devices=0)], NOW)[0]
    assert r["score"] == "No score" and r["band"] == "none"
    assert r["flags"] == "NO SCORE" and r["measured"] == "never"
    assert r["overdue"]  # admitted two days ago: the engine's 12 h from admission
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
                  changed_management=True, resolved_at=None, resolved_by=None, band="medium",
                  red=[], resolve_note=None, ack_via="link:email")
    r = rows.alert_rows([a], NOW)[0]
    assert r["row_id"] == "7" and r["kind"] == "NEWS2"
    assert r["alert"] == "URGENT\nAck. ana 5 min ago"
    assert r["acknowledged"].startswith(
        "ana, Mon 23 Nov 11:55 GMT, from the email link: called GP")


# ---------------------------------------------------------------- ages and stale values


def test_each_value_shows_its_own_age_and_stale_ones_are_grey():
    """Finding 8: the latest score is 10 min old, but blood pressure, temperature and
    consciousness were measured 11 h before it.  Each value says its own age; the
    low band's 4-hourly monitoring makes the old ones stale: greyed (is-stale, set
    from the row), and the set is incomplete."""
    t, old = SCORED, SCORED - timedelta(hours=11)
    p = patient("p", 2, "low", complete=False, sub_scores=[0, 1, 0, 0, 1, 0, 0],
                inputs=[18, 95, 0, 125, 92, 0, 37.1],
                input_times=[t, t, t, old, t, old, old],
                stale=["systolic_bp", "consciousness", "temperature"],
                last_complete_set=NOW - timedelta(hours=7))
    r = rows.ward_rows([p], NOW)[0]
    assert (r["spo2"], r["spo2_stale"]) == ("95 · 10 min", False)
    assert (r["sbp"], r["sbp_stale"]) == ("125 · 11 h", True)
    assert (r["temp"], r["temp_stale"], r["acvpu_stale"]) == ("37.1 · 11 h", True, True)
    assert r["sbp_s"] == 0 and r["hr_s"] == 1  # still coloured by sub-score, still counted
    assert "STALE" in r["sbp_tip"] and "4 h" in r["sbp_tip"] and "GMT" in r["sbp_tip"]
    assert "STALE" not in r["spo2_tip"]
    assert r["flags"] == "OVERDUE · Incomplete: stale SBP, ACVPU, Temp"
    assert r["measured"] == "7 h ago"  # the last complete set, not the latest score
    assert "latest score" in r["measured_at"]


@pytest.mark.parametrize("band", list(MONITORING_INTERVAL))
def test_a_value_exactly_at_its_interval_is_not_stale_one_microsecond_more_is(band):
    """As the engine judges (alerts/scoring.py: age > interval); counted to now, so a
    value the stored score called fresh goes grey once the interval has passed."""
    interval = MONITORING_INTERVAL[band]
    at_edge = NOW - interval
    just_over = NOW - interval - timedelta(microseconds=1)
    p = patient("p", 1, band, input_times=[at_edge, just_over, at_edge, at_edge, at_edge,
                                           at_edge, at_edge])
    r = rows.ward_rows([p], NOW)[0]
    assert r["rr_stale"] is False and r["spo2_stale"] is True


def test_the_stored_stale_flag_stands_whatever_the_clock():
    p = patient("p", 1, "low", stale=["heart_rate"])  # the engine judged it stale
    r = rows.ward_rows([p], NOW)[0]
    assert r["hr_stale"] is True and r["rr_stale"] is False


def test_a_missing_value_has_no_age_and_is_not_stale():
    p = patient("p", 1, "low", complete=False, missing=["temperature"],
                inputs=[18, 95, 0, 120, 80, 0, None], sub_scores=[0, 1, 0, 0, 0, 0, -1],
                input_times=[SCORED] * 6 + [None])
    r = rows.ward_rows([p], NOW)[0]
    assert (r["temp"], r["temp_s"], r["temp_stale"]) == ("", -1, False)


def test_scores_from_before_measurement_times_were_kept_show_values_without_ages():
    """Rows scored before migration 005: input_times '{}', no monitoring band (read as
    the own band).  Values show, with no age and a tooltip that says so."""
    p = patient("p", 1, "low", input_times=[], monitoring_band=None)
    r = rows.ward_rows([p], NOW)[0]
    assert (r["rr"], r["rr_stale"]) == ("18", False)
    assert "not recorded" in r["rr_tip"]
    assert r["score"] == "1 Low" and r["band"] == "low"


# ---------------------------------------------------------------- effective band, adjusted


def test_a_value_that_aged_out_never_lowers_a_patient():
    """The latest score fell to 1 (low) only because values aged out of the set; the
    medium band since the last complete set is what the row shows, and its place."""
    aged = patient("aged", 1, "low", complete=False, monitoring_band="medium",
                   stale=["respiratory_rate"], last_complete_set=NOW - timedelta(minutes=50))
    steady = patient("steady", 4, "low")
    lowmed = patient("lowmed", 3, "low-medium")
    grid = rows.ward_rows([steady, lowmed, aged], NOW)
    assert [r["patient_id"] for r in grid] == ["aged", "lowmed", "steady"]
    r = grid[0]
    assert r["band"] == "medium" and r["score"] == "Medium · now 1+"
    assert "Medium held until a complete set" in r["flags"]
    assert "since the last complete set" in r["score_detail"]
    assert rows.band_summary(grid)["medium"] == 1


def test_an_adjusted_score_is_labelled_and_never_shown_as_news2():
    """The true NEWS2 (6, medium) comes first; the adjusted score (3, low), which
    alerts follow and whose band the cell shows, only beside it as 'adj.'."""
    p = patient("p", 6, "medium", sub_scores=[2, 1, 0, 0, 2, 0, 1], adjusted_total=3,
                adjusted_band="low", monitoring_band="low", overridden=True,
                overridden_parameters=["heart_rate"])
    r = rows.ward_rows([p], NOW)[0]
    assert r["score"] == "6 (adj. 3) Low" and r["total"] == 6 and r["adjusted_total"] == 3
    assert r["band"] == "low"
    assert r["hr_s"] == 2  # the true sub-score colours the value
    assert "NEWS2 6 (medium)" in r["score_detail"]
    assert "Adjusted 3 (low)" in r["score_detail"] and "HR" in r["score_detail"]
    assert "Adjusted by accepted range: 3 Low" in r["flags"]
    incomplete = replace(p, complete=False)
    assert rows.ward_rows([incomplete], NOW)[0]["score"] == "6+ (adj. 3+) Low"


def test_a_patient_red_by_the_wards_protocol_ranks_with_the_high_band():
    """H64: SpO2 92 % on a COVID-19 oximetry ward (an emergency spo2_level alert, still
    live once acknowledged) with NEWS2 low sorts with the high band, not the well."""
    red = patient("red", 2, "low", acknowledged_alerts=1, top_severity="emergency",
                  alert_kinds=["spo2_level"], protocol="covid-oximetry",
                  protocol_severity="emergency")
    amber = patient("amber", 1, "low", open_alerts=1, top_severity="urgent",
                    alert_kinds=["spo2_level"], protocol="covid-oximetry",
                    protocol_severity="urgent")
    ward = [patient("low4", 4, "low"), amber, patient("medium", 5, "medium"), red,
            patient("lowmed", 3, "low-medium")]
    order = [r["patient_id"] for r in rows.ward_rows(ward, NOW)]
    assert order == ["red", "medium", "lowmed", "amber", "low4"]
