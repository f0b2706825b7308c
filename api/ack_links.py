"""psycopg only: what an acknowledge link may do, read from the database,
and its one use (migration 015).  ward/ack_links.py signs, verifies and
decides; api/routes/ack.py serves the page.

The link names one alert; everything read here is that alert and its
patient, nothing else: a link opens no other patient's record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

import alerts
from api import accounts
from ward import access, access_log, ack_links, reads
from ward.ack_links import LinkClaim, LinkRefused, Sent, Use
from ward.records import ALERT_COLUMNS, AlertRow, ScoreRow


@dataclass(frozen=True, slots=True)
class LinkState:
    """What the landing page shows: the alert and its patient as they are now."""

    alert: AlertRow
    patient_name: str
    time_zone: str
    score: ScoreRow | None
    via: str  # how an acknowledgement through this link is recorded


def refusal(conn: psycopg.Connection, claim: LinkClaim) -> tuple[LinkRefused | None, str]:
    """Why the link may not act (ward/ack_links.refusal) and the via it acknowledges
    with: 'link:<channel>' of the notification it went out in (the outbox's, when
    there is one), else the token's."""
    used = _use(conn, claim.notification_id)
    user = accounts.find_user(conn, claim.user)
    outbox = _has_outbox(conn)
    sent = _sent(conn, claim.notification_id) if outbox else None
    # A recipient no longer on the alert's ward (its team or rota) may no
    # longer act on it, as a user who was removed may not (ward/access.py).
    ward_id = _alert_ward(conn, claim.alert_id)
    allowed = user is not None and (
        ward_id is None or access.may_see(access.wards_of(conn, claim.user), ward_id))
    refused = ack_links.refusal(claim, used=used, user_exists=allowed, sent=sent,
                                outbox=outbox)
    channel = sent.channel if sent is not None else claim.channel
    via = f"link:{channel}" if channel in ack_links.CHANNELS[1:] else claim.via
    return refused, via


def state(conn: psycopg.Connection, claim: LinkClaim, via: str, *, address: str | None,
          now: datetime) -> LinkState | None:
    """The alert the link names, its patient's latest score, and the read recorded
    (patient_reads, via 'link'); None when there is no such alert."""
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        alert = cur.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = %s",
                            (claim.alert_id,)).fetchone()
    if alert is None:
        return None
    row = conn.execute(
        "SELECT coalesce(p.display_name, p.patient_id), w.time_zone FROM patients p"
        " JOIN wards w ON w.ward_id = p.ward_id WHERE p.patient_id = %s",
        (alert.patient_id,)).fetchone()
    name, zone = row if row is not None else (alert.patient_id, "UTC")
    score = reads.latest_score(conn, alert.patient_id) if alert.state != "resolved" else None
    user = accounts.find_user(conn, claim.user)
    access_log.record(conn, access_log.Read(
        claim.user, user.role if user else "", alert.patient_id, "link", "ack link",
        address), now)
    return LinkState(alert, name, zone, score, via)


def use(conn: psycopg.Connection, claim: LinkClaim, *, note: str, address: str | None,
        now: datetime) -> AlertRow | LinkRefused:
    """Acknowledge the link's alert as its user, once: the use is recorded and the
    alert acknowledged in one transaction, so a refused acknowledgement (already
    acknowledged, resolved) leaves the link unused and nothing changed.  Two uses
    at once: the second INSERT waits for the first and then finds its row."""
    with conn.transaction():
        refused, via = refusal(conn, claim)
        if refused is not None:
            return refused
        won = conn.execute(
            "INSERT INTO ack_link_uses (notification_id, alert_id, user_name, via, used_at,"
            " address) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (notification_id) DO NOTHING RETURNING notification_id",
            (claim.notification_id, claim.alert_id, claim.user, via, now, address)).fetchone()
        if won is None:
            refused, _ = refusal(conn, claim)
            assert refused is not None  # the row the other use committed
            return refused
        return alerts.acknowledge(conn, claim.alert_id, by=claim.user, now=now, via=via,
                                  note=note)


def _alert_ward(conn: psycopg.Connection, alert_id: int) -> str | None:
    row = conn.execute("SELECT ward_id FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone()
    return None if row is None else row[0]


def _use(conn: psycopg.Connection, notification_id: int) -> Use | None:
    with conn.cursor(row_factory=class_row(Use)) as cur:
        return cur.execute(
            "SELECT user_name AS user, used_at, via FROM ack_link_uses"
            " WHERE notification_id = %s", (notification_id,)).fetchone()


def _has_outbox(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('notifications') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _sent(conn: psycopg.Connection, notification_id: int) -> Sent | None:
    with conn.cursor(row_factory=class_row(Sent)) as cur:
        return cur.execute(
            "SELECT recipient, alert_id, channel FROM notifications"
            " WHERE notification_id = %s", (notification_id,)).fetchone()
