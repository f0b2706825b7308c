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
from ward import durations, protocols
from ward.severity import severity_name as severity_name  # stored names: ward/severity.py
from ward.severity import severity_of as severity_of

# Alert kinds.  Their rules, severities and reasons: docs/alerts.md.
NEWS2 = "news2"
SCORE_RISING = "score_rising"
SPO2_FALLING = "spo2_falling"
OVERDUE = "overdue"
DEVICE_OFFLINE = "device_offline"
BATTERY_LOW = "battery_low"
RETROSPECTIVE = "retrospective"
REVIEW_DUE = "review_due"
SCORING_FAILED = "scoring_failed"
NOTIFICATION_FAILED = "notification_failed"  # raised by notify/ through alerts.raised

Category = Literal["clinical", "technical"]


@dataclass(frozen=True, slots=True)
class KindRule:
    """category : the dashboard keeps clinical and technical alerts apart
    hold : how long the condition must stay clear before the alert resolves
    title : the kind in words
    stable_reason : the alert keeps its reason (why it fired) until its severity, band or
        red parameters change, so a score every minute does not rewrite it; otherwise
        every change of the condition's words is recorded as an 'updated' event
    once_per_basis : a condition whose ``condition_time`` is no later than that of the
        kind's latest resolved alert was dealt with (reviewed): never reopened
    """

    category: Category
    hold: timedelta
    title: str
    stable_reason: bool = False
    once_per_basis: bool = False


# A complete set ends "overdue" for a whole monitoring interval, so it cannot flap and
# needs no hold: the alert resolves at the next tick after the set arrives; a renewed
# setting and a patient scored again are as definite.  Every other kind hovers at a
# threshold (a band edge, 20 % battery, a flaky Wi-Fi link) and keeps rules.HOLD so
# that it does not resolve and reopen with every reading.  A retrospective alert
# holds until a clinician resolves it: what it reports is over, not reviewed.
ALERT_KINDS: dict[str, KindRule] = {
    NEWS2: KindRule("clinical", rules.HOLD, "NEWS2 band", stable_reason=True),
    SCORE_RISING: KindRule("clinical", rules.HOLD, "NEWS2 rising"),
    SPO2_FALLING: KindRule("clinical", rules.HOLD, "SpO2 falling"),
    OVERDUE: KindRule("clinical", timedelta(0), "Observations overdue"),
    RETROSPECTIVE: KindRule("clinical", rules.HOLD, "Found in late readings",
                            once_per_basis=True),
    REVIEW_DUE: KindRule("clinical", timedelta(0), "Setting review due", once_per_basis=True),
    DEVICE_OFFLINE: KindRule("technical", rules.HOLD, "Device offline"),
    BATTERY_LOW: KindRule("technical", rules.HOLD, "Battery low"),
    SCORING_FAILED: KindRule("technical", timedelta(0), "Scoring failed"),
    NOTIFICATION_FAILED: KindRule("technical", timedelta(0), "Notification failed"),
    # A ward protocol's own alerts (ward/protocols.py): they hover at a threshold too.
    **{kind: KindRule("clinical", rules.HOLD, title)
       for kind, title in protocols.ALERT_TITLES.items()},
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
    band, red : what a rise is judged on (rules.rise): the NEWS2 band ('' for kinds
        without one) and the parameters scoring 3 (None: not known from the data at
        hand, the alert keeps the ones it has)
    renotify : new information to notify even at the same severity (a newly found
        retrospective episode), when ``condition_time`` is later than the alert's
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
    band: str = ""
    red: frozenset[str] | None = frozenset()
    renotify: bool = False

    @property
    def key(self) -> Key:
        return (self.patient_id, self.kind, self.device_id)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The latest resolved alert of a key, as far as reopening is concerned.

    basis : its condition_time (the latest score or lapse it stood on)
    episode_over : news2 only: a complete set in the zero band was scored after the
        basis, so a rise into the low band is a new episode
    """

    basis: datetime | None
    episode_over: bool = True


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
    resolved: Mapping[Key, Resolved] | None = None,
    rewritten: Mapping[Key, str] | None = None,
) -> list[Change]:
    """Changes that bring the alerts in line with ``conditions`` at ``now``.

    Only keys with a condition are judged; a live alert without one is left as it is.
    resolved : per key, its latest resolved alert (``Resolved``), so that what was
        alerted on and resolved (maybe by hand) is not raised again from history or,
        for a steady low band, a review or a retrospective finding, at all.  A
        condition that holds at ``now`` at urgent or above always opens: an alert
        resolved by hand while its condition holds is back at the next judgement.
    rewritten : per key of a live alert whose basis was rescored, what changed.
    """
    by_key = {a.key: a for a in live}
    done = resolved or {}
    rewrites = rewritten or {}
    changes = []
    for c in conditions:
        if c.kind not in ALERT_KINDS:
            raise ValueError(f"unknown alert kind {c.kind!r}; known: {sorted(ALERT_KINDS)}")
        alert = by_key.get(c.key)
        if alert is None:
            change = _open(c, now, done.get(c.key))
        else:
            change = _advance(alert, c, now, rewrites.get(c.key))
        if change is not None:
            changes.append(change)
    return changes


def _open(c: Condition, now: datetime, resolved: Resolved | None) -> Change | None:
    rule = ALERT_KINDS[c.kind]
    if c.severity is None or _dealt_with(c, now, rule, resolved):
        return None
    state, events = rules.step(None, c.severity, now, kind=c.kind, band=c.band,
                               red=c.red or frozenset(), hold=rule.hold)
    assert state is not None
    reason = c.reason
    if c.cleared_at is not None:
        state = replace(state, clear_since=c.cleared_at)
        reason = f"{c.reason}; clear since {c.cleared_at:%H:%M} (late readings)"
    detail = _detail(c, severity=c.severity)
    return _change(None, c, state, reason, c.condition_time,
                   tuple(Event(e, reason, detail) for e in events))


def _dealt_with(c: Condition, now: datetime, rule: KindRule, resolved: Resolved | None) -> bool:
    """Whether a condition with no live alert was already dealt with (see ``reconcile``)."""
    basis = resolved.basis if resolved is not None else None
    covered = basis is not None and c.condition_time is not None and c.condition_time <= basis
    if c.cleared_at is not None:  # from history: an episode already over
        return now - c.cleared_at >= rule.hold or covered
    if rule.once_per_basis:
        return covered
    # A steady low baseline: the low band's alert asks for one assessment per episode.
    return (c.kind == NEWS2 and resolved is not None and not resolved.episode_over
            and c.severity is not None and c.severity < Severity.URGENT)


def _advance(alert: LiveAlert, c: Condition, now: datetime, rewrite: str | None) -> Change | None:
    rule = ALERT_KINDS[c.kind]
    before = alert.state
    events: list[Event] = []
    if rewrite is not None:
        events.append(Event("reconciled", rewrite, {"condition_time": _iso(alert.condition_time)}))
    if c.severity is not None and c.cleared_at is None:
        red = before.red if c.red is None else c.red
        state, names = rules.step(before, c.severity, now, kind=c.kind, band=c.band, red=red,
                                  hold=rule.hold)
        if _newer_finding(alert, c) and "escalated" not in names:
            state = replace(state, state="open", acknowledged_at=None, escalated_at=now,
                            last_notified_severity=state.severity)
            names.append("escalated")
        condition_time = c.condition_time or alert.condition_time
        moved = (state.severity, state.band, state.red) != (before.severity, before.band,
                                                            before.red)
        reason = c.reason if moved or not rule.stable_reason else alert.reason
        if reason != alert.reason and not names:
            names.append("updated")  # every change of the reason is on the record
    else:
        start = before
        if c.cleared_at is not None:  # the history knows when it cleared
            start = replace(before, clear_since=c.cleared_at)
        state, names = rules.step(start, None, now, kind=c.kind, hold=rule.hold)
        reason, condition_time = alert.reason, alert.condition_time
    assert state is not None
    for name in names:
        events.append(_event(name, alert, state, c, now, rule))
    if not events and state == before and reason == alert.reason \
            and condition_time == alert.condition_time:
        return None
    return _change(alert.alert_id, c, state, reason, condition_time, tuple(events))


def _newer_finding(alert: LiveAlert, c: Condition) -> bool:
    return (c.renotify and c.condition_time is not None
            and (alert.condition_time is None or c.condition_time > alert.condition_time))


def _event(name: str, alert: LiveAlert, after: AlertState, c: Condition, now: datetime,
           rule: KindRule) -> Event:
    before = alert.state
    detail = _detail(c, severity=after.severity, previous=before.severity)
    worse = rules.rise(before, after.severity, after.band, after.red) if c.severity else None
    if name == "escalated" and worse is not None:
        text = f"{worse[0].upper()}{worse[1:]}: {c.reason}"
        detail["rise"] = worse
    elif name == "escalated" and _newer_finding(alert, c):
        text = f"New finding: {c.reason}"
    elif name == "escalated" and before.state == "acknowledged":
        lapsed = max(now - (before.acknowledged_at or now), timedelta(0))
        minutes = lapsed.total_seconds() / 60
        text = (f"Acknowledged {durations.text(lapsed, finest='min')} ago and still"
                f" {after.severity.name.lower()}:"
                f" notified again, to be acknowledged anew. {c.reason}")
        detail["acknowledgement_lapsed_minutes"] = round(minutes, 1)
    elif name == "escalated":
        waited = max(now - (before.escalated_at or before.opened_at), timedelta(0))
        minutes = waited.total_seconds() / 60
        text = (f"Not acknowledged for {durations.text(waited, finest='min')}; notified again."
                f" {c.reason}")
        detail["unacknowledged_minutes"] = round(minutes, 1)
    elif name == "updated" and after.severity != before.severity:
        text = (f"Severity {before.severity.name.lower()} → {after.severity.name.lower()}:"
                f" {c.reason}")
    elif name == "updated" and after.band != before.band and before.band:
        text = f"NEWS2 band {before.band} → {after.band}: {c.reason}"
    elif name == "updated":
        text = f"Now: {c.reason}"
    elif name == "resolved":
        cleared = after.clear_since
        held = f" since {cleared:%Y-%m-%d %H:%M}Z" if cleared is not None else ""
        hold = durations.text(rule.hold, parts=durations.EXACT)
        text = f"{rule.title} clear{held} (held {hold}): {c.latest or c.reason}"
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
    if c.band:
        detail["band"] = c.band
    if c.red:
        detail["red"] = sorted(c.red)
    if previous is not None and previous != severity:
        detail["previous_severity"] = previous.name.lower()
    if c.cleared_at is not None:
        detail["cleared_at"] = _iso(c.cleared_at)
    return detail


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def resolve_by_hand(alert: AlertState) -> tuple[AlertState, list[str]]:
    """A clinician closes a live alert: resolved at once, whatever its condition (should
    it still hold, the engine opens a new alert at its next judgement).  Pure."""
    if alert.state == "resolved":
        return alert, []
    return replace(alert, state="resolved"), ["resolved"]

