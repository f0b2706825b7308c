"""The engine keeps, between batches, only the rows of a patient's history that the
alert rules can still use (alerts/context_summary.py), instead of re-reading 6 h
of scores and an hour of SpO2 readings every batch (issue 12).  Whatever it keeps,
the NEWS2, retrospective, trend and SpO2-fall conditions must be exactly those
judged on the whole history: checked here batch by batch over random wards of
patients scored from random readings (sick spells, silences that age values out,
readings that never come complete), with the kept rows carried from batch to batch
as the engine carries them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from alerts.conditions import trend_conditions
from alerts.context_summary import SCORE_WINDOW, SPO2_WINDOW, keep_readings, keep_scores
from alerts.lifecycle import NEWS2, SCORE_RISING, SPO2_FALLING
from alerts.news2_conditions import news2_conditions
from alerts.scoring import Observations, ScoreTable, Settings, score_rows
from ward.news2_chart import PARAMETERS

_T0 = np.datetime64("2026-11-01T00:00:00", "us")
_MIN = np.timedelta64(60_000_000, "us")
_SPO2 = PARAMETERS.index("spo2")
_NORMAL = {"respiratory_rate": 16, "spo2": 97, "on_oxygen": 0, "systolic_bp": 122,
           "heart_rate": 78, "consciousness": 0, "temperature": 37.0}
_SICK = {"respiratory_rate": 27, "spo2": 88, "on_oxygen": 1, "systolic_bp": 92,
         "heart_rate": 128, "consciousness": 0, "temperature": 39.2}


def _ward(rng: np.random.Generator, patients: int, hours: float) -> Observations:
    """Random readings: each parameter on its own rhythm (some never, so that sets are
    never complete), each patient sick for random spells and silent for others."""
    rows = []
    for p in range(patients):
        spells = [(rng.uniform(0, hours * 60), rng.uniform(10, 150)) for _ in range(3)]
        silent = (rng.uniform(0, hours * 60), rng.uniform(0, 400))
        for k, name in enumerate(PARAMETERS):
            every = float(rng.choice([2, 5, 30, 90, 240]))
            if p == 1 and name == "systolic_bp":
                continue  # a patient without a cuff: never a complete set
            t = float(rng.uniform(0, every))
            while t < hours * 60:
                sick = any(a <= t < a + d for a, d in spells)
                if not silent[0] <= t < silent[0] + silent[1]:
                    base = (_SICK if sick and rng.random() < 0.8 else _NORMAL)[name]
                    jitter = 0.0 if name in ("on_oxygen", "consciousness") else \
                        float(rng.normal(0, 2.5))
                    value = min(round(base + jitter, 1), 100.0) if name == "spo2" else \
                        round(base + jitter, 1)
                    rows.append((p, _T0 + np.timedelta64(int(t * 60e6), "us"), k, value))
                t += every * float(rng.uniform(0.7, 1.3))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    p, t, k, v = zip(*rows, strict=True)
    return Observations(np.array(p, np.int64), np.array(t, "datetime64[us]"),
                        np.array(k, np.int64), np.array(v, np.float64))


def _rows(t: ScoreTable, index) -> ScoreTable:
    return t.take(np.asarray(index))


def _between(t: ScoreTable, start: np.ndarray, end: np.ndarray) -> ScoreTable:
    """Rows with start[p] <= time < end[p] (per patient)."""
    return _rows(t, (t.time >= start[t.patient]) & (t.time < end[t.patient]))


def _aware(t: np.datetime64) -> datetime:
    return t.astype(datetime).replace(tzinfo=UTC)


@pytest.mark.parametrize("seed", range(6))
def test_kept_rows_judge_as_the_whole_history(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, hours = 4, 20.0
    obs = _ward(rng, n, hours)
    ids, wards = [f"p{i}" for i in range(n)], ["w"] * n
    everything = score_rows(obs, Settings.empty(), np.full(n, _T0 - _MIN), _T0 + 60 * hours * _MIN,
                            np.timedelta64(12, "h"))
    spo2 = obs.param == _SPO2
    sp, st, sv = obs.patient[spo2], obs.time[spo2], obs.value[spo2]
    kept = ScoreTable.empty()
    kept_spo2 = (np.zeros(0, np.int64), np.zeros(0, "datetime64[us]"), np.zeros(0))
    since = np.full(n, _T0 - _MIN)
    now = _T0
    judged = 0
    while now < _T0 + 60 * hours * _MIN:
        now = now + int(rng.choice([1, 3, 7, 20, 45])) * _MIN
        new = _between(everything, since, np.full(n, now + 1))
        start = np.minimum(since, now - SCORE_WINDOW)
        whole = _between(everything, start, since).merged(new)
        carried = _between(kept, start, since).merged(new)
        live = {(ids[p], kind, "") for p in range(n) for kind in (NEWS2, SCORE_RISING,
                                                                  SPO2_FALLING)
                if rng.random() < 0.5}
        covered = {ids[p]: [_aware(x) for x in whole.time[whole.patient == p][::5]]
                   for p in range(n) if rng.random() < 0.3}
        assert news2_conditions(carried, ids, wards, live, since=since, covered=covered) \
            == news2_conditions(whole, ids, wards, live, since=since, covered=covered)
        # SpO2: the engine reads the readings from since on, and the fall rule's hour before
        # it (whole) or the readings it kept (carried).
        fresh = (st >= since[sp]) & (st <= now)
        hour = fresh | (st >= now - SPO2_WINDOW)
        mine = (kept_spo2[1] < since[kept_spo2[0]])
        c_p = np.r_[kept_spo2[0][mine], sp[fresh]]
        c_t = np.r_[kept_spo2[1][mine], st[fresh]]
        c_v = np.r_[kept_spo2[2][mine], sv[fresh]]
        order = np.lexsort((c_t, c_p))
        c_p, c_t, c_v = c_p[order], c_t[order], c_v[order]
        at = _aware(now)
        assert trend_conditions(carried, c_p, c_t, c_v, at, ids, wards, live) \
            == trend_conditions(whole, sp[hour], st[hour], sv[hour], at, ids, wards, live)
        judged += len(new)
        # What the engine keeps for the next batch, from what it judged.
        kept = _rows(carried, keep_scores(carried, now))
        keep = keep_readings(c_p, c_t, c_v, now)
        kept_spo2 = (c_p[keep], c_t[keep], c_v[keep])
        assert len(kept) <= 60 * n  # bounded, whatever the history's length
        since = np.full(n, now + 1)
    assert judged == len(everything)


def test_what_is_kept_is_few_rows_of_a_long_stable_history() -> None:
    """A stable patient scoring every second for 6 h keeps a handful of rows, not 21,600:
    the last, and the staircase of complete totals."""
    times = _T0 + np.arange(21_600) * np.timedelta64(1, "s")
    obs = Observations(
        np.zeros(21_600 * len(PARAMETERS), np.int64),
        np.repeat(times, len(PARAMETERS)).astype("datetime64[us]"),
        np.tile(np.arange(len(PARAMETERS)), 21_600),
        np.array([_NORMAL[p] for p in PARAMETERS] * 21_600, np.float64))
    history = score_rows(obs, Settings.empty(), np.array([_T0]), times[-1], np.timedelta64(1, "h"))
    keep = keep_scores(history, times[-1].astype("datetime64[us]"))
    assert len(history) == 21_600
    assert 1 <= keep.sum() <= 3
    assert keep[-1]


def test_old_rows_go_but_the_last_score_stays() -> None:
    obs = Observations(np.zeros(len(PARAMETERS), np.int64),
                       np.full(len(PARAMETERS), _T0, "datetime64[us]"),
                       np.arange(len(PARAMETERS)),
                       np.array([_SICK[p] for p in PARAMETERS], np.float64))
    history = score_rows(obs, Settings.empty(), np.array([_T0]), _T0, np.timedelta64(1, "h"))
    assert history.total[0] >= 7
    assert keep_scores(history, _T0 + np.timedelta64(2, "D")).tolist() == [True]
    spo2 = keep_readings(np.array([0, 0, 0]), np.array([_T0, _T0 + _MIN, _T0 + 2 * _MIN]),
                         np.array([97.0, np.nan, 93.0]), _T0 + 2 * _MIN)
    assert spo2.tolist() == [True, False, True]
    assert keep_readings(np.array([0]), np.array([_T0]), np.array([97.0]),
                         _T0 + SPO2_WINDOW + _MIN).tolist() == [False]
