"""Pauses of an alert kind's notifying, in the database (migration 017): set,
end and read them, shared by every door a clinician comes through (the CLI,
the REST API, the dashboard).  The decisions are ward/pauses.py's; here each
action is one transaction that keeps the pauses' history (append-only: a
pause is never changed, its early end is a row of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from ward import pauses
from ward.clinical import ActionRefused, who
from ward.errors import NotFound
from ward.pauses import PAUSE_COLUMNS, Pause


def set_pause(conn: psycopg.Connection, patient_id: str, kind: str, duration: timedelta, *,
              by: str, reason: str, now: datetime) -> Pause:
    """Pause notifying ``kind`` for the patient from ``now`` for ``duration``; a pause of
    the same kind in force is replaced (ended, 'replaced').  ``PauseRefused`` for what
    ward/pauses.validate refuses, ``NotFound`` for no such patient."""
    by = who(by)
    kind, duration, reason = pauses.validate(kind, duration, reason)
    with conn.transaction():
        if conn.execute("SELECT 1 FROM patients WHERE patient_id = %s FOR UPDATE",
                        (patient_id,)).fetchone() is None:
            raise NotFound(f"no patient {patient_id}")
        conn.execute(
            "INSERT INTO alert_pause_ends (pause_id, ended_at, ended_by, reason)"
            " SELECT pause_id, %s, %s, 'replaced' FROM alert_pauses WHERE patient_id = %s"
            " AND kind = %s AND ended_at IS NULL AND ends_at > %s",
            (now, by, patient_id, kind, now))
        created = conn.execute(
            "INSERT INTO alert_pause_records (patient_id, kind, starts_at, ends_at, reason,"
            " created_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING pause_id",
            (patient_id, kind, now, now + duration, reason, by)).fetchone()
        assert created is not None
        return _one(conn, created[0])


def end_pause(conn: psycopg.Connection, pause_id: int, *, by: str, now: datetime,
              reason: str = "") -> Pause:
    """End a pause now: the kind is notified again from now.  ``ActionRefused`` for a
    pause that is not in force (ended, lapsed or not there)."""
    by = who(by)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO alert_pause_ends (pause_id, ended_at, ended_by, reason)"
            " SELECT pause_id, %s, %s, %s FROM alert_pauses WHERE pause_id = %s"
            " AND ended_at IS NULL AND ends_at > %s RETURNING pause_id",
            (now, by, (reason or "").strip(), pause_id, now)).fetchone()
        if row is None:
            raise ActionRefused(f"no pause {pause_id} in force")
        return _one(conn, pause_id)


def end_kind(conn: psycopg.Connection, patient_id: str, kind: str | None, *, by: str,
             now: datetime, reason: str = "") -> list[Pause]:
    """End the patient's pauses in force (of ``kind``, or all): `vward patient unpause`.
    ``ActionRefused`` when none is in force."""
    by = who(by)
    with conn.transaction():
        ids = [r[0] for r in conn.execute(
            "INSERT INTO alert_pause_ends (pause_id, ended_at, ended_by, reason)"
            " SELECT pause_id, %s, %s, %s FROM alert_pauses WHERE patient_id = %s"
            " AND (%s::text IS NULL OR kind = %s) AND ended_at IS NULL AND starts_at <= %s"
            " AND ends_at > %s RETURNING pause_id",
            (now, by, (reason or "").strip(), patient_id, kind, kind, now, now)).fetchall()]
        if not ids:
            what = f"of {kind} " if kind else ""
            raise ActionRefused(f"patient {patient_id} has no pause {what}in force")
        return [_one(conn, i) for i in sorted(ids)]


def in_force(conn: psycopg.Connection, patient_ids: Sequence[str] | None,
             at: datetime) -> list[Pause]:
    """The pauses in force at ``at`` of these patients (None: every patient), by
    patient and end."""
    with conn.cursor(row_factory=class_row(Pause)) as cur:
        return cur.execute(
            f"SELECT {PAUSE_COLUMNS} FROM alert_pauses WHERE starts_at <= %s AND ends_at > %s"
            " AND (ended_at IS NULL OR ended_at > %s)"
            " AND (%s::text[] IS NULL OR patient_id = ANY(%s))"
            " ORDER BY patient_id, ends_at, pause_id",
            (at, at, at, patient_ids, patient_ids)).fetchall()


def history(conn: psycopg.Connection, patient_id: str, limit: int = 50) -> list[Pause]:
    """The patient's pauses, latest first: the audit trail (who, when, why, until when,
    who ended it)."""
    with conn.cursor(row_factory=class_row(Pause)) as cur:
        return cur.execute(
            f"SELECT {PAUSE_COLUMNS} FROM alert_pauses WHERE patient_id = %s"
            " ORDER BY created_at DESC, pause_id DESC LIMIT %s", (patient_id, limit)).fetchall()


def _one(conn: psycopg.Connection, pause_id: int) -> Pause:
    with conn.cursor(row_factory=class_row(Pause)) as cur:
        row = cur.execute(f"SELECT {PAUSE_COLUMNS} FROM alert_pauses WHERE pause_id = %s",
                          (pause_id,)).fetchone()
    assert row is not None
    return row
