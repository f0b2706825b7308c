"""The pure parts of `vward bench realtime`: percentiles, a load's figures,
the largest load held, the table; and the vital signs it sends."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.news2 import score_news2
from alerts.rules import SPO2_FALL
from benchmarks import realtime_figures as figs
from benchmarks import realtime_vitals as vitals
from simulators.messages import COLUMN
from ward.news2_chart import PARAMETERS


def _load(patients: int, p99_ms: float, *, published: int = 100, scored: int = 100
          ) -> figs.LoadFigures:
    return figs.LoadFigures(patients, 20.0, published, scored,
                            figs.Delays(scored, p99_ms / 2, p99_ms, p99_ms * 1.5),
                            figs.Delays.of([]), float(patients), 3.0)


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert figs.percentile(values, 50) == 50
    assert figs.percentile(values, 99) == 99
    assert figs.percentile(values, 100) == 100
    assert figs.percentile(values, 0) == 1
    assert figs.percentile([7.0], 99) == 7.0
    assert figs.percentile(list(reversed(values)), 99) == 99  # order does not matter
    assert math.isnan(figs.percentile([], 50))
    with pytest.raises(ValueError):
        figs.percentile(values, 101)


def test_p99_of_a_small_sample_is_its_worst() -> None:
    # 50 sets: the 99th percentile by nearest rank is the 50th, the largest.
    assert figs.percentile([0.1] * 49 + [2.0], 99) == 2.0


def test_delays_are_in_milliseconds() -> None:
    d = figs.Delays.of([0.010, 0.020, 0.030, 1.0])
    assert d.count == 4
    assert d.p50_ms == pytest.approx(20.0)
    assert d.p99_ms == pytest.approx(1000.0) and d.max_ms == pytest.approx(1000.0)
    empty = figs.Delays.of([])
    assert empty.count == 0 and math.isnan(empty.p99_ms) and math.isnan(empty.max_ms)


def test_a_load_is_held_when_every_set_is_scored_with_p99_under_600_ms() -> None:
    assert figs.held(_load(100, 599.0))
    assert not figs.held(_load(100, 600.0))
    assert not figs.held(_load(100, 100.0, published=100, scored=99))  # a set left unscored
    assert not figs.held(_load(100, 100.0, published=0, scored=0))


def test_the_largest_load_held_is_the_most_patients_held_not_the_last() -> None:
    loads = [_load(100, 50), _load(300, 80), _load(1000, 900), _load(3000, 4000)]
    assert figs.largest_held(loads) == 300
    # A noisy machine may fail a smaller load and hold a larger one.
    assert figs.largest_held([_load(100, 700), _load(300, 80)]) == 300
    assert figs.largest_held([_load(1000, 900)]) is None
    assert figs.largest_held([]) is None
    assert "300 patients" in figs.verdict(loads)
    assert figs.verdict([_load(1000, 900)]).endswith("none")


def test_sustained_rate_is_sets_scored_over_first_publish_to_last_score() -> None:
    assert figs.sustained_rate(1000, 100.0, 110.0) == pytest.approx(100.0)
    assert figs.sustained_rate(0, 100.0, 110.0) == 0.0
    assert figs.sustained_rate(5, 100.0, 100.0) == 0.0


def test_the_table_line_says_what_was_not_held() -> None:
    line = figs.table_line(_load(1000, 900))
    assert line.split()[:3] == ["1,000", "100", "100"] and "(not held)" in line
    assert "(not held)" not in figs.table_line(_load(100, 50))
    assert len(figs.table_line(_load(100, 50))) == len(figs.HEADER)  # columns line up


def test_a_record_holds_flat_numbers() -> None:
    r = _load(300, 80).as_record()
    assert r["patients"] == 300 and r["score_p99_ms"] == 80 and r["rate"] == 300.0
    assert all(isinstance(v, int | float) for v in r.values())


# --- the vital signs ------------------------------------------------------------------


def _scores(device_sets: np.ndarray) -> np.ndarray:
    values = vitals.as_parameters(device_sets)
    return score_news2(**{p: values[:, k] for k, p in enumerate(PARAMETERS)},
                       spo2_scale=np.ones(len(values), dtype=np.int8)).total


def test_stable_patients_always_score_zero() -> None:
    rng = np.random.default_rng(3)
    base = vitals.baselines(2000, rng)
    for _ in range(20):
        assert (_scores(vitals.sets(base, rng)) == 0).all()


def test_a_stable_patients_spo2_never_falls_by_a_trend_alerts_3_percent() -> None:
    rng = np.random.default_rng(5)
    base = vitals.baselines(2000, rng)
    spo2 = np.stack([vitals.sets(base, rng)[:, COLUMN["spo2"]] for _ in range(200)])
    assert (spo2.max(axis=0) - spo2.min(axis=0)).max() < SPO2_FALL


def test_deteriorating_patients_climb_to_high_and_stay() -> None:
    rng = np.random.default_rng(4)
    base = vitals.baselines(200, rng)
    totals = [int(_scores(vitals.sets(base, rng, np.full(200, vitals.climb(t, 20.0)))).min())
              for t in range(21)]
    assert totals[0] == 0
    assert totals[-1] >= 7  # high: an emergency
    assert all(b >= a - 1 for a, b in itertools.pairwise(totals))
    assert vitals.climb(0, 20) == 0.0
    assert vitals.climb(12, 20) == vitals.climb(30, 20) == 1.0


def test_each_load_deteriorates_patients_of_its_own() -> None:
    first = vitals.pick_deteriorating(100, [])
    assert len(first) == vitals.MIN_DETERIORATING and all(i < 100 for i in first)
    second = vitals.pick_deteriorating(300, first)
    assert len(second) == 6 and not set(second) & set(first) and all(i < 300 for i in second)
    assert len(vitals.pick_deteriorating(1000, [])) == 20
    assert vitals.pick_deteriorating(2, [0, 1]) == []  # none left: no alerts, no error


def test_a_loads_figures_match_scores_and_events_to_the_sets_published() -> None:
    t0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    sets = {("p1", t0): t0.timestamp(), ("p2", t0): t0.timestamp(),
            ("p1", t0 + timedelta(seconds=1)): t0.timestamp() + 1}
    scored = {("p1", t0): t0.timestamp() + 0.05, ("p2", t0): t0.timestamp() + 0.15,
              ("p9", t0): t0.timestamp() + 9.0}  # another patient's: not ours
    events = [
        (t0.timestamp() + 0.2, "opened", "p1", "2026-12-03T09:00:00Z"),
        (t0.timestamp() + 1.3, "escalated", "p1", "2026-12-03T09:00:01+00:00"),
        (t0.timestamp() + 5.0, "updated", "p1", "2026-12-03T09:00:00Z"),  # not measured
        (t0.timestamp() + 5.0, "opened", "p2", "2026-12-03T08:00:00Z"),  # no such set
        (t0.timestamp() + 5.0, "opened", "p2", None),  # a technical alert without one
    ]
    f = figs.load_figures(2, 2.0, sets, [0.001, 0.002, 0.5], scored, events)
    assert (f.published, f.scored, f.unscored) == (3, 2, 1)
    assert f.score.p50_ms == pytest.approx(50.0) and f.score.max_ms == pytest.approx(150.0)
    assert f.alerts.count == 2
    assert f.alerts.p50_ms == pytest.approx(200.0) and f.alerts.max_ms == pytest.approx(300.0)
    assert f.rate == pytest.approx(2 / 0.15)
    assert f.publish_lag_p99_ms == pytest.approx(500.0)
    assert not figs.held(f)  # a set left unscored
