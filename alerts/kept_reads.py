"""psycopg and the engine's kept history: what a batch reads, and a tick's trend
windows, taken from what the engine kept (alerts/context_cache.py) where that still
stands for the database, and read where it does not (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import psycopg
from numpy.typing import NDArray

from alerts import rules, score_reads, store
from alerts.context_cache import ContextCache, Kept
from alerts.context_summary import SCORE_WINDOW
from alerts.numpy_times import as_datetime64, as_timedelta
from alerts.scoring import Observations, ScoreTable

_CONTEXT = as_timedelta(SCORE_WINDOW)
_SPO2_WINDOW = as_timedelta(rules.SPO2_FALL_WINDOW)
_END = np.datetime64("9999-12-31", "us")  # a tick judges no new readings


@dataclass(frozen=True, slots=True)
class BatchInputs:
    """A batch's patients' score context (``begin <= time < since``), carry, and
    observations from ``since`` on with SpO2 over the fall rule's hour; ``kept``: per
    patient, its context came from the kept history."""

    context: ScoreTable
    carry: score_reads.Carry
    obs: Observations
    kept: NDArray[np.bool_]


def batch_inputs(conn: psycopg.Connection, cache: ContextCache | None, pids: list[str],
                 starts: list[datetime], epochs: list[int], now: datetime,
                 freshness: timedelta) -> BatchInputs:
    """``epochs``: each patient's score epoch before this batch's; ``cache`` None: read all."""
    since = store.as_times(starts)
    begin = [min(s, now - _CONTEXT) for s in starts]
    at = as_datetime64(now)
    if cache is None:
        hit, kept = np.zeros(len(pids), bool), Kept.empty()
    else:
        hit = cache.usable(pids, epochs, since, at)
        kept = cache.kept(pids, np.flatnonzero(hit), store.as_times(begin), since)
    context, carry = kept.context, score_reads.carry_of(kept.last, np.ones(len(kept.last), bool),
                                                        len(pids))
    read = np.flatnonzero(~hit)
    if len(read):
        table, found = score_reads.load_context(
            conn, [pids[i] for i in read], [begin[i] for i in read], [starts[i] for i in read])
        carry.level[read], carry.known[read] = found.level, found.known
        carry = score_reads.Carry(carry.level, carry.known, score_reads.merge_by_patient(
            carry.inputs, Observations(read[found.inputs.patient], found.inputs.time,
                                       found.inputs.param, found.inputs.value)))
        context = context.merged(reindexed(table, read))
    # A patient whose last score carries its inputs is read from ``since`` on (see
    # score_reads.Carry); one without (never scored, or scored before migration 005) over
    # the whole freshness window before it.  SpO2 over the fall rule's hour, but for the
    # patients whose kept readings stand for it.
    obs = store.load_observations(
        conn, pids,
        [s if known else s - freshness for s, known in zip(starts, carry.known, strict=True)],
        [s if k else now - _SPO2_WINDOW for s, k in zip(starts, hit, strict=True)])
    return BatchInputs(context, carry, score_reads.merge_by_patient(kept.spo2, obs), hit)


def trend_scores(conn: psycopg.Connection, cache: ContextCache | None, pids: list[str],
                 now: datetime) -> tuple[ScoreTable, int]:
    """The scores of the trend window of ``pids`` (a tick's patients with a live trend
    alert), and how many patients' came from the kept history: kept where nothing was
    written since (the rule asks for the latest and the lowest complete total:
    context_summary), else read.  Every tick asks it for every such patient: at a set
    a second, reading each one's 6 h would be 21,600 scores a patient."""
    window = now - _CONTEXT
    end = np.full(len(pids), _END)
    if cache is None:
        ok, kept = np.zeros(len(pids), bool), Kept.empty()
    else:
        ok = cache.usable(pids, store.score_epochs(conn, pids), end, as_datetime64(now),
                          count=False)
        kept = cache.kept(pids, np.flatnonzero(ok), store.as_times([window] * len(pids)), end)
    read = np.flatnonzero(~ok)
    if not len(read):
        return kept.context, int(ok.sum())
    table = score_reads.load_scores(conn, [pids[i] for i in read], [window] * len(read),
                                    [None] * len(read))
    return kept.context.merged(reindexed(table, read)), int(ok.sum())


def reindexed(t: ScoreTable, index: NDArray[np.int64]) -> ScoreTable:
    """``t`` with its patient indices ``i`` as ``index[i]``."""
    return replace(t, patient=index[t.patient].astype(np.int64)) if len(t) else t


def by_time(o: Observations) -> Observations:
    """Rows sorted by patient, then time (stable)."""
    order = np.lexsort((o.time, o.patient))
    return Observations(o.patient[order], o.time[order], o.param[order], o.value[order])
