"""psycopg only: write one batch in one transaction, then the caller acks.

Readings are mapped onto patients with a cached copy of the device
assignments, checked against the database's assignment version inside the
same transaction (a device registered a moment ago is always seen), and
COPied straight into the hypertable.  Should a reading already be stored, the
unique index (device, type, time) refuses the COPY, and the batch goes
through a staging table instead, in arrival order:

- a new reading is inserted (the first of its key, if the batch has several);
- the same value again is a retransmission: stored once, a duplicate;
- another value is a correction: the row takes it, so it is what scores from
  now on, and the value it replaced goes to `observation_revisions`
  (append-only) with both arrival times and the correcting message's id.
  Several values for one reading in a batch are a chain: the last wins, and
  each one it passed through is a revision.

The staged insert locks the readings it found stored, in key order (ON
CONFLICT DO UPDATE ... WHERE false locks without writing), before the next
statement reads their values, so two workers correcting one reading at once
are put in order and each revision names the value it really replaced.
Arrival order is the only order the ward knows: docs/ingest.md says what
that means for a message redelivered late.  The same transaction queues the
patients for rescoring from the earliest new or corrected reading, and keeps
refused messages and device status.  A batch without a stored reading never
sees any of this: the COPY is the whole write."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg import errors

from ingest import jsontext
from ingest.assignments import Assignment, AssignmentIndex, map_observations
from ingest.rows import Batch, MappedRow, RejectionRow, StatusRow, Written
from ward import score_queue

_COLUMNS = "time, patient_id, device_id, type, value, received_at"
_TYPES = ["timestamptz", "text", "text", "text", "float8", "timestamptz"]

# n: arrival order (COPY assigns it row by row), which decides which of two
# values for one reading in a batch came last.
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS _incoming (
    time timestamptz, patient_id text, device_id text, type text,
    value double precision, received_at timestamptz, message_id text,
    n bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DELETE ROWS
"""
_STAGED_TYPES = [*_TYPES, "text"]

# New readings go in; the stored ones are locked (the WHERE false updates
# nothing) so that their values hold until this transaction ends.
_INSERT_NEW = f"""
WITH ins AS (
    INSERT INTO observations ({_COLUMNS})
    SELECT DISTINCT ON (device_id, type, time) {_COLUMNS} FROM _incoming
    ORDER BY device_id, type, time, n
    ON CONFLICT (device_id, type, time) DO UPDATE SET value = observations.value WHERE false
    RETURNING patient_id, time
)
SELECT patient_id, min(time), count(*) FROM ins GROUP BY patient_id
"""

# Each staged value against the one before it (the stored value for the
# first): where it differs, a correction.  Each correction replaces the
# previous correction's value, or the stored one; the last is the new value.
# A new statement, so it sees the rows locked above as they now are.
_CORRECT = """
WITH steps AS (
    SELECT o.patient_id, i.device_id, i.type, i.time, i.value, i.received_at, i.message_id, i.n,
           o.value AS stored_value, o.received_at AS stored_received_at,
           i.value <> lag(i.value, 1, o.value) OVER (
               PARTITION BY i.device_id, i.type, i.time ORDER BY i.n) AS changed
    FROM _incoming i CROSS JOIN LATERAL (
        -- An index probe per staged reading (LIMIT: unique anyway, and it
        -- keeps the planner from scanning whole chunks to join them).
        SELECT patient_id, value, received_at FROM observations o
        WHERE o.device_id = i.device_id AND o.type = i.type AND o.time = i.time LIMIT 1
    ) o
),
changes AS (
    SELECT patient_id, device_id, type, time, value, received_at, message_id, n,
           lag(value, 1, stored_value) OVER w AS previous_value,
           lag(received_at, 1, stored_received_at) OVER w AS previous_received_at
    FROM steps WHERE changed
    WINDOW w AS (PARTITION BY device_id, type, time ORDER BY n)
),
revisions AS (
    INSERT INTO observation_revisions (time, patient_id, device_id, type, previous_value,
                                       previous_received_at, value, received_at, message_id)
    SELECT time, patient_id, device_id, type, previous_value, previous_received_at, value,
           received_at, message_id
    FROM changes ORDER BY n
),
updated AS (
    UPDATE observations o SET value = c.value, received_at = c.received_at
    FROM (SELECT DISTINCT ON (device_id, type, time) * FROM changes
          ORDER BY device_id, type, time, n DESC) c
    WHERE o.device_id = c.device_id AND o.type = c.type AND o.time = c.time
)
SELECT patient_id, min(time), count(*) FROM changes GROUP BY patient_id
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


def _copy(cur: psycopg.Cursor, rows: list[MappedRow]) -> None:
    with cur.copy(f"COPY observations ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_TYPES)
        for r in rows:
            copy.write_row(r)


def _stage(cur: psycopg.Cursor, rows: list[MappedRow], message_ids: list[str | None]) -> None:
    with cur.copy(f"COPY _incoming ({_COLUMNS}, message_id) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_STAGED_TYPES)
        for r, message_id in zip(rows, message_ids, strict=True):
            copy.write_row((*r, message_id))


def write_batch(
    conn: psycopg.Connection, batch: Batch, assignments: AssignmentIndex
) -> tuple[Written, AssignmentIndex]:
    """Store a batch in one transaction: how many readings were new, which
    had no patient and how many corrected a stored value (the rest were
    stored before: duplicates); and the assignment index, reloaded if the
    database's had moved on."""
    stored, corrected, unassigned = 0, 0, frozenset[int]()
    with conn.transaction(), conn.cursor() as cur:
        if batch.observations:
            row = cur.execute("SELECT version FROM assignment_version").fetchone()
            if row is None or row[0] != assignments.version:
                assignments = load_assignments(conn)
            mapped, unassigned, since = map_observations(batch.observations, assignments)
            if mapped:
                stored, corrected, since = _insert(conn, cur, mapped, since, batch, unassigned)
            if since:
                score_queue.enqueue(cur, list(since), list(since.values()))
        rejections = batch.rejections(unassigned)
        if rejections:
            _copy_rejections(cur, rejections)
        if batch.statuses:
            _insert_statuses(cur, batch.statuses)
        if batch.last_seen:
            cur.execute(
                "UPDATE devices d SET last_seen = greatest(d.last_seen, s.seen)"
                " FROM unnest(%s::text[], %s::timestamptz[]) AS s(device_id, seen)"
                " WHERE d.device_id = s.device_id",
                (list(batch.last_seen), list(batch.last_seen.values())),
            )
        if batch.forget:
            cur.execute(
                "DELETE FROM ingest_attempts WHERE message_key = ANY(%s)", (list(batch.forget),)
            )
    return Written(stored, unassigned, corrected), assignments


def _copy_rejections(cur: psycopg.Cursor, rejections: Sequence[RejectionRow]) -> None:
    with cur.copy(
        "COPY rejected_messages (received_at, topic, device_id, message_id,"
        " reason_code, reason, whole, payload) FROM STDIN"
    ) as copy:
        for r in rejections:
            copy.write_row(
                (
                    r.received_at,
                    _text(r.topic),
                    _text(r.device_id),
                    _text(r.message_id),
                    r.reason_code,
                    _text(r.reason),
                    r.whole,
                    r.payload,
                )
            )


def _insert_statuses(cur: psycopg.Cursor, statuses: Sequence[StatusRow]) -> None:
    cur.executemany(
        "INSERT INTO device_status"
        " (time, device_id, online, battery, firmware, signal, raw)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (s.time, s.device_id, s.online, s.battery, s.firmware, s.signal, json.dumps(s.raw))
            for s in statuses
        ],
    )


def _text(value: str | None) -> str | None:
    """Text a rejection row can hold, whatever came in (the decoders quote
    what they refuse, escaped; this is the last guard, so that keeping a bad
    message can never fail too)."""
    if value is None or jsontext.storable(value):
        return value
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def attempts_known(conn: psycopg.Connection, keys: list[bytes]) -> set[bytes]:
    """Which of these messages were tried again before."""
    rows = conn.execute(
        "SELECT message_key FROM ingest_attempts WHERE message_key = ANY(%s)", (keys,)
    ).fetchall()
    return {bytes(r[0]) for r in rows}


def count_first_attempts(conn: psycopg.Connection, keys: list[bytes]) -> None:
    """The first attempt at each of these messages since they came again,
    counted (committed) before they are tried together."""
    conn.execute(
        "INSERT INTO ingest_attempts (message_key, attempts)"
        " SELECT k, 1 FROM unnest(%s::bytea[]) AS k"
        " ON CONFLICT (message_key) DO UPDATE"
        " SET attempts = ingest_attempts.attempts + 1, last_at = now()",
        (keys,),
    )


def count_attempt(conn: psycopg.Connection, key: bytes) -> tuple[int, str | None]:
    """One more attempt at the message `key`, committed before it is made (so
    that a worker dying in it still counts): the attempts so far, this one
    included, and the last failure seen."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO ingest_attempts (message_key, attempts) VALUES (%s, 1)"
            " ON CONFLICT (message_key) DO UPDATE"
            " SET attempts = ingest_attempts.attempts + 1, last_at = now()"
            " RETURNING attempts, last_error",
            (key,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def note_failure(conn: psycopg.Connection, key: bytes, error: str) -> None:
    """Why the attempt at `key` failed, for the row that keeps it at last."""
    conn.execute(
        "UPDATE ingest_attempts SET last_error = %s WHERE message_key = %s",
        (_text(error), key),
    )


def _insert(
    conn: psycopg.Connection,
    cur: psycopg.Cursor,
    mapped: list[MappedRow],
    since: dict[str, datetime],
    batch: Batch,
    unassigned: frozenset[int],
) -> tuple[int, int, dict[str, datetime]]:
    """COPY straight in; on a reading stored before, stage the batch, insert
    the new readings and apply the corrections.  Returns the readings new,
    the corrected, and each patient's earliest of either."""
    try:
        with conn.transaction():
            _copy(cur, mapped)
        return len(mapped), 0, since
    except errors.UniqueViolation:
        by_ref = batch.message_ids()
        # map_observations keeps the batch's order, leaving out the unassigned.
        message_ids = [
            by_ref[r.ref] if by_ref else None for r in batch.observations if r.ref not in unassigned
        ]
        _stage(cur, mapped, message_ids)
        new = cur.execute(_INSERT_NEW).fetchall()
        changed = cur.execute(_CORRECT).fetchall()
        first: dict[str, datetime] = {}
        for patient, t, _ in (*new, *changed):
            first[patient] = min(t, first.get(patient, t))
        return sum(n for _, _, n in new), sum(n for _, _, n in changed), first
