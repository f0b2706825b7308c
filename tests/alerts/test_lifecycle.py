"""Alert transitions (alerts/lifecycle.py): opening, no duplicates, escalation and hold by an
injected clock, and late data (backlogs, rewritten history)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts.lifecycle import (
    ALERT_KINDS,
    BATTERY_LOW,
    NEWS2,
    OVERDUE,
    SCORE_RISING,
    Change,
    Condition,
    LiveAlert,
    Resolved,
    reconcile,
)
from alerts.rules import ACK_LAPSE, ESCALATE_AFTER, HOLD, Severity

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cond(severity: Severity | None, *, kind: str = NEWS2, patient: str = "p1",
         condition_time: datetime | None = None, cleared_at: datetime | None = None,
         reason: str = "NEWS2 7 (high)", band: str = "",
         red: frozenset[str] = frozenset()) -> Condition:
    return Condition(patient, "w1", kind, severity, reason, condition_time=condition_time,
                     cleared_at=cleared_at, latest="now NEWS2 1 (low)", band=band, red=red)


def live_from(change: Change, alert_id: int = 1) -> LiveAlert:
    return LiveAlert(change.alert_id or alert_id, change.patient_id, change.ward_id, change.kind,
                     change.device_id, change.state, change.reason, change.condition_time)


def run(alerts: list[LiveAlert], conditions: list[Condition], minutes: float,
        **kw) -> tuple[list[LiveAlert], list[str]]:
    """One reconcile at ``at(minutes)``: the live alerts after it and the events."""
    changes = reconcile(alerts, conditions, at(minutes), **kw)
    by_key = {a.key: a for a in alerts}
    events = []
    for c in changes:
        events += [e.event for e in c.events]
        alert = live_from(c, alert_id=len(by_key) + 1)
        if c.state.state == "resolved":
            by_key.pop(alert.key, None)
        else:
            by_key[alert.key] = alert
    return list(by_key.values()), events


def test_a_condition_opens_one_alert_and_repeating_it_adds_none() -> None:
    alerts, events = run([], [cond(Severity.EMERGENCY, condition_time=at(0))], 0)
    assert events == ["opened"] and len(alerts) == 1
    assert alerts[0].state.severity == Severity.EMERGENCY and alerts[0].state.state == "open"
    alerts, events = run(alerts, [cond(Severity.EMERGENCY, condition_time=at(1))], 1)
    assert events == [] and len(alerts) == 1
    assert alerts[0].condition_time == at(1)  # the basis follows the latest score


def test_no_condition_no_alert_and_an_unjudged_live_alert_is_left_alone() -> None:
    assert reconcile([], [cond(None)], at(0)) == []
    alerts, _ = run([], [cond(Severity.URGENT)], 0)
    assert reconcile(alerts, [], at(500)) == []


def test_escalation_by_clock_then_acknowledged_alerts_do_not_escalate() -> None:
    alerts, _ = run([], [cond(Severity.EMERGENCY)], 0)
    limit = ESCALATE_AFTER[Severity.EMERGENCY].total_seconds() / 60
    alerts, events = run(alerts, [cond(Severity.EMERGENCY)], limit - 0.01)
    assert events == []
    alerts, events = run(alerts, [cond(Severity.EMERGENCY)], limit)
    assert events == ["escalated"]
    change = reconcile(alerts, [cond(Severity.EMERGENCY)], at(2 * limit))[0]
    assert "Not acknowledged for 5 min" in change.events[0].reason
    acknowledged = [replace(alerts[0], state=replace(alerts[0].state, state="acknowledged",
                                                     acknowledged_at=at(limit + 1)))]
    _, events = run(acknowledged, [cond(Severity.URGENT)], 10 * limit)
    assert events == ["updated"]  # acknowledged and falling: recorded, nobody paged


def test_an_acknowledged_emergency_that_still_holds_is_notified_again_after_30_min() -> None:
    """Hazard 3: acknowledged is not resolved."""
    alerts, _ = run([], [cond(Severity.EMERGENCY)], 0)
    acked = [replace(alerts[0], state=replace(alerts[0].state, state="acknowledged",
                                              acknowledged_at=at(2)))]
    lapse = ACK_LAPSE[Severity.EMERGENCY].total_seconds() / 60
    _, events = run(acked, [cond(Severity.EMERGENCY)], 2 + lapse - 0.01)
    assert events == []
    [change] = reconcile(acked, [cond(Severity.EMERGENCY)], at(2 + lapse))
    assert [e.event for e in change.events] == ["escalated"]
    assert change.state.state == "open" and change.state.acknowledged_at is None
    assert "Acknowledged 30 min ago and still emergency" in change.events[0].reason
    # An acknowledged urgent alert does not lapse: only an emergency demands it.
    urgent, _ = run([], [cond(Severity.URGENT)], 0)
    urgent = [replace(urgent[0], state=replace(urgent[0].state, state="acknowledged",
                                               acknowledged_at=at(1)))]
    _, events = run(urgent, [cond(Severity.URGENT)], 600)
    assert events == []


def test_higher_severity_renotifies_even_when_acknowledged_and_lower_only_updates() -> None:
    alerts, _ = run([], [cond(Severity.URGENT)], 0)
    alerts = [replace(alerts[0], state=replace(alerts[0].state, state="acknowledged",
                                               acknowledged_at=at(1)))]
    alerts, events = run(alerts, [cond(Severity.EMERGENCY)], 2)
    assert events == ["escalated"] and alerts[0].state.state == "open"
    alerts, events = run(alerts, [cond(Severity.URGENT)], 3)
    assert events == ["updated"] and alerts[0].state.severity == Severity.URGENT


def test_resolution_only_after_the_hold() -> None:
    alerts, _ = run([], [cond(Severity.URGENT)], 0)
    alerts = [replace(alerts[0], state=replace(alerts[0].state, state="acknowledged",
                                               acknowledged_at=at(1)))]
    alerts, events = run(alerts, [cond(None)], 10)  # clear: the hold starts
    assert events == [] and alerts[0].state.clear_since == at(10)
    hold = HOLD.total_seconds() / 60
    alerts, events = run(alerts, [cond(None)], 10 + hold - 0.01)
    assert events == []
    alerts, events = run(alerts, [cond(Severity.URGENT)], 10 + hold - 0.005)  # back: reset
    assert events == [] and alerts[0].state.clear_since is None
    alerts, _ = run(alerts, [cond(None)], 50)
    alerts, events = run(alerts, [cond(None)], 50 + hold)
    assert events == ["resolved"] and alerts == []


def test_overdue_resolves_at_once_without_a_hold() -> None:
    assert ALERT_KINDS[OVERDUE].hold == timedelta(0)
    alerts, _ = run([], [cond(Severity.LOW, kind=OVERDUE)], 0)
    alerts, events = run(alerts, [cond(None, kind=OVERDUE)], 1)
    assert events == ["resolved"] and alerts == []


def test_info_never_escalates_by_time() -> None:
    alerts, _ = run([], [cond(Severity.INFO, kind=BATTERY_LOW)], 0)
    _, events = run(alerts, [cond(Severity.INFO, kind=BATTERY_LOW)], 24 * 60)
    assert events == []


# --- late data ---------------------------------------------------------------------------------


def test_backlog_state_that_cleared_longer_than_the_hold_ago_raises_nothing() -> None:
    c = cond(Severity.EMERGENCY, condition_time=at(0), cleared_at=at(10))
    assert reconcile([], [c], at(10) + HOLD) == []


def test_backlog_state_that_cleared_recently_opens_an_alert_already_clearing() -> None:
    c = cond(Severity.EMERGENCY, condition_time=at(0), cleared_at=at(10))
    [change] = reconcile([], [c], at(20))
    assert [e.event for e in change.events] == ["opened"]
    assert change.state.clear_since == at(10) and "clear since 08:10" in change.reason
    alerts = [live_from(change)]
    _, events = run(alerts, [cond(None)], 10 + HOLD.total_seconds() / 60)
    assert events == ["resolved"]


def test_backlog_state_already_resolved_is_not_reopened_from_history() -> None:
    c = cond(Severity.URGENT, condition_time=at(0), cleared_at=at(10))
    resolved = {("p1", NEWS2, ""): Resolved(at(0), episode_over=False)}
    assert reconcile([], [c], at(12), resolved=resolved) == []
    newer = cond(Severity.URGENT, condition_time=at(11), cleared_at=at(12))
    assert len(reconcile([], [newer], at(13), resolved=resolved)) == 1
    holding = cond(Severity.URGENT, condition_time=at(0))  # holds now: always opens
    assert len(reconcile([], [holding], at(12), resolved=resolved)) == 1


def test_a_steady_low_band_is_alerted_once_per_episode() -> None:
    """Hazard 6: rising into low prompts an assessment; once it is dealt with (resolved
    by hand), the same low episode does not re-alert; a new one, after a complete set
    back in the zero band, does; urgent or worse always reopens."""
    low = cond(Severity.LOW, condition_time=at(30), band="low")
    assert [e.event for e in reconcile([], [low], at(30))[0].events] == ["opened"]
    same_episode = {("p1", NEWS2, ""): Resolved(at(20), episode_over=False)}
    assert reconcile([], [low], at(30), resolved=same_episode) == []
    new_episode = {("p1", NEWS2, ""): Resolved(at(20), episode_over=True)}
    assert len(reconcile([], [low], at(30), resolved=new_episode)) == 1
    urgent = cond(Severity.URGENT, condition_time=at(30), band="medium")
    assert len(reconcile([], [urgent], at(30), resolved=same_episode)) == 1


def test_a_rise_in_band_or_a_new_red_parameter_notifies_again_even_when_acknowledged() -> None:
    """Hazard 3: an acknowledged urgent RR 26 that becomes NEWS2 6 with a second red
    parameter is notified, with an event, not only a rewritten reason."""
    alerts, _ = run([], [cond(Severity.URGENT, band="low-medium", red=frozenset({"rr"}))], 0)
    acked = [replace(alerts[0], state=replace(alerts[0].state, state="acknowledged",
                                              acknowledged_at=at(1)))]
    [change] = reconcile(acked, [cond(Severity.URGENT, band="medium",
                                      red=frozenset({"rr"}))], at(2))
    assert [e.event for e in change.events] == ["escalated"]
    assert change.state.state == "open" and "band rose from low-medium to medium" in \
        change.events[0].reason
    [change] = reconcile(acked, [cond(Severity.URGENT, band="low-medium",
                                      red=frozenset({"rr", "hr"}))], at(2))
    assert [e.event for e in change.events] == ["escalated"]
    assert "New red parameter: hr" in change.events[0].reason


def test_every_change_of_reason_is_an_event() -> None:
    alerts, _ = run([], [cond(Severity.LOW, kind=SCORE_RISING, reason="rose from 1 to 3")], 0)
    [change] = reconcile(alerts, [cond(Severity.LOW, kind=SCORE_RISING,
                                       reason="rose from 1 to 4")], at(1))
    assert [(e.event, e.reason) for e in change.events] == [("updated", "Now: rose from 1 to 4")]
    # news2 keeps a stable reason while nothing changes that is notified or recorded.
    alerts, _ = run([], [cond(Severity.URGENT, band="medium", reason="NEWS2 5 at 08:00")], 0)
    changes = reconcile(alerts, [cond(Severity.URGENT, band="medium", reason="NEWS2 6 at 08:01",
                                      condition_time=at(1))], at(1))
    assert [c.events for c in changes] == [()] and changes[0].reason == "NEWS2 5 at 08:00"


def test_history_clear_time_replaces_the_wall_clock_one() -> None:
    alerts, _ = run([], [cond(Severity.URGENT, condition_time=at(0))], 0)
    c = cond(Severity.URGENT, condition_time=at(0), cleared_at=at(1))
    alerts, events = run(alerts, [c], 31)  # scored late: it cleared at 1, 30 min ago
    assert events == ["resolved"]


def test_rewritten_basis_records_reconciled_then_follows_the_new_history() -> None:
    alerts, _ = run([], [cond(Severity.EMERGENCY, condition_time=at(0))], 0)
    key = alerts[0].key
    [change] = reconcile(alerts, [cond(None, reason="NEWS2 2 (low)")], at(5),
                         rewritten={key: "NEWS2 at 08:00 was 7 (high), now 2 (low)"})
    assert [e.event for e in change.events] == ["reconciled"]
    assert change.events[0].reason.startswith("NEWS2 at 08:00 was 7")
    assert change.state.state == "open" and change.state.clear_since == at(5)
    assert change.reason == alerts[0].reason  # why it fired stays on record


def test_events_carry_reasons_and_details() -> None:
    alerts, _ = run([], [cond(Severity.URGENT, reason="NEWS2 5 (medium)")], 0)
    [change] = reconcile(alerts, [cond(Severity.EMERGENCY, reason="NEWS2 8 (high)")], at(1))
    [event] = change.events
    assert event.event == "escalated"
    assert event.reason == "Severity rose from urgent to emergency: NEWS2 8 (high)"
    assert event.detail["previous_severity"] == "urgent"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown alert kind"):
        reconcile([], [cond(Severity.LOW, kind="nonsense")], at(0))
