"""psycopg only: write one batch in one transaction, then the caller acks.

Readings are mapped onto patients with a cached copy of the device
assignments, checked against the database's assignment version inside the
same transaction (a device registered a moment ago is always seen), and
COPied straight into the hypertable.  Should a reading already be stored (a
retransmission), the unique index refuses the COPY; the batch then goes
through a staging table and INSERT ... ON CONFLICT DO NOTHING, which stores
each reading once.  The same transaction queues the patients for rescoring
and keeps refused messages and device status."""

from __future__ import annotations

import json
from datetime import datetime

import psycopg
from psycopg import errors

from ingest.assignments import Assignment, AssignmentIndex, map_observations
from ingest.rows import Batch, MappedRow, Written

NOTIFY_CHANNEL = "new_observations"
_COLUMNS = "time, patient_id, device_id, type, value, received_at"
_TYPES = ["timestamptz", "text", "text", "text", "float8", "timestamptz"]

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS _incoming (
    time timestamptz, patient_id text, device_id text, type text,
    value double precision, received_at timestamptz
) ON COMMIT DELETE ROWS
"""

_INSERT_DEDUP = f"""
WITH ins AS (
    INSERT INTO observations ({_COLUMNS}) SELECT {_COLUMNS} FROM _incoming
    ON CONFLICT DO NOTHING
    RETURNING patient_id, time
)
SELECT patient_id, min(time), count(*) FROM ins GROUP BY patient_id
"""

# Queue the patients and wake the engines in one round trip (a data-modifying
# CTE runs whether or not it is referenced).
_QUEUE = f"""
WITH queued AS (
    INSERT INTO score_queue (patient_id, since)
    SELECT * FROM unnest(%s::text[], %s::timestamptz[])
    ON CONFLICT (patient_id) DO UPDATE
        SET since = least(score_queue.since, EXCLUDED.since), enqueued_at = clock_timestamp()
)
SELECT pg_notify('{NOTIFY_CHANNEL}', '')
"""


def prepare(conn: psycopg.Connection) -> None:
    """Once per connection: the staging table."""
    with conn.transaction():
        conn.execute(_STAGING)


def load_assignments(conn: psycopg.Connection) -> AssignmentIndex:
    """All assignments and the version they are at, read by one statement (one
    snapshot), so that the version always describes the rows beside it."""
    rows = conn.execute(
        "SELECT v.version, a.device_id, a.patient_id, a.valid_from, a.valid_to"
        " FROM assignment_version v LEFT JOIN device_assignments a ON true"
    ).fetchall()
    version = rows[0][0] if rows else -1
    return AssignmentIndex((Assignment(*r[1:]) for r in rows if r[1] is not None), version)


def _copy(cur: psycopg.Cursor, table: str, rows: list[MappedRow]) -> None:
    with cur.copy(f"COPY {table} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_TYPES)
        for r in rows:
            copy.write_row(r)


def write_batch(
    conn: psycopg.Connection, batch: Batch, assignments: AssignmentIndex
) -> tuple[Written, AssignmentIndex]:
    """Store a batch in one transaction: how many readings were new (the rest
    were stored before: duplicates) and which had no patient; and the
    assignment index, reloaded if the database's had moved on."""
    stored, unassigned = 0, frozenset[int]()
    with conn.transaction(), conn.cursor() as cur:
        if batch.observations:
            row = cur.execute("SELECT version FROM assignment_version").fetchone()
            if row is None or row[0] != assignments.version:
                assignments = load_assignments(conn)
            mapped, unassigned, since = map_observations(batch.observations, assignments)
            if mapped:
                stored, since = _insert(conn, cur, mapped, since)
            if since:
                cur.execute(_QUEUE, (list(since), list(since.values())))
        rejections = batch.rejections(unassigned)
        if rejections:
            with cur.copy(
                "COPY rejected_messages (received_at, topic, device_id, message_id,"
                " reason_code, reason, whole, payload) FROM STDIN"
            ) as copy:
                for r in rejections:
                    copy.write_row(
                        (
                            r.received_at,
                            r.topic,
                            r.device_id,
                            r.message_id,
                            r.reason_code,
                            r.reason,
                            r.whole,
                            r.payload,
                        )
                    )
        if batch.statuses:
            cur.executemany(
                "INSERT INTO device_status"
                " (time, device_id, online, battery, firmware, signal, raw)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        s.time,
                        s.device_id,
                        s.online,
                        s.battery,
                        s.firmware,
                        s.signal,
                        json.dumps(s.raw),
                    )
                    for s in batch.statuses
                ],
            )
        if batch.last_seen:
            cur.execute(
                "UPDATE devices d SET last_seen = greatest(d.last_seen, s.seen)"
                " FROM unnest(%s::text[], %s::timestamptz[]) AS s(device_id, seen)"
                " WHERE d.device_id = s.device_id",
                (list(batch.last_seen), list(batch.last_seen.values())),
            )
    return Written(stored, unassigned), assignments


def _insert(
    conn: psycopg.Connection,
    cur: psycopg.Cursor,
    mapped: list[MappedRow],
    since: dict[str, datetime],
) -> tuple[int, dict[str, datetime]]:
    """COPY straight in; on a duplicate, insert through staging instead."""
    try:
        with conn.transaction():
            _copy(cur, "observations", mapped)
        return len(mapped), since
    except errors.UniqueViolation:
        _copy(cur, "_incoming", mapped)
        new = cur.execute(_INSERT_DEDUP).fetchall()
        return sum(n for _, _, n in new), {p: t for p, t, _ in new}
