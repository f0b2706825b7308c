"""A clinician's actions on alerts: acknowledge and resolve by hand, whichever
door they come through (the CLI, the REST API, the dashboard).

The alerts stage owns the alerts table, so these live here and not in ward/:
the decision is the lifecycle's pure rule (``rules.acknowledge``,
``lifecycle.resolve_by_hand``) applied to the alert as stored, and the one
writer of alerts (alerts/alert_store.py) records it with its audit event and
tells the engine (NOTIFY), which publishes the event on MQTT.  Each action is
one transaction that locks the alert first, in the order every writer locks
them, so an engine and a clinician acting on one alert take turns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from alerts import alert_store, rules
from alerts.lifecycle import resolve_by_hand, severity_of
from ward.ack_links import DOORS, valid_via
from ward.clinical import ActionRefused, who
from ward.records import AlertRow

# Resolving these by hand needs a reason: the patient was in danger a moment ago.
RESOLVE_NEEDS_REASON = ("urgent", "emergency")


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What a clinician saw and did about an open alert, to write."""

    alert_id: int
    severity: str
    at: datetime
    by: str
    note: str
    action: str
    changed_management: bool | None
    via: str  # how it was made: a door (ward.ack_links.DOORS) or 'link:<channel>'


@dataclass(frozen=True, slots=True)
class HandResolution:
    """An alert a clinician closed by hand, to write; ``note`` is why."""

    alert_id: int
    severity: str
    at: datetime
    by: str
    note: str


def _state(alert: AlertRow) -> rules.AlertState:
    return rules.AlertState(
        kind=alert.kind, severity=severity_of(alert.severity),
        state=alert.state,  # type: ignore[arg-type]
        opened_at=alert.opened_at, last_notified_severity=severity_of(alert.last_notified_severity),
        acknowledged_at=alert.acknowledged_at, clear_since=alert.clear_since,
        escalated_at=alert.escalated_at, band=alert.band or "", red=frozenset(alert.red))


def acknowledgement(alert: AlertRow, *, by: str, now: datetime, via: str, note: str = "",
                    action: str = "", changed_management: bool | None = None) -> Acknowledgement:
    """The acknowledgement of ``alert`` at ``now`` (``rules.acknowledge``: only an open
    alert is acknowledged), made through ``via``; refused with the reason otherwise.  Pure."""
    by = who(by)
    if not valid_via(via):
        raise ActionRefused(f"say how the acknowledgement is made ({', '.join(DOORS)} or"
                            f" link:<channel>), not {via!r}")
    _, events = rules.acknowledge(_state(alert), now)
    if alert.state == "resolved":
        raise ActionRefused(f"alert {alert.alert_id} is already resolved")
    if not events:
        at = alert.acknowledged_at
        raise ActionRefused(
            f"alert {alert.alert_id} was already acknowledged by {alert.acknowledged_by}"
            + (f" at {at:%Y-%m-%d %H:%M}Z" if at is not None else ""))
    return Acknowledgement(alert.alert_id, alert.severity, now, by, note, action,
                           changed_management, via)


def hand_resolution(alert: AlertRow, *, by: str, now: datetime, note: str = "") -> HandResolution:
    """Closing ``alert`` by hand at ``now`` (``lifecycle.resolve_by_hand``); an urgent or
    emergency one only with a reason (``note``).  Pure."""
    by = who(by)
    note = (note or "").strip()
    _, events = resolve_by_hand(_state(alert))
    if not events:
        raise ActionRefused(f"alert {alert.alert_id} is already resolved")
    if alert.severity in RESOLVE_NEEDS_REASON and not note:
        raise ActionRefused(
            f"alert {alert.alert_id} is {alert.severity}: give the reason for resolving it by"
            " hand (what was done, why the alert no longer applies)")
    return HandResolution(alert.alert_id, alert.severity, now, by, note)


def _locked(conn: psycopg.Connection, alert_id: int) -> AlertRow:
    alert = alert_store.locked_alert(conn, alert_id)
    if alert is None:
        raise ActionRefused(f"no alert {alert_id}")
    return alert


def acknowledge(conn: psycopg.Connection, alert_id: int, *, by: str, now: datetime, via: str,
                note: str = "", action: str = "",
                changed_management: bool | None = None) -> AlertRow:
    """A clinician has seen an open alert: record who, when, how (``via``: the
    door, or the notification's link), what they did and whether it changed
    the patient's management.  Stops time escalation until the severity rises.
    Returns the alert as stored after."""
    by = who(by)
    with conn.transaction():
        ack = acknowledgement(_locked(conn, alert_id), by=by, now=now, via=via, note=note,
                              action=action, changed_management=changed_management)
        alert_store.write_acknowledgement(conn, ack)
        return _locked(conn, alert_id)


def resolve(conn: psycopg.Connection, alert_id: int, *, by: str, now: datetime,
            note: str = "") -> AlertRow:
    """A clinician closes an alert by hand; an urgent or emergency one only with a
    reason (``note``).  Should its condition still hold, the engine opens a new alert
    at its next judgement (within one tick for urgent and emergency)."""
    by = who(by)
    with conn.transaction():
        done = hand_resolution(_locked(conn, alert_id), by=by, now=now, note=note)
        alert_store.write_hand_resolution(conn, done)
        return _locked(conn, alert_id)


def resolve_patient_alerts(conn: psycopg.Connection, patient_id: str, *, by: str,
                           now: datetime, note: str = "") -> list[int]:
    """Close every live alert of a patient by hand (a discharge), as ``resolve``
    does one, without a reason per alert (the discharge is the reason): one
    statement for all of them, whatever their number.  Returns the ids closed."""
    by = who(by)
    with conn.transaction():
        return alert_store.resolve_patient(conn, patient_id, by=by, now=now, note=note)
