"""The ward view marks overdue and low battery as the alerts engine decides
them (alerts.rules), at the edges of each band's monitoring interval: on the
monitoring band of the latest score and the time of the last complete set,
counted from admission at the earliest; one call of the rule per refresh."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts.device_rules import BATTERY_LOW_PERCENT
from dashboard import rows
from dashboard.queries import WardPatient
from ward import overdue as overdue_rule
from ward.news2_chart import MONITORING_INTERVAL

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADMITTED = NOW - timedelta(days=3)
_BASE = WardPatient(
    patient_id="p", ward_id="w", display_name="P", name="P", time_zone="UTC",
    admitted_at=ADMITTED, score_time=None, total=None, band=None, max_single=None,
    complete=True, missing=[],
    sub_scores=None, inputs=None, spo2_scale=1, overridden=False, overridden_parameters=[],
    adjusted_total=None, adjusted_band=None, input_times=None, stale=None,
    monitoring_band=None, last_complete_set=None, last_reading=None, open_alerts=0,
    acknowledged_alerts=0,
    top_severity=None, alert_kinds=[], devices=1, offline=0, battery=80.0, last_seen=NOW,
    trend=[])


def scored(band: str, ago: timedelta, **kw) -> WardPatient:
    """Latest score a minute ago in ``band``; the last complete set ``ago``."""
    return replace(_BASE, **{"band": band, "total": 1, "score_time": NOW - timedelta(minutes=1),
                             "monitoring_band": band, "last_complete_set": NOW - ago, **kw})


@pytest.mark.parametrize("band", list(MONITORING_INTERVAL))
def test_overdue_only_past_the_bands_interval(band):
    interval = MONITORING_INTERVAL[band]
    assert not rows.is_overdue(scored(band, interval), NOW)  # the engine: strictly after
    assert rows.is_overdue(scored(band, interval + timedelta(microseconds=1)), NOW)


def test_overdue_is_judged_on_the_last_complete_set_not_the_latest_score():
    """A score a minute ago that is incomplete does not reset the clock."""
    p = scored("low", timedelta(hours=5), complete=False)
    assert p.score_time == NOW - timedelta(minutes=1) and rows.is_overdue(p, NOW)


def test_overdue_is_judged_on_the_monitoring_band_not_the_latest_band():
    """The latest score is zero (12 h), but the band since the last complete set is
    medium: an hour without a complete set is overdue."""
    p = scored("zero", timedelta(hours=2), monitoring_band="medium", complete=False)
    assert rows.is_overdue(p, NOW)
    assert not rows.is_overdue(replace(p, monitoring_band=None), NOW)  # old rows: own band


def test_the_adjusted_band_is_the_monitoring_band_of_an_old_row():
    p = scored("medium", timedelta(hours=2), monitoring_band=None, adjusted_band="low",
               adjusted_total=3)
    assert not rows.is_overdue(p, NOW)  # low: 4 h


def test_the_engines_overdue_alert_wins_and_no_other_kind_counts():
    assert rows.is_overdue(scored("zero", timedelta(minutes=1), alert_kinds=["overdue"]), NOW)
    assert not rows.is_overdue(
        scored("zero", timedelta(minutes=1), alert_kinds=["news2", "score_rising"]), NOW)


def test_never_scored_is_overdue_12_h_after_admission_and_naive_times_are_utc():
    assert rows.is_overdue(_BASE, NOW)
    new = replace(_BASE, admitted_at=NOW - timedelta(hours=11))
    assert not rows.is_overdue(new, NOW)
    assert rows.is_overdue(replace(new, admitted_at=NOW - timedelta(hours=12, seconds=1)), NOW)
    naive = scored("high", timedelta(minutes=14))
    naive = replace(naive, last_complete_set=naive.last_complete_set.replace(tzinfo=None))
    assert not rows.is_overdue(naive, NOW)


def test_many_patients_in_one_call_keep_their_order():
    ward = [scored("high", timedelta(minutes=16)), scored("high", timedelta(minutes=1)), _BASE]
    assert rows.overdue(ward, NOW) == [True, False, True]
    assert rows.overdue([], NOW) == []


def test_the_rule_is_called_once_for_the_whole_ward(monkeypatch):
    calls = []
    real = overdue_rule.overdue

    def counted(*args):
        calls.append(len(args[1]))
        return real(*args)

    monkeypatch.setattr(overdue_rule, "overdue", counted)  # the one rule (ward/overdue.py)
    rows.ward_rows([scored("low", timedelta(hours=1)) for _ in range(50)], NOW)
    assert calls == [50]


def test_battery_low_at_the_engines_threshold():
    assert rows.battery_low(BATTERY_LOW_PERCENT)
    assert not rows.battery_low(BATTERY_LOW_PERCENT + 0.1)
    assert not rows.battery_low(None)
