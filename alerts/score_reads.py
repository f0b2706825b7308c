"""psycopg only: the engine's reads of stored scores: a window of them (the context
of trends and the hold before resolving), and what the last one before a patient's
``since`` carries into the new ones (issue 12: the engine reads readings from
``since`` on, not the whole freshness window).  Each column comes back as one binary
array that numpy reads in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from numpy.typing import NDArray

from alerts import pg_binary
from alerts.scoring import Observations, ScoreTable, band_levels
from alerts.store import as_times
from ward.news2_chart import BANDS, PARAMETERS

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
                          - 1)::int2)),
    array_send(array_agg(cardinality(s.input_times) = %(k)s AND cardinality(s.inputs) = %(k)s))
"""
_SCORE_KINDS = (">i4", ">i8", ">i2", ">i2", ">i2", "i1", ">i2", ">i2", ">f8", "i1", ">i2", ">i2",
                ">i8", "i1", ">i2", "i1")


def load_scores(conn: psycopg.Connection, ids: Sequence[str], start: Sequence[datetime],
                end: Sequence[datetime | None]) -> ScoreTable:
    """Stored scores of ``ids[i]`` with ``start[i] <= time < end[i]`` (None: no end),
    sorted by patient and time, each column read as one binary array, as
    ``load_observations`` does (one index scan per patient).  Rows scored before
    migration 005 read with their own band as monitoring band and no times."""
    return _load_scores(conn, ids, start, end)[0]


def load_context(conn: psycopg.Connection, ids: Sequence[str], start: Sequence[datetime],
                 since: Sequence[datetime]) -> tuple[ScoreTable, Carry]:
    """The engine's two reads of scores before each patient's ``since`` in one: the
    context ``start[i] <= time < since[i]`` (``load_scores``) and the carry
    (``load_carry``).  The carry is the last score before ``since``: the context's
    last row when the context has one; only patients with none (never scored, or
    last scored before ``start``) are looked up on their own."""
    table, known_rows = _load_scores(conn, ids, start, since)
    n = len(ids)
    last = np.flatnonzero(np.r_[table.patient[1:] != table.patient[:-1], True]) if len(table) \
        else np.zeros(0, np.int64)
    carry = carry_of(table.take(last), known_rows[last], n)
    level, known, inputs = carry.level, carry.known, carry.inputs
    alone = np.flatnonzero(level < 0)
    if len(alone):
        rest = load_carry(conn, [ids[i] for i in alone], [since[i] for i in alone])
        level[alone] = rest.level
        known[alone] = rest.known
        inputs = merge_by_patient(inputs, Observations(
            patient=alone[rest.inputs.patient], time=rest.inputs.time,
            param=rest.inputs.param, value=rest.inputs.value))
    return table, Carry(level, known, inputs)


def carry_of(last: ScoreTable, known_rows: NDArray[np.bool_], n: int) -> Carry:
    """The carry of ``n`` patients from their last score before ``since`` (``last``: at
    most one row per patient, sorted; ``known_rows``: each carries its inputs whole)."""
    level = np.full(n, -1, np.int8)
    known = np.zeros(n, bool)
    at = last.patient
    level[at] = band_levels(np.where(last.complete, last.adjusted_band, last.monitoring_band))
    known[at] = known_rows
    rows = np.flatnonzero(known_rows)
    present = ~np.isnan(last.inputs[rows]) & ~np.isnat(last.input_times[rows])
    r, k = np.nonzero(present)
    inputs = Observations(patient=at[rows][r], time=last.input_times[rows][r, k],
                          param=k.astype(np.int64), value=last.inputs[rows][r, k])
    return Carry(level, known, inputs)


def merge_by_patient(a: Observations, b: Observations) -> Observations:
    """Rows of ``a`` and ``b`` in patient order (stable: each patient's rows keep theirs)."""
    if not len(b):
        return a
    both = a.followed_by(b)
    order = np.argsort(both.patient, kind="stable")
    return Observations(patient=both.patient[order], time=both.time[order],
                        param=both.param[order], value=both.value[order])


def _load_scores(conn: psycopg.Connection, ids: Sequence[str], start: Sequence[datetime],
                 end: Sequence[datetime | None]) -> tuple[ScoreTable, NDArray[np.bool_]]:
    """``load_scores``, with each row's ``known`` (its inputs and their times are stored
    whole: scores since migration 005; see ``Carry``)."""
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
        return ScoreTable.empty(), np.zeros(0, bool)
    cols = [pg_binary.read_array(b, t) for b, t in zip(row, _SCORE_KINDS, strict=True)]
    k = len(PARAMETERS)
    order = np.lexsort((cols[1], cols[0]))
    cols = [c.reshape(len(order), -1)[order].reshape(-1) for c in cols]
    names = np.array(BANDS)
    times = cols[12].astype(np.int64)
    return ScoreTable(
        patient=cols[0].astype(np.int64),
        time=(cols[1].astype(np.int64) + pg_binary.PG_EPOCH_US).view("datetime64[us]"),
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
        input_times=np.where(times == pg_binary.NO_TIME, np.iinfo(np.int64).min,
                             times + pg_binary.PG_EPOCH_US).view("datetime64[us]").reshape(-1, k),
        stale=cols[13].astype(bool).reshape(-1, k),
        monitoring_band=names[cols[14]].astype("<U10"),
    ), cols[15].astype(bool)


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
