"""psycopg only: the score queue, observations and settings the alerts engine reads
(stored scores: score_reads.py and score_writes.py; alerts: alert_store.py).

Observations come back as one binary array per column that numpy reads in place
(pg_binary.py), so that rescoring millions of rows spends its time in numpy and
PostgreSQL rather than in per-row Python.  The connection's time zone is UTC;
datetimes come back aware.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from numpy.typing import NDArray

from alerts import pg_binary, score_writes
from alerts.scoring import Observations, Settings
from ward import score_queue
from ward.news2_chart import PARAMETERS

# score_queue.since of a claimed row until a new reading lowers it: later than any
# reading, and unlike 'infinity' a time every client library can read.
NOTHING_NEW = datetime(9999, 12, 31, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True)
class Claim:
    patient_id: str
    since: datetime
    enqueued_at: datetime


@dataclass(frozen=True, slots=True)
class PatientRow:
    patient_id: str
    ward_id: str
    admitted_at: datetime
    score_epoch: int = 0  # as this transaction leaves it (migration 024)


def prepare(conn: psycopg.Connection) -> None:
    """Once per connection: UTC and the scores staging table."""
    conn.execute("SET TIME ZONE 'UTC'")
    score_writes.prepare(conn)


# --- the queue ---------------------------------------------------------------------------


def claim(conn: psycopg.Connection, engine_id: str, limit: int, claim_for: timedelta,
          wards: Sequence[str], *, own: bool = False) -> list[Claim]:
    """Claim up to ``limit`` queued patients nobody else holds (with ``own``, also those
    this engine held before a restart); the claim is committed at once so other engines
    skip them.  A claim of this engine that failed is not taken again before it expires.

    The claimed ``since`` moves to ``claimed_since`` and ``since`` becomes ``NOTHING_NEW``, so
    that a reading queued meanwhile leaves its own time there (ingest keeps the least)
    and a crash loses nothing (the next claim takes the least of the two)."""
    ward_filter = ("AND patient_id IN (SELECT patient_id FROM patients WHERE ward_id = ANY(%(w)s))"
                   if wards else "")
    with conn.transaction():
        rows = conn.execute(
            f"""UPDATE score_queue q SET claimed_by = %(me)s,
                       claimed_until = clock_timestamp() + %(for)s,
                       claimed_since = least(q.since, q.claimed_since),
                       since = %(nothing)s
                WHERE q.patient_id IN (
                    SELECT patient_id FROM score_queue
                    WHERE (claimed_until IS NULL OR claimed_until < clock_timestamp()
                           OR (%(own)s AND claimed_by = %(me)s)) {ward_filter}
                    ORDER BY enqueued_at LIMIT %(n)s FOR UPDATE SKIP LOCKED)
                RETURNING q.patient_id, q.claimed_since, q.enqueued_at""",
            {"me": engine_id, "for": claim_for, "n": limit, "w": list(wards), "own": own,
             "nothing": NOTHING_NEW}).fetchall()
    return [Claim(*r) for r in rows]


def finish(conn: psycopg.Connection, engine_id: str, claims: Sequence[Claim]) -> int:
    """In the scoring transaction: delete the queue rows not re-enqueued meanwhile; hand
    the others back with only what came after the claim.  Returns how many were deleted."""
    ids = [c.patient_id for c in claims]
    # Lock the rows in patient order first, as every writer does (ward/score_queue.py):
    # a writer queueing these patients meanwhile then waits instead of deadlocking.
    conn.execute("SELECT 1 FROM score_queue WHERE patient_id = ANY(%s) ORDER BY patient_id"
                 " FOR UPDATE", (ids,))
    done = conn.execute(
        "DELETE FROM score_queue q USING unnest(%s::text[], %s::timestamptz[]) AS c(p, e)"
        " WHERE q.patient_id = c.p AND q.enqueued_at = c.e AND q.claimed_by = %s",
        (ids, [c.enqueued_at for c in claims], engine_id)).rowcount
    conn.execute("UPDATE score_queue SET claimed_by = NULL, claimed_until = NULL,"
                 " claimed_since = NULL WHERE patient_id = ANY(%s) AND claimed_by = %s",
                 (ids, engine_id))
    return done


def release(conn: psycopg.Connection, engine_id: str) -> None:
    """Hand back this engine's claims (on a clean stop), so another engine takes them at
    once, with nothing lost."""
    conn.execute("UPDATE score_queue SET since = least(since, claimed_since), claimed_by = NULL,"
                 " claimed_until = NULL, claimed_since = NULL WHERE claimed_by = %s",
                 (engine_id,))


def enqueue_ended_settings(conn: psycopg.Connection, after: datetime, until: datetime) -> int:
    """A setting that reached its end date changes the score from then: rescore."""
    rows = conn.execute(
        "SELECT patient_id, min(valid_to) FROM patient_settings WHERE valid_to > %s"
        " AND valid_to <= %s GROUP BY patient_id", (after, until)).fetchall()
    if rows:
        score_queue.enqueue(conn, [r[0] for r in rows], [r[1] for r in rows])
    return len(rows)


# --- scoring inputs ------------------------------------------------------------------------


def record_failure(conn: psycopg.Connection, patient_id: str, error: str, now: datetime) -> int:
    """Count one more failure to score ``patient_id`` (autocommit: kept whatever
    happens to the batch); returns the failures in a row so far."""
    row = conn.execute(
        "INSERT INTO scoring_failures AS f (patient_id, failures, first_failed_at, last_failed_at,"
        " last_error) SELECT %s, 1, %s, %s, %s WHERE EXISTS (SELECT 1 FROM patients"
        " WHERE patient_id = %s) ON CONFLICT (patient_id) DO UPDATE SET failures ="
        " f.failures + 1, last_failed_at = EXCLUDED.last_failed_at,"
        " last_error = EXCLUDED.last_error RETURNING failures",
        (patient_id, now, now, error[:1000], patient_id)).fetchone()
    return row[0] if row else 0


def clear_failures(conn: psycopg.Connection, ids: Sequence[str]) -> None:
    """In the scoring transaction: these patients were scored, their failures end."""
    conn.execute("DELETE FROM scoring_failures WHERE patient_id = ANY(%s)", (list(ids),))


def lock_patients(conn: psycopg.Connection, ids: Sequence[str]) -> list[PatientRow]:
    """Lock the patients being scored (against a rescore or another engine), in id order,
    and add one to their score epoch: their scores are about to be written (migration
    024, alerts/context_cache.py)."""
    rows = conn.execute(
        "WITH locked AS (SELECT patient_id FROM patients WHERE patient_id = ANY(%s)"
        "                ORDER BY patient_id FOR NO KEY UPDATE)"
        " UPDATE patients p SET score_epoch = p.score_epoch + 1 FROM locked"
        " WHERE p.patient_id = locked.patient_id"
        " RETURNING p.patient_id, p.ward_id, p.admitted_at, p.score_epoch",
        (list(ids),)).fetchall()
    return sorted((PatientRow(*r) for r in rows), key=lambda r: r.patient_id)


def score_epochs(conn: psycopg.Connection, ids: Sequence[str]) -> list[int]:
    """Each patient's score epoch (migration 024), in the order of ``ids`` (-1: no such
    patient)."""
    rows = dict(conn.execute("SELECT patient_id, score_epoch FROM patients"
                             " WHERE patient_id = ANY(%s)", (list(ids),)).fetchall())
    return [rows.get(p, -1) for p in ids]


def load_settings(conn: psycopg.Connection, ids: Sequence[str]) -> Settings:
    rows = conn.execute(
        "SELECT array_position(%s::text[], patient_id) - 1, kind, coalesce(parameter, ''),"
        " spo2_scale, low, high, valid_from, valid_to FROM patient_settings"
        " WHERE patient_id = ANY(%s) ORDER BY valid_from, setting_id",
        (list(ids), list(ids))).fetchall()
    if not rows:
        return Settings.empty()
    cols = list(zip(*rows, strict=True))
    return Settings(
        patient=np.array(cols[0], dtype=np.int64),
        kind=np.array(cols[1], dtype=str),
        parameter=np.array(cols[2], dtype=str),
        spo2_scale=as_floats(cols[3]),
        low=as_floats(cols[4]),
        high=as_floats(cols[5]),
        valid_from=as_times(cols[6]),
        valid_to=as_times(cols[7]),
    )


def load_observations(conn: psycopg.Connection, ids: Sequence[str],
                      start: Sequence[datetime],
                      spo2_start: Sequence[datetime] | None = None) -> Observations:
    """The NEWS2 observations of ``ids[i]`` from ``start[i]`` on, and its SpO2 readings
    from ``spo2_start[i]`` on too, when that is earlier (the fall rule's window).

    Each column comes back as one binary array (``array_send``) that numpy reads in
    place: no per-row work in Python, whatever the number of rows.  Each patient's
    rows come from its own index scan (the OFFSET 0 keeps the planner from turning
    the join into a scan of every chunk)."""
    row = conn.execute(
        "SELECT array_send(array_agg((q.i - 1)::int4)), array_send(array_agg(o.time)),"
        " array_send(array_agg((array_position(%(params)s::text[], o.type) - 1)::int2)),"
        " array_send(array_agg(o.value))"
        " FROM unnest(%(ids)s::text[], %(start)s::timestamptz[], %(spo2)s::timestamptz[])"
        "      WITH ORDINALITY AS q(p, s, s2, i)"
        " CROSS JOIN LATERAL (SELECT time, type, value FROM observations o"
        "      WHERE o.patient_id = q.p AND o.time >= least(q.s, q.s2)"
        "        AND o.type = ANY(%(params)s::text[]) AND (o.time >= q.s OR o.type = 'spo2')"
        "      OFFSET 0) o",
        {"params": list(PARAMETERS), "ids": list(ids), "start": list(start),
         "spo2": list(start if spo2_start is None else spo2_start)}).fetchone()
    if row is None or row[0] is None:
        return Observations.empty()
    patient, when, param, value = (pg_binary.read_array(b, t) for b, t in
                                   zip(row, (">i4", ">i8", ">i2", ">f8"), strict=True))
    return Observations(
        patient=patient.astype(np.int64),
        time=(when.astype(np.int64) + pg_binary.PG_EPOCH_US).view("datetime64[us]"),
        param=param.astype(np.int64),
        value=value.astype(np.float64),
    )


def spo2_readings(conn: psycopg.Connection, ids: Sequence[str], start: datetime,
                  ) -> tuple[NDArray[np.int64], NDArray[np.datetime64], NDArray[np.float64]]:
    """The SpO2 readings of ``ids`` from ``start`` on: (patient index, time, value), read
    as load_observations reads (one binary array per column), which a tick asks for
    every few seconds for each patient with a live trend alert: at a set a second, an
    hour of them is 3,600 rows a patient."""
    obs = load_observations(conn, ids, [NOTHING_NEW] * len(ids), [start] * len(ids))
    spo2 = obs.param == PARAMETERS.index("spo2")
    return obs.patient[spo2], obs.time[spo2], obs.value[spo2]


def as_floats(values: Sequence[object]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def as_times(values: Sequence[datetime | None]) -> NDArray[np.datetime64]:
    """Aware datetimes as naive-UTC datetime64[us], NaT for None.  A tick converts
    some 10,000 of them (every device and patient): by whole microseconds since the
    epoch, ten times faster than a datetime64 made from each (naive ones, as local
    times, take that slower way)."""
    try:
        return np.array([_NAT if v is None else (v - _EPOCH) // _MICROSECOND for v in values],
                        dtype=np.int64).view("datetime64[us]")
    except TypeError:
        return np.array([np.datetime64("NaT") if v is None else
                         np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "us")
                         for v in values], dtype="datetime64[us]")
