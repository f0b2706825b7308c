"""psycopg and the channels: send what is due in the outbox, one notification per
transaction, and record the attempt.

A sender claims one due row (``FOR UPDATE SKIP LOCKED``: several senders, in one
notifier or several, never hold the same row), sends it while holding the lock,
then records the attempt and the outcome in the same transaction.  So:

- a notification is never lost: until the transaction that records it as sent
  commits, it stays pending, and a sender that dies (SIGKILL, a power cut)
  releases the lock with its connection; the row is sent again after a restart;
- the one window for a repeat is between the server taking the message (SMTP's
  250 after DATA, the webhook's 2xx) and that commit: the repeat carries the same
  idempotency key (Message-ID, ``Idempotency-Key``), so the receiver can drop it;
- a failed attempt is recorded with its error and retried after a growing wait
  (VWARD_NOTIFY_RETRY_SECONDS); after VWARD_NOTIFY_MAX_ATTEMPTS the row is
  ``failed`` and ``notification_failed`` is raised for the ward's admins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

import alerts
from notify import policy
from notify.channels import Channel
from notify.errors import DeliveryError
from notify.message import Facts, Links
from ward import ack_links

log = logging.getLogger("notify.sender")

_CLAIM = """
SELECT n.notification_id, n.idempotency_key, n.recipient, n.tier, n.channel, e.event_id,
       e.event, e.time, e.severity, coalesce(nullif(e.reason, ''), a.reason), a.alert_id,
       a.kind, a.category, a.ward_id, a.patient_id, p.display_name, a.device_id, a.opened_at,
       n.address, n.attempts
FROM notifications n
JOIN alert_events e ON e.event_id = n.event_id
JOIN alerts a ON a.alert_id = n.alert_id
JOIN patients p ON p.patient_id = a.patient_id
WHERE n.state = 'pending' AND n.next_attempt_at <= clock_timestamp()
ORDER BY n.next_attempt_at, n.notification_id
LIMIT 1
FOR UPDATE OF n SKIP LOCKED
"""


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """How the sender links and retries (from the settings)."""

    public_url: str
    link_key: bytes
    link_ttl: timedelta
    delays: tuple[float, ...]
    max_attempts: int
    actor: str


def send_one(conn: psycopg.Connection, channels: Mapping[str, Channel], how: SendPolicy,
             now: datetime) -> str | None:
    """Send the most overdue pending notification, if any: returns 'sent', 'failed'
    (an attempt failed), 'given up', or None when nothing was due (or all due rows
    are held by other senders).  ``conn`` is in autocommit mode."""
    with conn.transaction():
        row = conn.execute(_CLAIM).fetchone()
        if row is None:
            return None
        facts, address, attempts = Facts(*row[:18]), row[18], row[19]
        attempt = attempts + 1
        started = time.monotonic()
        try:
            channel = channels.get(facts.channel)
            if channel is None:
                raise DeliveryError(f"no {facts.channel} channel is configured on this notifier")
            channel.send(facts, links(facts, how, now), address)
        except DeliveryError as exc:
            return _failed(conn, facts, attempt, str(exc), started, how, now)
        except psycopg.Error:
            raise
        except Exception as exc:  # a fault of ours must not retry the row in a tight loop
            log.exception("sending %s", facts.key)
            return _failed(conn, facts, attempt, f"internal error: {type(exc).__name__}: {exc}",
                           started, how, now)
        _record(conn, facts.notification_id, attempt, "sent", None, started)
        conn.execute("UPDATE notifications SET state = 'sent', attempts = %s,"
                     " sent_at = clock_timestamp(), last_error = NULL"
                     " WHERE notification_id = %s", (attempt, facts.notification_id))
    log.info("sent %s (%s %s, alert %s) to %s by %s", facts.key, facts.severity, facts.kind,
             facts.alert_id, facts.recipient, facts.channel)
    return "sent"


def links(f: Facts, how: SendPolicy, now: datetime) -> Links:
    """The patient's page, and this person's acknowledge link for this alert."""
    base = how.public_url.rstrip("/")
    token = ack_links.sign(how.link_key, notification_id=f.notification_id,
                           alert_id=f.alert_id, user=f.recipient, expires=now + how.link_ttl,
                           channel=f.channel)
    return Links(patient=f"{base}/patient/{f.patient_id}", ack=f"{base}/ack/{token}")


def _failed(conn: psycopg.Connection, f: Facts, attempt: int, error: str, started: float,
            how: SendPolicy, now: datetime) -> str:
    _record(conn, f.notification_id, attempt, "failed", error, started)
    if not policy.give_up(attempt, how.max_attempts):
        delay = policy.retry_delay(attempt, how.delays)
        conn.execute("UPDATE notifications SET attempts = %s, last_error = %s,"
                     " next_attempt_at = clock_timestamp() + make_interval(secs => %s)"
                     " WHERE notification_id = %s", (attempt, error, delay, f.notification_id))
        log.warning("%s to %s failed (attempt %d of %d, next in %g s): %s", f.key, f.recipient,
                    attempt, how.max_attempts, delay, error)
        return "failed"
    conn.execute("UPDATE notifications SET state = 'failed', attempts = %s, last_error = %s"
                 " WHERE notification_id = %s", (attempt, error, f.notification_id))
    log.error("%s to %s given up after %d attempts: %s", f.key, f.recipient, attempt, error)
    if policy.raises_failure_alert(f.kind):
        alerts.raise_notification_failed(
            conn, patient_id=f.patient_id, ward_id=f.ward_id, now=now, actor=how.actor,
            reason=f"Notification of alert {f.alert_id} ({f.severity} {f.kind} {f.event}) to"
                   f" {f.recipient} by {f.channel} failed {attempt} times: {error}")
    return "given up"


def _record(conn: psycopg.Connection, notification_id: int, attempt: int, outcome: str,
            error: str | None, started: float) -> None:
    conn.execute("INSERT INTO notification_attempts (notification_id, attempt, outcome, error,"
                 " took_ms) VALUES (%s, %s, %s, %s, %s)",
                 (notification_id, attempt, outcome, error,
                  round((time.monotonic() - started) * 1000)))
