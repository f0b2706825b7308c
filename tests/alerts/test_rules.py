"""Alert rules and the alert lifecycle: every transition, every boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from alerts.device_rules import battery_low, device_offline, said_offline, silence_start
from alerts.rules import (
    ACK_LAPSE,
    ESCALATE_AFTER,
    HOLD,
    AlertState,
    Severity,
    acknowledge,
    band_alert,
    overdue,
    rise,
    score_rising,
    spo2_falling,
    step,
)

T0 = np.datetime64("2026-11-23T08:00:00", "us")
US = np.timedelta64(1, "us")


def at(minutes: float) -> np.datetime64:
    return T0 + np.timedelta64(int(minutes * 60_000_000), "us")


def times(*minutes: float) -> np.ndarray:
    return np.array([at(m) for m in minutes], dtype="datetime64[us]")


# --- band severity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("band", "max_single", "expected"),
    [
        ("zero", 0, None),
        ("low", 2, Severity.LOW),  # "registered nurse assesses": prompted
        ("low", 3, Severity.URGENT),  # a band computed elsewhere cannot hide a single 3
        ("low-medium", 3, Severity.URGENT),
        ("medium", 2, Severity.URGENT),
        ("medium", 3, Severity.URGENT),
        ("high", 3, Severity.EMERGENCY),
    ],
)
def test_band_alert(band: str, max_single: int, expected: Severity | None) -> None:
    assert band_alert(band, max_single) == expected


def test_severity_order() -> None:
    assert Severity.INFO < Severity.LOW < Severity.URGENT < Severity.EMERGENCY
    assert max(Severity.URGENT, Severity.LOW) is Severity.URGENT


# --- trends -------------------------------------------------------------------------------------


def test_score_rising_per_patient() -> None:
    # patient 0: 1 -> 3 within 6 h; 1: 2 -> 3; 2: 1 (6 h 1 min ago) -> 3; 3: 0 -> 4 -> 1;
    # 4: 1 exactly 6 h ago -> 3; 5: 1 -> 3 in the future; 6: nothing.
    patient = [0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5]
    when = times(0, 300, 0, 300, -1, 300, 0, 100, 300, 0, 300, 0, 400)
    totals = [1, 3, 2, 3, 1, 3, 0, 4, 1, 1, 3, 1, 3]
    rising = score_rising(patient, when, totals, at(360), n_patients=7)
    assert rising.tolist() == [True, False, False, False, True, False, False]


def test_score_rising_custom_thresholds_and_latest_of_ties() -> None:
    # Two totals at the same time: the later in input order is the latest.
    rising = score_rising(
        [0, 0, 0], times(0, 10, 10), [0, 3, 1], at(10), n_patients=1, window=timedelta(hours=1)
    )
    assert rising.tolist() == [False]
    assert score_rising([0, 0], times(0, 10), [0, 1], at(10), n_patients=1, rise=1,
                        to=0).tolist() == [True]


def test_a_rise_that_stays_in_the_low_band_is_not_a_trend_alert() -> None:
    # 0: 0 -> 2 (noise at a band edge, routine monitoring either way); 1: 0 -> 3; 2: 1 -> 3.
    rising = score_rising([0, 0, 1, 1, 2, 2], times(0, 300, 0, 300, 0, 300), [0, 2, 0, 3, 1, 3],
                          at(300), n_patients=3)
    assert rising.tolist() == [False, True, True]


def test_spo2_falling() -> None:
    # 0: 97 -> 94 in 30 min; 1: 97 -> 95; 2: 97 61 min ago -> 93; 3: 97 exactly 1 h ago -> 94;
    # 4: 97 -> NaN -> 94; 5: 94 -> 97 (rising).
    patient = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5]
    when = times(30, 60, 30, 60, -1, 60, 0, 60, 10, 50, 55, 30, 60)
    spo2 = [97, 94, 97, 95, 97, 93, 97, 94, 97, np.nan, 94, 94, 97]
    falling = spo2_falling(patient, when, spo2, at(60), n_patients=6)
    assert falling.tolist() == [True, False, False, True, True, False]


# --- overdue ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("band", "interval"),
    [
        ("zero", np.timedelta64(12, "h")),
        ("low", np.timedelta64(4, "h")),
        ("low-medium", np.timedelta64(1, "h")),
        ("medium", np.timedelta64(1, "h")),
        ("high", np.timedelta64(15, "m")),
    ],
)
def test_overdue_boundary_per_band(band: str, interval: np.timedelta64) -> None:
    last = np.array([T0, T0], dtype="datetime64[us]")
    admitted = np.array([T0 - np.timedelta64(30, "D")] * 2, dtype="datetime64[us]")
    exactly = overdue(last, [band, band], T0 + interval, admitted)
    just_after = overdue(last, [band, band], T0 + interval + US, admitted)
    assert exactly.tolist() == [False, False] and just_after.tolist() == [True, True]


def test_overdue_clock_starts_at_admission() -> None:
    nat = np.datetime64("NaT", "us")
    last = np.array([nat, nat, at(-600), nat, at(0)], dtype="datetime64[us]")
    admitted = np.array([at(0), at(0), at(0), nat, nat], dtype="datetime64[us]")
    band = np.array(["", None, "high", None, "zero"], dtype=object)
    now = at(12 * 60)
    # Never seen: 12 h from admission (exactly 12 h: not yet).  Seen before admission at
    # high band: 15 min from admission.  Nothing known at all: overdue.
    assert overdue(last, band, now, admitted).tolist() == [False, False, True, True, False]
    assert overdue(last, band, now + US, admitted).tolist() == [True, True, True, True, True]


def test_overdue_accepts_an_aware_datetime_and_refuses_unknown_bands() -> None:
    now = datetime(2026, 11, 23, 10, 15, tzinfo=timezone(timedelta(hours=2)))  # 08:15 UTC
    assert overdue([T0], ["high"], now, [T0]).tolist() == [False]
    assert overdue([T0], ["high"], now + timedelta(microseconds=1), [T0]).tolist() == [True]
    with pytest.raises(ValueError, match="unknown band"):
        overdue([T0], ["red"], now, [T0])


# --- technical ----------------------------------------------------------------------------------


def test_device_offline_after_two_missed_reports() -> None:
    last = np.array([at(0), at(0), "NaT", at(50)], dtype="datetime64[us]")
    interval = np.array([30, 30, 30, 5], dtype="timedelta64[m]")
    assert device_offline(last, at(60), interval).tolist() == [False, False, True, False]
    assert device_offline(last, at(60) + US, interval).tolist() == [True, True, True, True]
    assert device_offline(last[:1], at(61), timedelta(minutes=30)).tolist() == [True]


def test_silence_counts_from_the_last_report_or_the_assignment_or_the_registration() -> None:
    nat = np.datetime64("NaT", "us")
    seen = np.array([at(-5), at(-50), nat, nat, nat], dtype="datetime64[us]")
    assigned = times(-100, -10, -300, -10, -300)
    registered = np.array([at(0), at(-400), at(-20), at(-20), nat], dtype="datetime64[us]")
    # seen: the later of the report and the assignment (registration does not matter);
    # never seen: the later of the assignment and the registration.
    assert silence_start(seen, assigned, registered).tolist() == silence_start(
        times(-5, -10, -20, -10, -300), times(-5, -10, -20, -10, -300)).tolist()
    assert silence_start(seen, assigned).tolist() == times(-5, -10, -300, -10, -300).tolist()
    assert device_offline(silence_start(seen, assigned, registered), at(10),
                          timedelta(minutes=15)).tolist() == [False, False, False, False, True]


def test_said_offline_only_while_nothing_came_after_the_will() -> None:
    nat = np.datetime64("NaT", "us")
    online = [0.0, 0.0, 0.0, 1.0, np.nan, 0.0]
    status = np.array([at(0), at(0), at(0), at(0), nat, nat], dtype="datetime64[us]")
    seen = np.array([at(-1), at(0), at(0) + US, at(-1), at(-1), nat], dtype="datetime64[us]")
    assert said_offline(online, status, seen).tolist() == [True, True, False, False, False, False]
    assert said_offline([0.0], status[:1], [nat]).tolist() == [True]  # a will, nothing else


def test_battery_low() -> None:
    levels = [0, 5, 19.9, 20, 20.5, 21, 100, np.nan]
    assert battery_low(levels).tolist() == [True, True, True, True, False, False, False, False]


# --- alert lifecycle ----------------------------------------------------------------------------

S0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
U = Severity.URGENT
E = Severity.EMERGENCY


def minutes(m: float) -> datetime:
    return S0 + timedelta(minutes=m)


def opened(severity: Severity = U, kind: str = "news2") -> AlertState:
    state, events = step(None, severity, S0, kind=kind)
    assert events == ["opened"]
    assert state is not None
    return state


def test_nothing_to_do() -> None:
    assert step(None, None, S0, kind="news2") == (None, [])


def test_open() -> None:
    assert opened(E) == AlertState(
        kind="news2", severity=E, state="open", opened_at=S0, last_notified_severity=E
    )


def test_same_severity_holds_quietly() -> None:
    alert = opened()
    assert step(alert, U, minutes(5), kind="news2") == (alert, [])


def test_rise_escalates_and_needs_a_new_acknowledgement() -> None:
    acked, events = acknowledge(opened(), minutes(2))
    assert events == ["acknowledged"] and acked.acknowledged_at == minutes(2)
    raised, events = step(acked, E, minutes(3), kind="news2")
    assert events == ["escalated"]
    assert raised is not None
    assert (raised.state, raised.severity, raised.acknowledged_at) == ("open", E, None)
    assert (raised.escalated_at, raised.last_notified_severity) == (minutes(3), E)


def test_fall_updates_without_renotifying_and_a_return_notifies_again() -> None:
    """Hazard 3: an emergency acknowledged at 10:02 that falls to urgent and returns to
    emergency at 18:00 notifies again, and needs a new acknowledgement."""
    acked, _ = acknowledge(opened(E), minutes(2))
    lowered, events = step(acked, U, minutes(3), kind="news2")
    assert events == ["updated"]
    assert lowered == replace(acked, severity=U)
    back, events = step(lowered, E, minutes(8 * 60), kind="news2")
    assert events == ["escalated"]
    assert (back.state, back.acknowledged_at, back.escalated_at) == ("open", None,
                                                                      minutes(8 * 60))
    # An acknowledged urgent alert never escalates by time.
    assert step(lowered, U, minutes(600), kind="news2") == (lowered, [])


def test_an_acknowledged_emergency_lapses_at_30_min_boundary_included() -> None:
    acked, _ = acknowledge(opened(E), minutes(2))
    lapse = ACK_LAPSE[E]
    assert lapse == timedelta(minutes=30)
    assert step(acked, E, minutes(2) + lapse - timedelta(microseconds=1), kind="news2") == (
        acked, [])
    again, events = step(acked, E, minutes(2) + lapse, kind="news2")
    assert events == ["escalated"] and again.state == "open" and again.acknowledged_at is None


@pytest.mark.parametrize(("before", "after", "expected"), [
    ((U, "low-medium", {"rr"}), (U, "low-medium", {"rr"}), None),
    ((U, "low-medium", {"rr"}), (U, "medium", {"rr"}), "NEWS2 band rose from low-medium to medium"),
    ((U, "medium", set()), (U, "low-medium", {"rr"}), "new red parameter: rr"),
    ((U, "medium", {"rr"}), (E, "high", {"rr"}), "severity rose from urgent to emergency"),
    ((E, "high", {"rr", "hr"}), (U, "medium", {"rr"}), None),  # falls are not notified
    ((U, "", set()), (U, "medium", {"rr"}), None),  # stored before bands were kept
])
def test_rise(before, after, expected) -> None:
    alert = replace(opened(before[0]), band=before[1], red=frozenset(before[2]))
    assert rise(alert, after[0], after[1], frozenset(after[2])) == expected


def test_unacknowledged_escalates_exactly_at_the_limit_and_again() -> None:
    alert = opened(U)
    limit = ESCALATE_AFTER[U]
    assert limit == timedelta(minutes=15)
    assert step(alert, U, S0 + limit - timedelta(microseconds=1), kind="news2") == (alert, [])
    first, events = step(alert, U, S0 + limit, kind="news2")
    assert events == ["escalated"] and first is not None and first.escalated_at == S0 + limit
    assert step(first, U, S0 + 2 * limit - timedelta(microseconds=1), kind="news2")[1] == []
    second, events = step(first, U, S0 + 2 * limit, kind="news2")
    assert events == ["escalated"] and second is not None and second.escalated_at == S0 + 2 * limit


def test_time_escalation_uses_the_current_severity() -> None:
    lowered, events = step(opened(E), U, minutes(1), kind="news2")
    assert events == ["updated"] and lowered is not None
    assert step(lowered, U, minutes(14), kind="news2")[1] == []
    assert step(lowered, U, minutes(15), kind="news2")[1] == ["escalated"]
    assert step(opened(E), E, minutes(5), kind="news2")[1] == ["escalated"]


def test_lowered_and_due_reports_both_events() -> None:
    alert = opened(E)
    lowered, events = step(alert, U, minutes(20), kind="news2")
    assert events == ["updated", "escalated"]
    assert lowered is not None and lowered.escalated_at == minutes(20)


def test_info_never_escalates_by_time_and_custom_limits() -> None:
    info = opened(Severity.INFO, kind="battery")
    assert step(info, Severity.INFO, minutes(10_000), kind="battery") == (info, [])
    low = opened(Severity.LOW, kind="trend")
    custom = {Severity.LOW: timedelta(minutes=2)}
    assert step(low, Severity.LOW, minutes(2), kind="trend", escalate_after=custom)[1] == [
        "escalated"
    ]


def test_resolves_only_after_staying_clear_for_hold() -> None:
    alert = opened()
    clearing, events = step(alert, None, minutes(10), kind="news2")
    assert events == [] and clearing == replace(alert, clear_since=minutes(10))
    # Unacknowledged but clear: no escalation while clearing.
    almost = minutes(10) + HOLD - timedelta(microseconds=1)
    assert step(clearing, None, almost, kind="news2") == (clearing, [])
    resolved, events = step(clearing, None, minutes(10) + HOLD, kind="news2")
    assert events == ["resolved"] and resolved == replace(clearing, state="resolved")
    assert timedelta(minutes=30) == HOLD


def test_condition_back_while_clearing_restarts_the_hold() -> None:
    acked, _ = acknowledge(opened(), minutes(1))
    clearing, _ = step(acked, None, minutes(10), kind="news2")
    back, events = step(clearing, U, minutes(20), kind="news2")
    assert events == [] and back is not None and back.clear_since is None
    again, _ = step(back, None, minutes(30), kind="news2")
    assert again is not None and again.clear_since == minutes(30)
    assert step(again, None, minutes(50), kind="news2")[1] == []  # 40 min since first clear
    assert step(again, None, minutes(60), kind="news2")[1] == ["resolved"]


def test_custom_hold() -> None:
    clearing, _ = step(opened(), None, minutes(1), kind="news2")
    assert step(clearing, None, minutes(3), kind="news2", hold=timedelta(minutes=2))[1] == [
        "resolved"
    ]


def test_after_resolution_a_new_condition_opens_a_new_alert() -> None:
    resolved = replace(opened(), state="resolved", clear_since=minutes(5))
    assert step(resolved, None, minutes(60), kind="news2") == (resolved, [])
    new, events = step(resolved, E, minutes(60), kind="news2")
    assert events == ["opened"]
    assert new == AlertState(
        kind="news2", severity=E, state="open", opened_at=minutes(60), last_notified_severity=E
    )


def test_acknowledge_only_open_alerts() -> None:
    acked, _ = acknowledge(opened(), minutes(1))
    assert acknowledge(acked, minutes(2)) == (acked, [])
    resolved = replace(opened(), state="resolved")
    assert acknowledge(resolved, minutes(2)) == (resolved, [])


def test_kind_must_match() -> None:
    with pytest.raises(ValueError, match="kind 'news2' stepped as 'overdue'"):
        step(opened(), U, minutes(1), kind="overdue")
