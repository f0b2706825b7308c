"""The ward view marks overdue and low battery as the alerts engine decides
them (alerts.rules), at the edges of each band's monitoring interval."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.news2 import MONITORING_INTERVAL
from alerts.rules import BATTERY_LOW_PERCENT
from dashboard import rows
from dashboard.queries import WardPatient

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_BASE = WardPatient(
    patient_id="p", ward_id="w", name="P", time_zone="UTC", scored_time=None, total=None,
    band=None, max_single=None, complete=True, missing=[], sub_scores=None, inputs=None,
    spo2_scale=1, overridden=False, open_alerts=0, unacknowledged=0, top_severity=None,
    alert_kinds=[], devices=1, offline=0, battery=80.0, last_seen=NOW, trend=[])


def scored(band: str, ago: timedelta, **kw) -> WardPatient:
    return replace(_BASE, band=band, total=1, scored_time=NOW - ago, **kw)


@pytest.mark.parametrize("band", list(MONITORING_INTERVAL))
def test_overdue_only_past_the_bands_interval(band):
    interval = timedelta(seconds=int(MONITORING_INTERVAL[band] / np.timedelta64(1, "s")))
    assert not rows.is_overdue(scored(band, interval), NOW)  # the engine: strictly after
    assert rows.is_overdue(scored(band, interval + timedelta(microseconds=1)), NOW)


def test_the_engines_overdue_alert_wins_and_no_other_kind_counts():
    assert rows.is_overdue(scored("zero", timedelta(minutes=1), alert_kinds=["overdue"]), NOW)
    assert not rows.is_overdue(
        scored("zero", timedelta(minutes=1), alert_kinds=["news2", "score_rising"]), NOW)


def test_never_scored_is_overdue_and_naive_times_are_utc():
    assert rows.is_overdue(_BASE, NOW)
    naive = scored("high", timedelta(minutes=14))
    naive = replace(naive, scored_time=naive.scored_time.replace(tzinfo=None))
    assert not rows.is_overdue(naive, NOW)


def test_many_patients_in_one_call_keep_their_order():
    ward = [scored("high", timedelta(minutes=16)), scored("high", timedelta(minutes=1)), _BASE]
    assert rows.overdue(ward, NOW) == [True, False, True]
    assert rows.overdue([], NOW) == []


def test_battery_low_at_the_engines_threshold():
    assert rows.battery_low(BATTERY_LOW_PERCENT)
    assert not rows.battery_low(BATTERY_LOW_PERCENT + 0.1)
    assert not rows.battery_low(None)
