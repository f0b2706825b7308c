"""psycopg only: the score queue, observations, settings and scores of the alerts engine
(the alerts themselves: alert_store.py).

Bulk paths go through binary COPY parsed and built with numpy structured
arrays (observations out, scores in), so that rescoring millions of rows
spends its time in numpy and PostgreSQL rather than in per-row Python.  The
connection's time zone is UTC; datetimes come back aware.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from numpy.typing import NDArray

from alerts.scoring import Observations, ScoreTable, Settings, band_levels
from ward import score_queue
from ward.news2_chart import BANDS, PARAMETERS

# score_queue.since of a claimed row until a new reading lowers it: later than any
# reading, and unlike 'infinity' a time every client library can read.
NOTHING_NEW = datetime(9999, 12, 31, tzinfo=UTC)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_ARRAY_HEAD = [("ndim", ">i4"), ("hasnull", ">i4"), ("oid", ">i4"), ("dim", ">i4"),
               ("lbound", ">i4")]


def _array(element: str) -> np.dtype:
    """A binary COPY field holding a one-dimensional array without NULLs, one element
    per NEWS2 parameter."""
    return np.dtype([("len", ">i4"), *_ARRAY_HEAD,
                     ("items", np.dtype([("len", ">i4"), ("v", element)]), (len(PARAMETERS),))])


_INT2_ARRAY = _array(">i2")
_INT8_ARRAY = _array(">i8")
_FLOAT8_ARRAY = _array(">f8")
_BOOL_ARRAY = _array("i1")
_SCORE_ROW = np.dtype([
    ("n", ">i2"),
    ("l_i", ">i4"), ("i", ">i4"),
    ("l_time", ">i4"), ("time", ">i8"),
    ("l_total", ">i4"), ("total", ">i2"),
    ("l_band", ">i4"), ("band", ">i2"),
    ("l_max", ">i4"), ("max_single", ">i2"),
    ("l_complete", ">i4"), ("complete", "i1"),
    ("sub_scores", _INT2_ARRAY),
    ("inputs", _FLOAT8_ARRAY),
    ("l_scale", ">i4"), ("spo2_scale", ">i2"),
    ("overridden", _BOOL_ARRAY),
    ("l_adj_total", ">i4"), ("adjusted_total", ">i2"),
    ("l_adj_band", ">i4"), ("adjusted_band", ">i2"),
    ("input_times", _INT8_ARRAY),
    ("stale", _BOOL_ARRAY),
    ("l_mon", ">i4"), ("monitoring_band", ">i2"),
])
_SCALARS = (("l_i", 4), ("l_time", 8), ("l_total", 2), ("l_band", 2), ("l_max", 2),
            ("l_complete", 1), ("l_scale", 2), ("l_adj_total", 2), ("l_adj_band", 2),
            ("l_mon", 2))
_OID = {"int2": 21, "float8": 701, "bool": 16, "timestamptz": 1184}
# A missing measurement time travels as -infinity (PostgreSQL's binary form of it is
# the least int64), so that the array has no NULLs on the way in; the upsert turns
# it back into NULL.
_NO_TIME = np.iinfo(np.int64).min

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS _scores_in (
    i int4, time timestamptz, total int2, band int2, max_single int2, complete bool,
    sub_scores int2[], inputs float8[], spo2_scale int2, overridden bool[],
    adjusted_total int2, adjusted_band int2, input_times timestamptz[], stale bool[],
    monitoring_band int2
) ON COMMIT DELETE ROWS
"""

_UPSERT_SCORES = """
INSERT INTO scores (time, patient_id, total, band, max_single, complete, missing, sub_scores,
                    inputs, spo2_scale, overridden, overridden_parameters, adjusted_total,
                    adjusted_band, input_times, stale, monitoring_band, scored_at)
SELECT s.time, (%(ids)s::text[])[s.i + 1], s.total, (%(bands)s::text[])[s.band + 1],
       s.max_single, s.complete,
       ARRAY(SELECT n FROM unnest(%(params)s::text[], s.sub_scores) AS u(n, v) WHERE v < 0),
       s.sub_scores,
       array_replace(s.inputs, 'NaN'::float8, NULL),
       s.spo2_scale, o.any,
       ARRAY(SELECT n FROM unnest(%(params)s::text[], s.overridden) AS u(n, v) WHERE v),
       CASE WHEN o.any THEN s.adjusted_total END,
       CASE WHEN o.any THEN (%(bands)s::text[])[s.adjusted_band + 1] END,
       array_replace(s.input_times, '-infinity'::timestamptz, NULL),
       ARRAY(SELECT n FROM unnest(%(params)s::text[], s.stale) AS u(n, v) WHERE v),
       (%(bands)s::text[])[s.monitoring_band + 1],
       clock_timestamp()
FROM _scores_in s, LATERAL (SELECT true = ANY(s.overridden) AS any) o
ON CONFLICT (patient_id, time) DO UPDATE SET
    total = EXCLUDED.total, band = EXCLUDED.band, max_single = EXCLUDED.max_single,
    complete = EXCLUDED.complete, missing = EXCLUDED.missing,
    sub_scores = EXCLUDED.sub_scores, inputs = EXCLUDED.inputs,
    spo2_scale = EXCLUDED.spo2_scale, overridden = EXCLUDED.overridden,
    overridden_parameters = EXCLUDED.overridden_parameters,
    adjusted_total = EXCLUDED.adjusted_total, adjusted_band = EXCLUDED.adjusted_band,
    input_times = EXCLUDED.input_times, stale = EXCLUDED.stale,
    monitoring_band = EXCLUDED.monitoring_band, scored_at = EXCLUDED.scored_at
"""


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


def prepare(conn: psycopg.Connection) -> None:
    """Once per connection: UTC and the scores staging table."""
    conn.execute("SET TIME ZONE 'UTC'")
    with conn.transaction():
        conn.execute(_STAGING)


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
    """Lock the patients being scored (against a rescore or another engine), in id order."""
    rows = conn.execute(
        "SELECT patient_id, ward_id, admitted_at FROM patients WHERE patient_id = ANY(%s)"
        " ORDER BY patient_id FOR NO KEY UPDATE", (list(ids),)).fetchall()
    return [PatientRow(*r) for r in rows]


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
    patient, when, param, value = (_binary_array(b, t) for b, t in
                                   zip(row, (">i4", ">i8", ">i2", ">f8"), strict=True))
    return Observations(
        patient=patient.astype(np.int64),
        time=(when.astype(np.int64) + _PG_EPOCH_US).view("datetime64[us]"),
        param=param.astype(np.int64),
        value=value.astype(np.float64),
    )


def _binary_array(data: bytes, element: str) -> NDArray:
    """The elements, flattened, of an array without NULLs in PostgreSQL's binary format:
    ndim, flags, element type, (size, lower bound) per dimension, then each element
    after its 4-byte length."""
    ndim = int.from_bytes(data[:4], "big")
    items = np.dtype([("len", ">i4"), ("v", element)])
    return np.frombuffer(data, dtype=items, offset=12 + 8 * ndim)["v"]


def spo2_readings(conn: psycopg.Connection, ids: Sequence[str], start: datetime,
                  ) -> tuple[NDArray[np.int64], NDArray[np.datetime64], NDArray[np.float64]]:
    rows = conn.execute(
        "SELECT array_position(%s::text[], patient_id) - 1, time, value FROM observations"
        " WHERE patient_id = ANY(%s) AND type = 'spo2' AND time >= %s",
        (list(ids), list(ids), start)).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    return np.array(cols[0], dtype=np.int64), as_times(cols[1]), as_floats(cols[2])


# Unordered: rows are put in (patient, time) order in numpy (one sort, not one per
# column); the arrays without an accepted range or a stale value skip their subquery.
_SCORE_ARRAYS = """
    array_send(array_agg((q.i - 1)::int4)),
    array_send(array_agg(s.time)),
    array_send(array_agg(s.total)),
    array_send(array_agg((array_position(%(bands)s::text[], s.band) - 1)::int2)),
    array_send(array_agg(s.max_single)),
    array_send(array_agg(s.complete)),
    array_send(array_agg(s.spo2_scale)),
    array_send(array_agg(s.sub_scores)),
    array_send(array_agg(array_replace(s.inputs, NULL, 'NaN'::float8))),
    array_send(array_agg(CASE WHEN cardinality(s.overridden_parameters) = 0 THEN %(none)s::bool[]
                          ELSE ARRAY(SELECT n = ANY(s.overridden_parameters)
                                     FROM unnest(%(params)s::text[]) AS n) END)),
    array_send(array_agg(coalesce(s.adjusted_total, s.total))),
    array_send(array_agg((array_position(%(bands)s::text[], coalesce(s.adjusted_band, s.band))
                          - 1)::int2)),
    array_send(array_agg(CASE WHEN cardinality(s.input_times) = %(k)s
                              THEN array_replace(s.input_times, NULL, '-infinity')
                              ELSE array_fill('-infinity'::timestamptz, ARRAY[%(k)s::int]) END)),
    array_send(array_agg(CASE WHEN cardinality(s.stale) = 0 THEN %(none)s::bool[]
                          ELSE ARRAY(SELECT n = ANY(s.stale)
                                     FROM unnest(%(params)s::text[]) AS n) END)),
    array_send(array_agg((array_position(%(bands)s::text[],
                                         coalesce(s.monitoring_band, s.adjusted_band, s.band))
                          - 1)::int2))
"""
_SCORE_KINDS = (">i4", ">i8", ">i2", ">i2", ">i2", "i1", ">i2", ">i2", ">f8", "i1", ">i2", ">i2",
                ">i8", "i1", ">i2")


def load_scores(conn: psycopg.Connection, ids: Sequence[str], start: Sequence[datetime],
                end: Sequence[datetime | None]) -> ScoreTable:
    """Stored scores of ``ids[i]`` with ``start[i] <= time < end[i]`` (None: no end),
    sorted by patient and time, each column read as one binary array, as
    ``load_observations`` does (one index scan per patient).  Rows scored before
    migration 005 read with their own band as monitoring band and no times."""
    row = conn.execute(
        f"""SELECT {_SCORE_ARRAYS}
           FROM unnest(%(ids)s::text[], %(start)s::timestamptz[], %(end)s::timestamptz[])
                WITH ORDINALITY AS q(p, s, e, i)
           CROSS JOIN LATERAL (SELECT * FROM scores s WHERE s.patient_id = q.p
                AND s.time >= q.s AND s.time < coalesce(q.e, 'infinity') OFFSET 0) s""",
        {"bands": list(BANDS), "params": list(PARAMETERS), "ids": list(ids),
         "start": list(start), "end": list(end), "none": [False] * len(PARAMETERS),
         "k": len(PARAMETERS)}).fetchone()
    if row is None or row[0] is None:
        return ScoreTable.empty()
    cols = [_binary_array(b, t) for b, t in zip(row, _SCORE_KINDS, strict=True)]
    k = len(PARAMETERS)
    order = np.lexsort((cols[1], cols[0]))
    cols = [c.reshape(len(order), -1)[order].reshape(-1) for c in cols]
    names = np.array(BANDS)
    times = cols[12].astype(np.int64)
    return ScoreTable(
        patient=cols[0].astype(np.int64),
        time=(cols[1].astype(np.int64) + _PG_EPOCH_US).view("datetime64[us]"),
        total=cols[2].astype(np.int8),
        band=names[cols[3]].astype("<U10"),
        max_single=cols[4].astype(np.int8),
        complete=cols[5].astype(bool),
        spo2_scale=cols[6].astype(np.int8),
        sub_scores=cols[7].astype(np.int8).reshape(-1, k),
        inputs=cols[8].astype(np.float64).reshape(-1, k),
        overridden=cols[9].astype(bool).reshape(-1, k),
        adjusted_total=cols[10].astype(np.int8),
        adjusted_band=names[cols[11]].astype("<U10"),
        input_times=np.where(times == _NO_TIME, np.iinfo(np.int64).min,
                             times + _PG_EPOCH_US).view("datetime64[us]").reshape(-1, k),
        stale=cols[13].astype(bool).reshape(-1, k),
        monitoring_band=names[cols[14]].astype("<U10"),
    )


@dataclass(frozen=True, slots=True)
class Carry:
    """What each patient's last stored score before its ``since`` carries into the
    scores from ``since`` on.

    level : int8 per patient, the score's effective level (SQL ``effective_band``),
        -1 when there is no such score; however old: a high score followed by
        silence still demands 15-min monitoring a day later
    known : bool per patient, the score holds every input with its measurement time
        (scores since migration 005)
    inputs : its inputs as observation rows (patients with ``known`` only)

    The latest fresh value of each parameter at any instant at or after ``since`` is
    the latest among the readings from ``since`` on and these inputs: the score at
    their instant took the latest reading of each parameter before it, and every
    reading timed before ``since`` is in it, since a reading queues its patient
    from its own time on (``score_queue.since`` only falls until the scores from it
    are written).  So the engine reads a patient's readings from ``since`` on, not
    the whole freshness window before it."""

    level: NDArray[np.int8]
    known: NDArray[np.bool_]
    inputs: Observations


def load_carry(conn: psycopg.Connection, ids: Sequence[str],
               before: Sequence[datetime]) -> Carry:
    rows = conn.execute(
        """SELECT q.i - 1, array_position(%(bands)s::text[], effective_band(
                  l.complete, l.band, l.adjusted_band, l.monitoring_band)) - 1,
                  cardinality(l.input_times) = %(k)s AND cardinality(l.inputs) = %(k)s,
                  l.inputs, l.input_times
           FROM unnest(%(ids)s::text[], %(before)s::timestamptz[]) WITH ORDINALITY AS q(p, b, i)
           JOIN LATERAL (SELECT complete, band, adjusted_band, monitoring_band, inputs,
                                input_times FROM scores s
                         WHERE s.patient_id = q.p AND s.time < q.b
                         ORDER BY s.time DESC LIMIT 1) l ON true""",
        {"bands": list(BANDS), "ids": list(ids), "before": list(before),
         "k": len(PARAMETERS)}).fetchall()
    level = np.full(len(ids), -1, np.int8)
    known = np.zeros(len(ids), bool)
    patient, when, param, value = [], [], [], []
    for i, lvl, complete_row, inputs, times in rows:
        level[i] = lvl
        if not complete_row:
            continue
        known[i] = True
        for k, (v, t) in enumerate(zip(inputs, times, strict=True)):
            if v is not None and t is not None:
                patient.append(i)
                when.append(t)
                param.append(k)
                value.append(v)
    return Carry(level, known, Observations(
        patient=np.array(patient, np.int64), time=as_times(when),
        param=np.array(param, np.int64), value=np.array(value, np.float64)))


def latest_score_times(conn: psycopg.Connection, ids: Sequence[str]) -> dict[str, datetime]:
    """The time of each patient's latest score (patients never scored are left out)."""
    rows = conn.execute("SELECT patient_id, max(time) FROM scores WHERE patient_id = ANY(%s)"
                        " GROUP BY patient_id", (list(ids),)).fetchall()
    return {r[0]: r[1] for r in rows}


def scores_at(conn: psycopg.Connection, keys: Sequence[tuple[str, datetime]],
              ) -> dict[tuple[str, datetime], tuple[int, str]]:
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT s.patient_id, s.time, s.total, s.band FROM unnest(%s::text[], %s::timestamptz[])"
        " AS k(p, t) JOIN scores s ON s.patient_id = k.p AND s.time = k.t",
        ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def write_scores(conn: psycopg.Connection, table: ScoreTable, ids: Sequence[str]) -> int:
    """Upsert the rows (a rescore replaces a score at the same instant) via binary COPY."""
    if len(table) == 0:
        return 0
    rows = np.zeros(len(table), dtype=_SCORE_ROW)
    rows["n"] = 15
    for name, size in _SCALARS:
        rows[name] = size
    rows["i"] = table.patient
    rows["time"] = table.time.astype("datetime64[us]").view(np.int64) - _PG_EPOCH_US
    rows["total"] = table.total
    rows["band"] = band_levels(table.band)
    rows["max_single"] = table.max_single
    rows["complete"] = table.complete
    rows["spo2_scale"] = table.spo2_scale
    rows["adjusted_total"] = table.adjusted_total
    rows["adjusted_band"] = band_levels(table.adjusted_band)
    rows["monitoring_band"] = band_levels(table.monitoring_band)
    times = table.input_times.astype("datetime64[us]")
    for name, oid, values, element in (
            ("sub_scores", _OID["int2"], table.sub_scores, 2),
            ("inputs", _OID["float8"], table.inputs, 8),
            ("overridden", _OID["bool"], table.overridden, 1),
            ("input_times", _OID["timestamptz"],
             np.where(np.isnat(times), _NO_TIME, times.view(np.int64) - _PG_EPOCH_US), 8),
            ("stale", _OID["bool"], table.stale, 1)):
        column = rows[name]
        length = column.dtype.itemsize - 4  # the field's bytes after its own length
        column["len"], column["ndim"], column["oid"], column["dim"], column["lbound"] = (
            length, 1, oid, len(PARAMETERS), 1)
        column["items"]["len"] = element
        column["items"]["v"] = values
    with conn.cursor() as cur:
        with cur.copy("COPY _scores_in FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
            copy.write(rows.tobytes())
            copy.write(b"\xff\xff")
        cur.execute(_UPSERT_SCORES, {"ids": list(ids), "bands": list(BANDS),
                                     "params": list(PARAMETERS)})
        cur.execute("TRUNCATE _scores_in")
    return len(table)


def as_floats(values: Sequence[object]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def as_times(values: Sequence[datetime | None]) -> NDArray[np.datetime64]:
    """Aware datetimes as naive-UTC datetime64[us], NaT for None."""
    return np.array([np.datetime64("NaT") if v is None else
                     np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "us")
                     for v in values], dtype="datetime64[us]")
