"""psycopg only: read the alert events after the notifier's watermark, plan their
notifications (notify/policy.py decides, ward/rota.py routes) and write them to
the durable outbox ``notifications``, moving the watermark in the same
transaction.

The watermark is alerts/outbox.py's pattern: events in (txid, event_id) order,
only of transactions older than every running one, so an event committed late
behind a higher event_id is never skipped.  A crash before the commit plans the
batch again; the idempotency key (UNIQUE) makes that harmless.  Nothing here
sends: a slow SMTP server never holds the watermark, nor the engine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg

import alerts
from notify import policy
from notify.policy import Contact, Delivery
from ward import pause_records, pauses, rota

log = logging.getLogger("notify.outbox")

_BATCH = 200  # events per planning transaction

_PENDING = """
SELECT e.event_id, e.alert_id, e.event, e.severity, e.txid::text, a.ward_id, a.patient_id,
       a.kind, a.category, a.state
FROM alert_events e JOIN alerts a ON a.alert_id = e.alert_id
WHERE (e.txid, e.event_id) > (%s::xid8, %s)
  AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.txid, e.event_id
LIMIT %s
"""

_INSERT = (
    "INSERT INTO notifications (event_id, alert_id, ward_id, recipient, tier, channel, address,"
    " idempotency_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (idempotency_key) DO NOTHING")


@dataclass(frozen=True, slots=True)
class PendingEvent:
    event_id: int
    alert_id: int
    event: str
    severity: str
    txid: str
    ward_id: str
    patient_id: str
    kind: str
    category: str
    alert_state: str


@dataclass(frozen=True, slots=True)
class Planned:
    events: int  # events read (the watermark moved past them)
    deliveries: int  # notifications written
    failed: int  # notification_failed raised: nobody reachable


def plan_pending(conn: psycopg.Connection, *, now: datetime, sms: bool, actor: str) -> Planned:
    """Plan one batch; ``Planned(0, 0, 0)`` when nothing is pending or another notifier
    holds the watermark.  ``conn`` is in autocommit mode."""
    with conn.transaction():
        mark = conn.execute("SELECT txid::text, event_id FROM notify_watermark"
                            " FOR UPDATE SKIP LOCKED").fetchone()
        if mark is None:
            return Planned(0, 0, 0)
        rows = [PendingEvent(*r) for r in conn.execute(_PENDING, (*mark, _BATCH)).fetchall()]
        if not rows:
            return Planned(0, 0, 0)
        planner = _Planner(conn, now, sms)
        written = failed = 0
        for e in rows:
            n, f = _plan_one(conn, planner, e, actor)
            written += n
            failed += f
        last = rows[-1]
        conn.execute("UPDATE notify_watermark SET txid = %s::xid8, event_id = %s,"
                     " planned = planned + %s, planned_at = clock_timestamp()",
                     (last.txid, last.event_id, written))
    return Planned(len(rows), written, failed)


def _plan_one(conn: psycopg.Connection, planner: _Planner, e: PendingEvent,
              actor: str) -> tuple[int, int]:
    """One event in a savepoint: an event that cannot be planned (a fault of ours, bad
    data) must not hold back every event behind it.  It is recorded, logged, and
    raised as notification_failed, so a person learns that nobody was told."""
    try:
        with conn.transaction():
            return planner.plan(e, actor)
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise  # the connection: the batch is retried whole
    except Exception as exc:
        log.exception("could not plan the notifications of alert event %s", e.event_id)
        why = f"could not plan: {type(exc).__name__}: {exc}"[:500]
        conn.execute("INSERT INTO notify_decisions (event_id, audience, planned)"
                     " VALUES (%s, %s, 0) ON CONFLICT (event_id) DO NOTHING",
                     (e.event_id, json.dumps({"why": why, "to": []})))
        if e.event in policy.NOTIFIED_EVENTS and policy.raises_failure_alert(e.kind):
            alerts.raise_notification_failed(
                conn, patient_id=e.patient_id, ward_id=e.ward_id, now=planner.now, actor=actor,
                reason=f"Alert {e.alert_id} ({e.severity} {e.kind} {e.event}) was not"
                       f" notified: {why}")
            return 0, 1
        return 0, 0


class _Planner:
    """One batch's reads, cached per ward: shifts, time zone, contacts, admins."""

    def __init__(self, conn: psycopg.Connection, now: datetime, sms: bool) -> None:
        self.conn, self.now, self.sms = conn, now, sms
        self._wards: dict[str, tuple[list[rota.Shift], ZoneInfo | None,
                                     dict[str, Contact]]] = {}
        self._admins: dict[str, Contact] | None = None

    def plan(self, e: PendingEvent, actor: str) -> tuple[int, int]:
        """(notifications written, notification_failed raised) for one event."""
        if e.event not in policy.NOTIFIED_EVENTS:
            return 0, 0
        facts = policy.Event(e.event, e.severity, e.category, e.kind, e.alert_state)
        decision = policy.audience(facts)
        # The pauses are read only for an event that would reach someone: a ward
        # without a rota (most events of a ward that has not taken notifications up)
        # costs no query per event.
        if not decision.nobody and (decision.admins or self._ward(e.ward_id)[0]):
            paused = self._paused_until(e)
            if paused is not None:
                decision = policy.audience(replace(facts, paused_until=paused))
        planned: list[Delivery] = []
        failed = 0
        if decision.admins:
            admins = self._admin_contacts()
            planned = policy.deliveries(e.event_id, {None: tuple(admins)}, admins,
                                        sms=self.sms)
            if not planned:
                log.warning("technical alert %s (%s, ward %s): no admin has a contact;"
                            " shown on the dashboard only", e.alert_id, e.kind, e.ward_id)
        elif decision.tiers:
            shifts, tz, contacts = self._ward(e.ward_id)
            if shifts:
                assert tz is not None  # a ward with shifts has its zone read
                found = rota.route(shifts, e.ward_id, decision.tiers, self.now, tz,
                                   reachable=set(contacts))
                routed: dict[int | None, tuple[str, ...]] = {t: n for t, n in found.items()}
                planned = policy.deliveries(e.event_id, routed, contacts, sms=self.sms)
                if not planned and policy.raises_failure_alert(e.kind):
                    failed = alerts.raise_notification_failed(
                        self.conn, patient_id=e.patient_id, ward_id=e.ward_id, now=self.now,
                        actor=actor, reason=f"Nobody reachable on call for alert {e.alert_id}"
                        f" ({e.severity} {e.kind} {e.event}): no one with a contact in tiers"
                        f" {', '.join(map(str, decision.tiers))} or above now")
            else:  # a ward without a rota has not taken notifications up
                decision = policy.Audience((), False, "the ward has no rota")
        with self.conn.cursor() as cur:
            if planned:
                cur.executemany(_INSERT, [
                    (e.event_id, e.alert_id, e.ward_id, d.recipient, d.tier, d.channel,
                     d.address, d.key) for d in planned])
            cur.execute("INSERT INTO notify_decisions (event_id, audience, planned)"
                        " VALUES (%s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                        (e.event_id, _audit(decision, planned), len(planned)))
        return len(planned), 1 if failed else 0

    def _paused_until(self, e: PendingEvent) -> str | None:
        if e.category == policy.TECHNICAL and e.kind not in pauses.PAUSABLE_KINDS:
            return None
        found = pauses.active(pause_records.in_force(self.conn, [e.patient_id], self.now),
                              e.patient_id, e.kind, e.severity, self.now)
        return None if found is None else f"{found.ends_at:%Y-%m-%d %H:%M}Z"

    def _ward(self, ward_id: str) -> tuple[list[rota.Shift], ZoneInfo | None,
                                           dict[str, Contact]]:
        if ward_id not in self._wards:
            shifts = rota.load_shifts(self.conn, ward_id)
            tz = rota.load_zone(self.conn, ward_id) if shifts else None
            found = rota.load_contacts(self.conn, {s.user for s in shifts})
            self._wards[ward_id] = (shifts, tz, {n: _contact(c) for n, c in found.items()
                                                 if _reachable(c, self.sms)})
        return self._wards[ward_id]

    def _admin_contacts(self) -> dict[str, Contact]:
        if self._admins is None:
            rows = self.conn.execute("SELECT name, email, phone, webhook_url FROM users"
                                     " WHERE role = 'admin' ORDER BY name").fetchall()
            self._admins = {r[0]: Contact(*r) for r in rows if _reachable(Contact(*r), self.sms)}
        return self._admins


def _contact(c: rota.Contact) -> Contact:
    return Contact(c.name, c.email, c.phone, c.webhook_url)


def _reachable(c, sms: bool) -> bool:
    return bool(c.email or c.webhook_url or (sms and c.phone))


def _audit(decision: policy.Audience, planned: list[Delivery]) -> str:
    people = sorted({f"{d.recipient} (tier {d.tier})" if d.tier else f"{d.recipient} (admin)"
                     for d in planned})
    return json.dumps({"why": decision.reason, "to": people}, separators=(",", ":"))
