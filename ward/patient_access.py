"""psycopg only: the patient's own view's links and sessions (migration 021),
the ward's phone number, and what the page reads.  ward/patient_links.py
decides; api/routes/me.py serves the page; `vward patient link` and POST
/api/v1/patients/{id}/access-link make links.

Everything read for a session is its one patient's: the patient id comes from
the session row, never from the request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from ward import devices, patient_links, protocol_store, protocols
from ward.errors import Conflict, NotFound
from ward.patient_links import LinkRow, Refused


@dataclass(frozen=True, slots=True)
class NewLink:
    """A link just made: its token (shown once, never stored) and expiry."""

    link_id: int
    patient_id: str
    token: str
    expires_at: datetime
    ward_phone: str | None


def make_link(conn: psycopg.Connection, patient_id: str, *, by: str, now: datetime,
              lifetime: timedelta) -> NewLink:
    """A one-time link for an admitted patient, and their self-report device
    (assigned from now, so that their answers are theirs)."""
    with conn.transaction():
        row = conn.execute(
            "SELECT p.ward_id, p.discharged_at, w.phone FROM patients p"
            " JOIN wards w USING (ward_id) WHERE p.patient_id = %s FOR UPDATE OF p",
            (patient_id,)).fetchone()
        if row is None:
            raise NotFound(f"no patient {patient_id}")
        ward_id, discharged_at, phone = row
        if discharged_at is not None:
            raise Conflict(f"patient {patient_id} has been discharged: no link for them")
        _ensure_self_report_device(conn, patient_id, ward_id, now)
        token = patient_links.new_token()
        (link_id,) = conn.execute(
            "INSERT INTO patient_links (token_hash, patient_id, created_by, created_at,"
            " expires_at) VALUES (%s, %s, %s, %s, %s) RETURNING link_id",
            (patient_links.token_hash(token), patient_id, by, now, now + lifetime)).fetchone()
    return NewLink(link_id, patient_id, token, now + lifetime, phone)


def _ensure_self_report_device(conn: psycopg.Connection, patient_id: str, ward_id: str,
                               now: datetime) -> None:
    device_id = patient_links.self_report_device(patient_id)
    current = conn.execute(
        "SELECT patient_id FROM device_assignments WHERE device_id = %s AND valid_to IS NULL",
        (device_id,)).fetchone()
    if current is not None and current[0] == patient_id:
        return
    devices.register_devices(conn, [devices.NewDevice(device_id, patient_id, ward_id,
                                                      patient_links.SELF_REPORT_KIND)],
                             valid_from=now, now=now)


def find_link(conn: psycopg.Connection, token: str) -> LinkRow | None:
    with conn.cursor(row_factory=class_row(LinkRow)) as cur:
        return cur.execute(
            "SELECT l.link_id, l.patient_id, l.expires_at, l.used_at, l.revoked_at,"
            " p.discharged_at FROM patient_links l JOIN patients p USING (patient_id)"
            " WHERE l.token_hash = %s", (patient_links.token_hash(token),)).fetchone()


def use_link(conn: psycopg.Connection, token: str, *, now: datetime, address: str | None,
             lifetime: timedelta) -> str | Refused:
    """Open a session with the link, once: the session's token, or why not.  Two
    uses at once: the row lock makes the second see the first's use."""
    with conn.transaction():
        with conn.cursor(row_factory=class_row(LinkRow)) as cur:
            link = cur.execute(
                "SELECT l.link_id, l.patient_id, l.expires_at, l.used_at, l.revoked_at,"
                " p.discharged_at FROM patient_links l JOIN patients p USING (patient_id)"
                " WHERE l.token_hash = %s FOR UPDATE OF l",
                (patient_links.token_hash(token),)).fetchone()
        refused = patient_links.refusal(link, now)
        if refused is not None:
            return refused
        assert link is not None
        conn.execute("UPDATE patient_links SET used_at = %s, used_from = %s WHERE link_id = %s",
                     (now, address, link.link_id))
        session = patient_links.new_token()
        conn.execute(
            "INSERT INTO patient_sessions (session_hash, patient_id, link_id, created_at,"
            " expires_at) VALUES (%s, %s, %s, %s, %s)",
            (patient_links.token_hash(session), link.patient_id, link.link_id, now,
             now + lifetime))
    return session


@dataclass(frozen=True, slots=True)
class Me:
    """Whose session this is: the one patient it shows."""

    patient_id: str
    name: str
    ward_id: str
    ward_phone: str | None
    time_zone: str
    admitted_at: datetime
    session_expires: datetime


def patient_of(conn: psycopg.Connection, session: str, now: datetime) -> Me | None:
    """The patient of a live session (not ended, not expired, patient not
    discharged), else None."""
    with conn.cursor(row_factory=class_row(Me)) as cur:
        return cur.execute(
            "SELECT p.patient_id, coalesce(p.display_name, '') AS name, p.ward_id,"
            " w.phone AS ward_phone, w.time_zone, p.admitted_at,"
            " s.expires_at AS session_expires"
            " FROM patient_sessions s JOIN patients p USING (patient_id)"
            " JOIN wards w ON w.ward_id = p.ward_id"
            " WHERE s.session_hash = %s AND s.ended_at IS NULL AND s.expires_at > %s"
            " AND p.discharged_at IS NULL",
            (patient_links.token_hash(session), now)).fetchone()


def end_session(conn: psycopg.Connection, session: str, now: datetime) -> None:
    conn.execute("UPDATE patient_sessions SET ended_at = %s WHERE session_hash = %s"
                 " AND ended_at IS NULL", (now, patient_links.token_hash(session)))


def revoke(conn: psycopg.Connection, patient_id: str, *, by: str,
           now: datetime) -> tuple[int, int]:
    """Cancel the patient's unused links and end their sessions: (links, sessions)."""
    with conn.transaction():
        if conn.execute("SELECT 1 FROM patients WHERE patient_id = %s",
                        (patient_id,)).fetchone() is None:
            raise NotFound(f"no patient {patient_id}")
        links = conn.execute(
            "UPDATE patient_links SET revoked_at = %s, revoked_by = %s WHERE patient_id = %s"
            " AND used_at IS NULL AND revoked_at IS NULL AND expires_at > %s",
            (now, by, patient_id, now)).rowcount
        sessions = conn.execute(
            "UPDATE patient_sessions SET ended_at = %s WHERE patient_id = %s"
            " AND ended_at IS NULL AND expires_at > %s", (now, patient_id, now)).rowcount
    return links, sessions


def set_ward_phone(conn: psycopg.Connection, ward_id: str, phone: str | None) -> None:
    """The number the ward's patients call when they feel worse (None: unset)."""
    stored = patient_links.check_phone(phone) if phone else None
    if conn.execute("UPDATE wards SET phone = %s WHERE ward_id = %s",
                    (stored, ward_id)).rowcount == 0:
        raise NotFound(f"no ward {ward_id}")


def ward_phone(conn: psycopg.Connection, ward_id: str) -> str | None:
    row = conn.execute("SELECT phone FROM wards WHERE ward_id = %s", (ward_id,)).fetchone()
    if row is None:
        raise NotFound(f"no ward {ward_id}")
    return row[0]


# ---------------------------------------------------------------- the page's reads


@dataclass(frozen=True, slots=True)
class Latest:
    """The patient's latest reading of one type."""

    type: str
    value: float
    time: datetime


@dataclass(frozen=True, slots=True)
class View:
    """What the page shows: nothing of any score but when the next set is due."""

    readings: list[Latest]
    open_alerts: int
    acknowledged_alerts: int
    last_acknowledged: datetime | None
    next_due: datetime


def view(conn: psycopg.Connection, me: Me) -> View:
    """The patient's latest reading of each type since admission, their live
    alerts' states, and when their next full set is due."""
    with conn.cursor(row_factory=class_row(Latest)) as cur:
        readings = cur.execute(
            "SELECT DISTINCT ON (type) type, value, time FROM observations"
            " WHERE patient_id = %s AND time >= %s ORDER BY type, time DESC",
            (me.patient_id, me.admitted_at)).fetchall()
    alerts = conn.execute(
        "SELECT count(*) FILTER (WHERE state = 'open')::int,"
        " count(*) FILTER (WHERE state = 'acknowledged')::int,"
        " max(acknowledged_at) FROM alerts WHERE patient_id = %s AND state <> 'resolved'",
        (me.patient_id,)).fetchone()
    assert alerts is not None
    band = conn.execute("SELECT monitoring_band FROM scores WHERE patient_id = %s"
                        " ORDER BY time DESC LIMIT 1", (me.patient_id,)).fetchone()
    complete = conn.execute("SELECT measured_at FROM last_complete_set(%s)",
                            (me.patient_id,)).fetchone()
    proto = protocols.protocol(protocol_store.protocol_of(conn, me.ward_id))
    own = next((r for r in readings if proto.reading is not None
                and r.type == proto.reading.value), None)
    due = patient_links.next_due(complete[0] if complete else None, me.admitted_at,
                                 band[0] if band else None, protocol=proto,
                                 last_reading=own.time if own else None,
                                 last_value=own.value if own else None)
    return View(readings, alerts[0], alerts[1], alerts[2], due)
