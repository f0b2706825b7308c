"""What of a patient's score and SpO2 history the alert rules can still use: pure.

The engine judges every batch on the patient's recent history: the trend rule on
6 h of complete scores, the NEWS2 alert on the latest score that demanded one,
the SpO2 fall on the last hour of readings.  At one set a second that is 21,600
scores and 3,600 SpO2 readings per patient per batch, re-read every time
(issue 12).  But the rules ask few questions of it, each answered by a few rows:

- trend (rules.score_rising): the latest complete total in the window and the
  lowest.  A complete row matters only while no later complete row scores as low
  or lower: the later one stays in every window longer.  That leaves a staircase of
  at most 21 rows (totals 0..20), the latest complete row among them.
- NEWS2 (news2_conditions): the latest row (the carry, and what the retrospective
  rule compares the first new row with); the latest raised row and the row after
  it (its clear time); and for each of those two, the stretch since the complete
  set before it (``_basis`` and ``_reds``), of which only the complete set, the
  latest row at each band level and the latest row where each parameter scored 3
  can answer anything.
- SpO2 fall (rules.spo2_falling): the latest reading and the highest: a staircase
  again, each kept reading higher than every later one.

Rows older than the longest window (the trend's 6 h; the fall rule's hour) can
never count again as time only moves on: they go too, but for the latest score,
which carries its inputs however old.  Kept rows are rows of the history, in
order, so the rules give the same answers on them as on everything
(tests/alerts/test_context_summary.py checks that on random histories).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from alerts import rules
from alerts.scoring import ScoreTable
from ward.news2_chart import BANDS, RED

# How far back the alert rules look at scores and at SpO2 readings.
SCORE_WINDOW = max(rules.SCORE_RISE_WINDOW, np.timedelta64(rules.HOLD))
SPO2_WINDOW = rules.SPO2_FALL_WINDOW


def keep_scores(history: ScoreTable, now: np.datetime64,
                window: np.timedelta64 = SCORE_WINDOW) -> NDArray[np.bool_]:
    """Which rows of ``history`` (sorted by patient and time) the alert rules can still
    use at ``now`` or later, for every patient's next batch of new scores."""
    n = len(history)
    keep = np.zeros(n, bool)
    if n == 0:
        return keep
    patient = history.patient
    last = np.r_[patient[1:] != patient[:-1], True]
    complete = np.asarray(history.complete, bool)
    alert = history.alert_level.astype(np.int64)
    effective = np.where(complete, alert, history.monitoring_level).astype(np.int64)
    raised = rules.level_severity(effective) > 0
    keep |= last
    keep |= complete & _below_every_later(patient, history.adjusted_total, complete)
    latest_raised = raised & ~_any_later(patient, raised)
    keep |= latest_raised
    keep[1:] |= latest_raised[:-1] & (patient[1:] == patient[:-1])  # the clear row after
    red = np.asarray(history.sub_scores) >= RED
    for anchor in (last, latest_raised):
        keep |= _stretch_witnesses(patient, complete, alert, red, anchor)
    old = history.time < np.datetime64(now, "us") - window
    return keep & (~old | last)


def keep_readings(patient: NDArray[np.int64], time: NDArray[np.datetime64],
                  value: NDArray[np.float64], now: np.datetime64,
                  window: np.timedelta64 = SPO2_WINDOW) -> NDArray[np.bool_]:
    """Which readings (sorted by patient, then time) the fall rule can still use at
    ``now`` or later: each higher than every later reading of its patient, within
    ``window``; NaN readings count for nothing."""
    value = np.asarray(value, np.float64)
    real = ~np.isnan(value)
    higher = real & _below_every_later(np.asarray(patient), -np.where(real, value, -np.inf),
                                       real)
    return higher & (np.asarray(time) >= np.datetime64(now, "us") - window)


def _below_every_later(patient: NDArray[np.int64], value: NDArray, counted: NDArray[np.bool_],
                       ) -> NDArray[np.bool_]:
    """Per row: ``value`` is below that of every later ``counted`` row of its patient."""
    v = np.where(counted, np.asarray(value, np.float64), np.inf)
    return v < _later_least(patient, v)


def _any_later(patient: NDArray[np.int64], flag: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Per row: a later row of the same patient has ``flag``."""
    return _later_least(patient, np.where(flag, 0.0, np.inf)) == 0


def _later_least(patient: NDArray[np.int64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row, the least ``v`` among the later rows of its patient (inf: none)."""
    n = len(patient)
    later = np.full(n, np.inf)
    if n == 0:
        return later
    ends = np.flatnonzero(np.r_[patient[1:] != patient[:-1], True])
    starts = np.r_[0, ends[:-1] + 1]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if b > a:  # a running minimum over the patient's rows taken backwards
            later[a:b] = np.minimum.accumulate(v[a + 1:b + 1][::-1])[::-1]
    return later


def _stretch_witnesses(patient: NDArray[np.int64], complete: NDArray[np.bool_],
                       alert: NDArray[np.int64], red: NDArray[np.bool_],
                       anchor: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """For each anchor row, the rows of its stretch (from the last complete set
    before it) that ``_basis`` and ``_reds`` can ask about: that complete set, the
    latest row at each band level and the latest row where each parameter scored 3."""
    n = len(patient)
    keep = np.zeros(n, bool)
    index = np.arange(n)
    # The last complete row before each row (-1: none), and each patient's first row.
    before = np.r_[-1, np.maximum.accumulate(np.where(complete, index, -1))[:-1]]
    first = np.r_[0, np.flatnonzero(patient[1:] != patient[:-1]) + 1]
    first_of = first[np.searchsorted(first, index, side="right") - 1]
    rows = np.flatnonzero(anchor)
    start = np.maximum(before[rows], first_of[rows])
    keep[start] = True
    # For each kind of witness, the latest such row up to each anchor: kept when it lies
    # in the anchor's stretch (a row of an earlier patient lies before its start).
    witnesses = [alert == level for level in range(len(BANDS))] + list(red.T)
    for w in witnesses:
        latest = np.maximum.accumulate(np.where(w, index, -1))[rows]
        keep[latest[latest >= start]] = True
    return keep
