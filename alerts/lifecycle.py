"""Alert transitions from conditions: pure, no I/O, ``now`` passed in.

A *condition* says whether one alert kind holds for one patient (or one of the
patient's devices) and how severe it is.  ``reconcile`` walks the live alerts
and the conditions and returns what must change: alerts to open, update,
escalate or resolve, each with its events and the reason a clinician reads.
The lifecycle itself is ``rules.step``; this module adds the alert kinds, the
late-data rules and the wording.

Late data.  The NEWS2 alert is judged on the score *history* (by measurement
time), so that a backlog of readings leads to the alerts the same readings
would have left live had they arrived on time:

- a deterioration in the backlog that still holds at the latest score opens an alert;
- one that cleared less than the kind's hold ago opens an alert that is already
  clearing (it resolves once the hold has passed since it cleared);
- one that cleared longer ago than the hold raises nothing: that state is long past;
- a live alert whose basis (the score that raised it) was rescored records a
  'reconciled' event, then follows the rewritten history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from alerts import rules
from alerts.rules import AlertState, Severity

# Alert kinds.  Their rules, severities and reasons: docs/alerts.md.
NEWS2 = "news2"
SCORE_RISING = "score_rising"
SPO2_FALLING = "spo2_falling"
OVERDUE = "overdue"
DEVICE_OFFLINE = "device_offline"
BATTERY_LOW = "battery_low"

Category = Literal["clinical", "technical"]


@dataclass(frozen=True, slots=True)
class KindRule:
    category: Category
    hold: timedelta
    title: str


# A complete set ends "overdue" for a whole monitoring interval, so it cannot flap and
# needs no hold: the alert resolves at the next tick after the set arrives.  Every
# other kind hovers at a threshold (a band edge, 20 % battery, a flaky Wi-Fi link)
# and keeps rules.HOLD so that it does not resolve and reopen with every reading.
ALERT_KINDS: dict[str, KindRule] = {
    NEWS2: KindRule("clinical", rules.HOLD, "NEWS2 band"),
    SCORE_RISING: KindRule("clinical", rules.HOLD, "NEWS2 rising"),
    SPO2_FALLING: KindRule("clinical", rules.HOLD, "SpO2 falling"),
    OVERDUE: KindRule("clinical", timedelta(0), "Observations overdue"),
    DEVICE_OFFLINE: KindRule("technical", rules.HOLD, "Device offline"),
    BATTERY_LOW: KindRule("technical", rules.HOLD, "Battery low"),
}

Key = tuple[str, str, str]  # (patient_id, kind, device_id); device_id '' for patient kinds


@dataclass(frozen=True, slots=True)
class Condition:
    """Whether ``kind`` holds for a patient (device) and why.

    severity : None when clear (``reason`` then says what the latest state is)
    condition_time : the measurement time the condition rests on (the score that
        raised it), None when not tied to a reading
    cleared_at : history-judged kinds only: the condition held at ``condition_time``
        and has been clear since ``cleared_at`` (measurement time)
    """

    patient_id: str
    ward_id: str
    kind: str
    severity: Severity | None
    reason: str
    device_id: str = ""
    condition_time: datetime | None = None
    cleared_at: datetime | None = None
    latest: str = ""  # the latest state in words, when it differs from ``reason``

    @property
    def key(self) -> Key:
        return (self.patient_id, self.kind, self.device_id)


@dataclass(frozen=True, slots=True)
class LiveAlert:
    """An open or acknowledged alert as stored."""

    alert_id: int
    patient_id: str
    ward_id: str
    kind: str
    device_id: str
    state: AlertState
    reason: str
    condition_time: datetime | None

    @property
    def key(self) -> Key:
        return (self.patient_id, self.kind, self.device_id)


@dataclass(frozen=True, slots=True)
class Event:
    event: str  # opened, updated, escalated, resolved, reconciled
    reason: str
    detail: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Change:
    """One alert to write: ``alert_id`` None means a new alert."""

    alert_id: int | None
    patient_id: str
    ward_id: str
    kind: str
    category: Category
    device_id: str
    state: AlertState
    reason: str
    condition_time: datetime | None
    events: tuple[Event, ...]


def reconcile(
    live: Iterable[LiveAlert],
    conditions: Iterable[Condition],
    now: datetime,
    *,
    last_resolved_basis: Mapping[Key, datetime | None] | None = None,
    rewritten: Mapping[Key, str] | None = None,
) -> list[Change]:
    """Changes that bring the alerts in line with ``conditions`` at ``now``.

    Only keys with a condition are judged; a live alert without one is left as it is.
    last_resolved_basis : per key, the condition_time of its latest resolved alert, so
        that a condition already alerted on (and resolved, maybe by hand) is not
        reopened from history; a condition that holds at ``now`` always opens.
    rewritten : per key of a live alert whose basis was rescored, what changed.
    """
    by_key = {a.key: a for a in live}
    resolved = last_resolved_basis or {}
    rewrites = rewritten or {}
    changes = []
    for c in conditions:
        if c.kind not in ALERT_KINDS:
            raise ValueError(f"unknown alert kind {c.kind!r}; known: {sorted(ALERT_KINDS)}")
        alert = by_key.get(c.key)
        if alert is None:
            change = _open(c, now, resolved.get(c.key))
        else:
            change = _advance(alert, c, now, rewrites.get(c.key))
        if change is not None:
            changes.append(change)
    return changes


def _open(c: Condition, now: datetime, resolved_basis: datetime | None) -> Change | None:
    rule = ALERT_KINDS[c.kind]
    if c.severity is None:
        return None
    if c.cleared_at is not None:
        if now - c.cleared_at >= rule.hold:
            return None  # long past: it would have resolved by now
        if resolved_basis is not None and c.condition_time is not None \
                and c.condition_time <= resolved_basis:
            return None  # this episode was alerted on and resolved already
    state, events = rules.step(None, c.severity, now, kind=c.kind, hold=rule.hold)
    assert state is not None
    reason = c.reason
    if c.cleared_at is not None:
        state = replace(state, clear_since=c.cleared_at)
        reason = f"{c.reason}; clear since {c.cleared_at:%H:%M} (late readings)"
    detail = _detail(c, severity=c.severity)
    return _change(None, c, state, reason, c.condition_time,
                   tuple(Event(e, reason, detail) for e in events))


def _advance(alert: LiveAlert, c: Condition, now: datetime, rewrite: str | None) -> Change | None:
    rule = ALERT_KINDS[c.kind]
    before = alert.state
    events: list[Event] = []
    if rewrite is not None:
        events.append(Event("reconciled", rewrite, {"condition_time": _iso(alert.condition_time)}))
    if c.severity is not None and c.cleared_at is None:
        state, names = rules.step(before, c.severity, now, kind=c.kind, hold=rule.hold)
        reason, condition_time = c.reason, c.condition_time or alert.condition_time
    else:
        start = before
        if c.cleared_at is not None:  # the history knows when it cleared
            start = replace(before, clear_since=c.cleared_at)
        state, names = rules.step(start, None, now, kind=c.kind, hold=rule.hold)
        reason, condition_time = alert.reason, alert.condition_time
    assert state is not None
    for name in names:
        events.append(_event(name, before, state, c, now, rule))
    if not events and state == before and reason == alert.reason \
            and condition_time == alert.condition_time:
        return None
    return _change(alert.alert_id, c, state, reason, condition_time, tuple(events))


def _event(name: str, before: AlertState, after: AlertState, c: Condition, now: datetime,
           rule: KindRule) -> Event:
    detail = _detail(c, severity=after.severity, previous=before.severity)
    if name == "escalated" and after.severity > before.last_notified_severity:
        text = f"Severity rose to {after.severity.name.lower()}: {c.reason}"
    elif name == "escalated":
        since = before.escalated_at or before.opened_at
        minutes = (now - since).total_seconds() / 60
        text = (f"Not acknowledged for {minutes:.0f} min; notified again. {c.reason}")
        detail["unacknowledged_minutes"] = round(minutes, 1)
    elif name == "updated":
        text = (f"Severity {before.severity.name.lower()} → {after.severity.name.lower()}:"
                f" {c.reason}")
    elif name == "resolved":
        cleared = after.clear_since
        held = f" since {cleared:%Y-%m-%d %H:%M}Z" if cleared is not None else ""
        text = f"{rule.title} clear{held} (held {_minutes(rule.hold)}): {c.latest or c.reason}"
    else:
        text = c.reason
    return Event(name, text, detail)


def _change(alert_id: int | None, c: Condition, state: AlertState, reason: str,
            condition_time: datetime | None, events: tuple[Event, ...]) -> Change:
    return Change(alert_id, c.patient_id, c.ward_id, c.kind, ALERT_KINDS[c.kind].category,
                  c.device_id, state, reason, condition_time, events)


def _detail(c: Condition, *, severity: Severity, previous: Severity | None = None) -> dict:
    detail: dict[str, object] = {"severity": severity.name.lower(),
                                 "condition_time": _iso(c.condition_time)}
    if previous is not None and previous != severity:
        detail["previous_severity"] = previous.name.lower()
    if c.cleared_at is not None:
        detail["cleared_at"] = _iso(c.cleared_at)
    return detail


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def _minutes(d: timedelta) -> str:
    return f"{d.total_seconds() / 60:g} min"


def severity_name(s: Severity) -> str:
    return s.name.lower()


def severity_of(name: str) -> Severity:
    return Severity[name.upper()]
