"""psycopg only: the re-measurements the engine asks for (remeasure_requests,
migration 016), what it reads to judge them, and the commands it publishes.
The decisions are alerts/remeasure.py's; alerts/remeasure_gate.py joins the two."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from alerts.remeasure import Protocol, SetSource
from ward.device_commands import RemeasureCommand, remeasure_payload
from ward.topics import commands_topic

_PENDING_COLUMNS = ("r.request_id, r.patient_id, r.ward_id, r.device_id, r.types, r.asked_at,"
                    " r.deadline, r.score_time, r.score_before, r.band, r.red, r.reason,"
                    " p.discharged_at IS NOT NULL")


@dataclass(frozen=True, slots=True)
class Pending:
    """A re-measurement waiting for its answer, and the alert it holds back."""

    request_id: int
    patient_id: str
    ward_id: str
    device_id: str
    types: tuple[str, ...]
    asked_at: datetime
    deadline: datetime
    score_time: datetime
    score_before: int
    band: str
    red: tuple[str, ...]
    reason: str
    discharged: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back for a request, as far as the engine has scored it.

    readings : (type, value, measurement time) of the latest reading of each type asked
    received_at : when the first of them reached the ward (None: nothing came)
    latest_total, latest_band : the patient's latest score and the band of that set
        itself (after accepted ranges), not the monitoring band an incomplete set
        carries from before: the question is whether the new readings confirm the
        score that the held alert stood on.  (The carried band still stands in the
        engine: an urgent band that only a complete set can lower keeps the patient
        overdue within the hour.)
    """

    readings: tuple[tuple[str, float, datetime], ...]
    received_at: datetime | None
    latest_total: int | None
    latest_band: str | None
    latest_time: datetime | None

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(t for t, _, _ in self.readings)

    @property
    def time(self) -> datetime | None:
        return max((at for _, _, at in self.readings), default=None)


def pending(conn: psycopg.Connection, wards: Sequence[str]) -> list[Pending]:
    """Every pending request of ``wards`` (all wards when empty), locked."""
    where = "r.outcome IS NULL" + (" AND r.ward_id = ANY(%s)" if wards else "")
    rows = conn.execute(
        f"SELECT {_PENDING_COLUMNS} FROM remeasure_requests r JOIN patients p USING"
        f" (patient_id) WHERE {where} ORDER BY r.request_id FOR UPDATE OF r",
        [list(wards)] if wards else []).fetchall()
    return [Pending(request_id, patient, ward, device, tuple(types), asked_at, deadline,
                    score_time, before, band, tuple(red), reason, discharged)
            for (request_id, patient, ward, device, types, asked_at, deadline, score_time,
                 before, band, red, reason, discharged) in rows]


def answer(conn: psycopg.Connection, r: Pending) -> Answer:
    """The asked device's readings of the asked types measured after the held score,
    that the patient's latest score already includes (a reading not yet scored is
    judged when it is).  Not "received after the ask": the ask is on the engine's
    clock, received_at on the database's, and a newer measurement is an answer."""
    latest = conn.execute(
        "SELECT time, coalesce(adjusted_total, total), coalesce(adjusted_band, band)"
        " FROM scores WHERE patient_id = %s ORDER BY time DESC LIMIT 1",
        (r.patient_id,)).fetchone()
    if latest is None:
        return Answer((), None, None, None, None)
    rows = conn.execute(
        "SELECT DISTINCT ON (type) type, value, time, min(received_at) OVER ()"
        " FROM observations WHERE patient_id = %s AND device_id = %s AND type = ANY(%s)"
        " AND time > %s AND time <= %s ORDER BY type, time DESC",
        (r.patient_id, r.device_id, list(r.types), r.score_time, latest[0])).fetchall()
    return Answer(tuple((t, v, at) for t, v, at, _ in rows), rows[0][3] if rows else None,
                  latest[1], latest[2], latest[0])


def protocols(conn: psycopg.Connection, wards: Sequence[str]) -> dict[str, Protocol]:
    rows = conn.execute("SELECT ward_id, remeasure_allowed, remeasure_deadline FROM wards"
                        " WHERE ward_id = ANY(%s)", (list(wards),)).fetchall()
    return {w: Protocol(allowed, deadline) for w, allowed, deadline in rows}


def set_sources(conn: psycopg.Connection, patient_id: str, at: datetime) -> list[SetSource]:
    """The devices whose readings of the patient are at ``at`` (a score's time)."""
    rows = conn.execute(
        "SELECT o.device_id, coalesce(d.kind, 'generic'), array_agg(DISTINCT o.type)"
        " FROM observations o LEFT JOIN devices d USING (device_id)"
        " WHERE o.patient_id = %s AND o.time = %s GROUP BY o.device_id, d.kind"
        " ORDER BY o.device_id", (patient_id, at)).fetchall()
    return [SetSource(d, kind, tuple(sorted(types))) for d, kind, types in rows]


def last_asked(conn: psycopg.Connection, patient_id: str) -> datetime | None:
    row = conn.execute("SELECT max(asked_at) FROM remeasure_requests WHERE patient_id = %s",
                       (patient_id,)).fetchone()
    return row[0] if row else None


def settled_until(conn: psycopg.Connection, patient_id: str) -> datetime | None:
    """The measurement time up to which a re-measurement stood the patient's urgent
    score down (not_confirmed): the episode it settled."""
    row = conn.execute("SELECT max(answer_time) FROM remeasure_requests WHERE patient_id = %s"
                       " AND outcome = 'not_confirmed'", (patient_id,)).fetchone()
    return row[0] if row else None


def score_total(conn: psycopg.Connection, patient_id: str, at: datetime) -> int | None:
    row = conn.execute("SELECT coalesce(adjusted_total, total) FROM scores"
                       " WHERE patient_id = %s AND time = %s", (patient_id, at)).fetchone()
    return row[0] if row else None


@dataclass(frozen=True, slots=True)
class NewRequest:
    patient_id: str
    ward_id: str
    device_id: str
    types: tuple[str, ...]
    asked_at: datetime
    deadline: datetime
    score_time: datetime
    score_before: int
    band: str
    red: tuple[str, ...]
    reason: str


def insert(conn: psycopg.Connection, r: NewRequest) -> int | None:
    """The request's id; None when the patient already has one pending (another
    engine asked first)."""
    row = conn.execute(
        "INSERT INTO remeasure_requests (patient_id, ward_id, device_id, types, asked_at,"
        " deadline, score_time, score_before, band, red, reason) VALUES"
        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (patient_id) WHERE outcome IS NULL DO NOTHING RETURNING request_id",
        (r.patient_id, r.ward_id, r.device_id, list(r.types), r.asked_at, r.deadline,
         r.score_time, r.score_before, r.band, list(r.red), r.reason)).fetchone()
    return row[0] if row else None


def decide(conn: psycopg.Connection, request_id: int, outcome: str, now: datetime,
           a: Answer | None, text: str) -> None:
    conn.execute(
        "UPDATE remeasure_requests SET outcome = %s, decided_at = %s, answered_at = %s,"
        " answer_time = %s, score_after = %s, answer = %s WHERE request_id = %s",
        (outcome, now, a.received_at if a else None, a.time if a else None,
         a.latest_total if a and a.readings else None, text, request_id))


def link_alerts(conn: psycopg.Connection, request_ids: Sequence[int]) -> None:
    """Each decided request names the live NEWS2 alert its patient now has."""
    if request_ids:
        conn.execute(
            "UPDATE remeasure_requests r SET alert_id = a.alert_id FROM alerts a"
            " WHERE r.request_id = ANY(%s) AND a.patient_id = r.patient_id"
            " AND a.kind = 'news2' AND a.state <> 'resolved'", (list(request_ids),))


# --- the commands ------------------------------------------------------------------------


def unsent(conn: psycopg.Connection, now: datetime, wards: Sequence[str] = (),
           limit: int = 500) -> list[tuple[int, str, bytes]]:
    """(request_id, topic, payload) of the commands still to publish, locked (SKIP
    LOCKED: another engine's are its own).  A command whose deadline has passed is
    not sent: the alert opens without it."""
    ward_filter = " AND ward_id = ANY(%(wards)s)" if wards else ""
    rows = conn.execute(
        "SELECT request_id, device_id, types, deadline FROM remeasure_requests"
        f" WHERE sent_at IS NULL AND outcome IS NULL AND deadline > %(now)s{ward_filter}"
        " ORDER BY request_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
        {"now": now, "wards": list(wards), "limit": limit}).fetchall()
    return [(rid, commands_topic(device),
             remeasure_payload(RemeasureCommand(rid, tuple(types), deadline)))
            for rid, device, types, deadline in rows]


def mark_sent(conn: psycopg.Connection, request_ids: Sequence[int], at: datetime) -> None:
    conn.execute("UPDATE remeasure_requests SET sent_at = %s WHERE request_id = ANY(%s)",
                 (at, list(request_ids)))


# --- the ward's protocol and the record, for people --------------------------------------


def set_protocol(conn: psycopg.Connection, ward_id: str, allowed: bool,
                 deadline: timedelta | None) -> Protocol | None:
    """Whether the ward asks, and (when given) its deadline; None: no such ward."""
    row = conn.execute(
        "UPDATE wards SET remeasure_allowed = %s,"
        " remeasure_deadline = coalesce(%s, remeasure_deadline) WHERE ward_id = %s"
        " RETURNING remeasure_allowed, remeasure_deadline",
        (allowed, deadline, ward_id)).fetchone()
    return Protocol(row[0], row[1]) if row else None


@dataclass(frozen=True, slots=True)
class Episode:
    """A re-measurement asked, as people read it."""

    request_id: int
    ward_id: str
    patient_id: str
    device_id: str
    types: list[str]
    asked_at: datetime
    deadline: datetime
    score_before: int
    outcome: str | None
    decided_at: datetime | None
    score_after: int | None
    answer: str | None
    alert_id: int | None


def history(conn: psycopg.Connection, *, ward: str | None = None, patient: str | None = None,
            limit: int = 50) -> list[Episode]:
    where, params = [], []
    if ward is not None:
        where.append("ward_id = %s")
        params.append(ward)
    if patient is not None:
        where.append("patient_id = %s")
        params.append(patient)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with conn.cursor(row_factory=class_row(Episode)) as cur:
        return cur.execute(
            "SELECT request_id, ward_id, patient_id, device_id, types, asked_at, deadline,"
            " score_before, outcome, decided_at, score_after, answer, alert_id"
            f" FROM remeasure_requests {clause} ORDER BY asked_at DESC, request_id DESC"
            " LIMIT %s", [*params, limit]).fetchall()
