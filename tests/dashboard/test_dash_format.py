"""Pure text and time helpers: how long ago, local time across the clock
changes, vital-sign text, time-axis ticks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from dashboard import format as fmt

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=3), "just now"),
    (timedelta(seconds=40), "40 s ago"),
    (timedelta(minutes=5, seconds=59), "5 min ago"),
    (timedelta(hours=2, minutes=5), "2 h 5 min ago"),
    (timedelta(hours=5, minutes=59), "5 h 59 min ago"),
    (timedelta(hours=13), "13 h ago"),
    (timedelta(hours=13, minutes=20), "13 h ago"),  # minutes only in the first 6 h
    (timedelta(days=1, hours=3), "1 d 3 h ago"),
    (timedelta(days=2, hours=23, minutes=59), "2 d 23 h ago"),
    (timedelta(days=9), "9 d ago"),
    (timedelta(days=10, hours=23), "10 d ago"),  # hours only in the first 3 d
])
def test_ago_reads_like_a_clinician_speaks(delta, text):
    assert fmt.ago(NOW - delta, NOW) == text


def test_ago_of_nothing_and_of_a_clock_ahead():
    assert fmt.ago(None, NOW) == "never"
    assert fmt.ago(NOW + timedelta(seconds=30), NOW) == "just now"
    assert fmt.ago(NOW + timedelta(minutes=5), NOW) == "in 5 min (clock ahead)"


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        fmt.ago(datetime(2026, 1, 1), NOW)


def test_the_repeated_hour_of_autumn_is_told_apart_by_its_zone():
    # 25 Oct 2026: London goes from BST (+1) back to GMT at 02:00 BST = 01:00 UTC.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)   # 01:30 BST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT
    assert fmt.local_text(first, "Europe/London") == "Sun 25 Oct 01:30 BST"
    assert fmt.local_text(second, "Europe/London") == "Sun 25 Oct 01:30 GMT"


def test_spring_forward_and_other_zones():
    # 29 Mar 2026 01:00 UTC: 01:00 GMT becomes 02:00 BST.
    assert fmt.local_text(datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "Europe/London",
                          date=False) == "00:59 GMT"
    assert fmt.local_text(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "Europe/London",
                          date=False) == "02:00 BST"
    assert fmt.to_local(NOW, "America/New_York").hour == 7


def test_an_unknown_zone_falls_back_to_utc_and_says_so():
    assert fmt.local_text(NOW, "Mars/Olympus") == "Mon 23 Nov 12:00 UTC"
    assert fmt.local_text(None, "Europe/London") == "—"


def test_ticks_across_the_autumn_change_label_both_one_oclocks():
    start = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 00:00 BST
    end = datetime(2026, 10, 25, 4, 0, tzinfo=UTC)     # 04:00 GMT
    ticks = fmt.local_ticks(start, end, "Europe/London", target=8)
    labels = [label.split("<br>")[0] for _, label in ticks]
    assert labels == ["00:00 BST", "01:00", "01:00 GMT", "02:00", "03:00", "04:00"]
    positions = [t for t, _ in ticks]
    assert positions == sorted(positions)  # real time runs forward, one hour apart
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(positions))
    assert all(t.tzinfo is None for t in positions)  # naive UTC, as plotly wants


def test_ticks_across_the_spring_change_skip_the_missing_hour():
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 23:00 GMT
    end = datetime(2026, 3, 29, 3, 0, tzinfo=UTC)     # 04:00 BST
    labels = [label.split("<br>")[0] for _, label in
              fmt.local_ticks(start, end, "Europe/London", target=4)]
    assert "01:00" not in labels and "01:00 GMT" not in labels
    assert labels == ["23:00 GMT", "00:00", "02:00 BST", "03:00", "04:00"]


def test_long_ranges_tick_at_local_midnight():
    start = datetime(2026, 10, 20, tzinfo=UTC)
    end = datetime(2026, 10, 30, tzinfo=UTC)
    ticks = fmt.local_ticks(start, end, "Europe/London", target=8)
    assert fmt.tick_step(end - start, 8) == timedelta(days=2)
    for position, _ in ticks:
        local = position.replace(tzinfo=UTC).astimezone(fmt.zone("Europe/London"))
        assert (local.hour, local.minute) == (0, 0)
    assert fmt.local_ticks(end, start, "Europe/London") == []


@pytest.mark.parametrize(("parameter", "value", "text"), [
    ("respiratory_rate", 18.0, "18"), ("spo2", 95.4, "95"), ("on_oxygen", 1.0, "O₂"),
    ("on_oxygen", 0.0, "Air"), ("consciousness", 0.0, "A"), ("consciousness", 1.0, "C"),
    ("consciousness", 4.0, "U"), ("temperature", 37.25, "37.2"), ("heart_rate", None, ""),
    ("systolic_bp", float("nan"), ""), ("breathlessness", 1.0, "Yes"),
    ("breathlessness", 0.0, "No"),
])
def test_vital_text(parameter, value, text):
    assert fmt.vital_text(parameter, value) == text


def test_kind_and_duration_text():
    assert fmt.kind_text("news2") == "NEWS2"
    assert fmt.kind_text("spo2_falling") == "SpO2 falling"
    assert fmt.kind_text("device_offline") == "Device offline"
    assert fmt.duration_text(None) == "—"
    assert fmt.duration_text(120) == "2 min"
    assert fmt.duration_text(12 * 3600 + 59) == "12 h"
    assert fmt.duration_text(10 * 86400 + 23 * 3600) == "10 d"
    assert fmt.battery_text(12.4) == "12 %"


def test_new_alert_kinds_read_as_words():
    assert fmt.kind_text("retrospective") == "Found in late readings"
    assert fmt.kind_text("review_due") == "Setting review due"
    assert fmt.kind_text("scoring_failed") == "Scoring failed"
    assert fmt.kind_text("overdue") == "Observations overdue"
    assert fmt.kind_text("spo2_low") == "SpO2 low"  # a kind the engine does not know


@pytest.mark.parametrize(("age", "text"), [
    (None, ""), (timedelta(seconds=59), "<1 min"), (timedelta(minutes=1), "1 min"),
    (timedelta(minutes=59, seconds=59), "59 min"), (timedelta(hours=1), "1 h"),
    (timedelta(hours=11, minutes=59), "11 h"), (timedelta(days=1), "1 d"),
    (timedelta(days=3, hours=23), "3 d"),
])
def test_a_values_age_in_a_grid_cell(age, text):
    assert fmt.age_text(age) == text
