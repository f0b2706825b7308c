"""How fast the vectorised NEWS2 core is, against plain Python and a memory-read floor.

``bench_scoring`` times, in one run and interleaved, median of ``repeat`` runs
with ``time.perf_counter`` and the garbage collector paused (as ``timeit`` does):

- ``score_news2`` over ``n`` random, realistic observation sets (inputs checked,
  sub-scores, missing flags, total, largest single, band code, completeness;
  the band *names* are built on first access and timed on their own);
- ``news2_row_python``, the same chart (ward/news2_chart.py) walked per row, edge
  by edge, over Python floats taken from lists, giving the sub-scores, total and
  band of each set,
  on a subset of at most 100k rows, scaled to ``n`` (no input checks: that
  favours it); ``score_row_python``, the sub-scores alone, is timed beside it;
- a floor: one pass summing the same eight input arrays (what reading them costs).

``score_row_python`` is also the tests' scalar reference for the chart.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alerts.news2 import score_news2
from ward import news2_chart as chart
from ward.news2_chart import BANDS, PARAMETERS

_PYTHON_ROWS = 100_000
_REPEATS = 5
_QUICK_ROWS = 100_000


def score_row_python(*row: float) -> tuple[int, ...]:
    """NEWS2 sub-scores of one set, in ``PARAMETERS`` order, -1 where NaN: ``row`` is
    the set's values in ``PARAMETERS`` order, then its SpO2 scale.

    Units and codes as ``score_news2``; consciousness as the ACVPU code.
    """
    return _score_set(*row)


def news2_row_python(*row: float) -> tuple[tuple[int, ...], int, str]:
    """Sub-scores, total and band of one set: what ``score_news2`` gives per row."""
    scores = score_row_python(*row)
    total = sum(scores) + scores.count(-1)  # a missing parameter (-1) counts 0
    if total >= chart.HIGH_TOTAL:
        return scores, total, _HIGH
    if total >= chart.MEDIUM_TOTAL:
        return scores, total, _MEDIUM
    if chart.RED in scores:
        return scores, total, _LOW_MEDIUM
    return scores, total, _LOW if total >= chart.LOW_TOTAL else _ZERO


def bench_scoring(n: int = 1_000_000, seed: int = 0, *, repeat: int = _REPEATS) -> dict[str, Any]:
    """Time the ways side by side; seconds (medians) in ``*_s``, ratios unitless."""
    inputs = _random_inputs(n, np.random.default_rng(seed))
    columns = list(inputs.values())
    m = min(n, _PYTHON_ROWS)
    rows = list(zip(*(inputs[k][:m].tolist() for k in _ARGUMENT_ORDER), strict=True))
    runs: dict[str, Callable[[], Any]] = {
        "vectorised": lambda: score_news2(**inputs),
        "floor": lambda: [float(np.sum(c)) for c in columns],
        "python": lambda: [news2_row_python(*row) for row in rows],
        "python_scores": lambda: [score_row_python(*row) for row in rows],
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    band_times: list[float] = []
    out: dict[str, Any] = {}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            for name, run in runs.items():
                out[name] = None  # free the last result first, as a caller would have
                start = time.perf_counter()
                out[name] = run()
                times[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            out["vectorised"].band  # noqa: B018 - the lazily built names, timed alone
            band_times.append(time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    s = {name: statistics.median(t) for name, t in times.items()}
    result = out["vectorised"]
    expected = out["python"]
    mismatches = sum(
        scores != tuple(result.scores[i]) or total != result.total[i] or band != result.band[i]
        for i, (scores, total, band) in enumerate(expected)
    )
    python_s, python_scores_s = s["python"] * n / m, s["python_scores"] * n / m
    return {
        "n": n,
        "repeat": repeat,
        "python_rows": m,
        "vectorised_s": s["vectorised"],
        "band_names_s": statistics.median(band_times),
        "python_s": python_s,
        "python_scores_s": python_scores_s,
        "floor_s": s["floor"],
        "vectorised_rows_per_s": n / s["vectorised"],
        "python_rows_per_s": n / python_s,
        "python_scores_rows_per_s": n / python_scores_s,
        "floor_rows_per_s": n / s["floor"],
        "speedup_vs_python": python_s / s["vectorised"],
        "speedup_vs_python_scores": python_scores_s / s["vectorised"],
        "times_floor": s["vectorised"] / s["floor"],
        "mismatches": mismatches,
    }


def format_report(d: dict[str, Any]) -> str:
    """The figures of ``bench_scoring`` as a few lines for a terminal or the README."""
    return "\n".join(
        [
            f"NEWS2 scoring, {d['n']:,} observation sets (median of {d['repeat']}):",
            f"  vectorised numpy  {d['vectorised_s'] * 1e3:9.1f} ms"
            f"  {d['vectorised_rows_per_s'] / 1e6:8.2f} M sets/s"
            f"  (+{d['band_names_s'] * 1e3:.1f} ms for band names on first use)",
            f"  per-row Python    {d['python_s'] * 1e3:9.1f} ms"
            f"  {d['python_rows_per_s'] / 1e6:8.2f} M sets/s"
            f"  (sub-scores, total, band; {d['python_rows']:,} rows timed, scaled)",
            f"    sub-scores only {d['python_scores_s'] * 1e3:9.1f} ms"
            f"  {d['python_scores_rows_per_s'] / 1e6:8.2f} M sets/s",
            f"  memory-read floor {d['floor_s'] * 1e3:9.1f} ms"
            f"  {d['floor_rows_per_s'] / 1e6:8.2f} M sets/s  (sum of the 8 input arrays)",
            f"  vectorised is {d['speedup_vs_python']:.0f}x per-row Python"
            f" ({d['speedup_vs_python_scores']:.0f}x its sub-scores alone)"
            f" and {d['times_floor']:.1f}x the floor; {d['mismatches']} mismatching rows",
        ]
    )


def run_core(n: int = 1_000_000, *, repeat: int = 3) -> list[str]:
    """Printable lines: sets/s of the vectorised core, per-row Python and the floor."""
    return format_report(bench_scoring(n, repeat=repeat)).splitlines()


_ARGUMENT_ORDER = (*PARAMETERS, "spo2_scale")


def _random_inputs(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """A ward's worth of plausible sets: mostly normal, some sick, ~3 % of values missing."""
    values: dict[str, NDArray[np.float64]] = {
        "respiratory_rate": np.clip(rng.normal(17, 4, n).round(), 4, 60),
        "spo2": np.clip(rng.normal(95, 3, n).round(), 60, 100),
        "on_oxygen": (rng.random(n) < 0.1).astype(np.float64),
        "systolic_bp": np.clip(rng.normal(125, 22, n).round(), 60, 260),
        "heart_rate": np.clip(rng.normal(82, 18, n).round(), 30, 200),
        "consciousness": np.where(rng.random(n) < 0.97, 0.0, rng.integers(1, 5, n)),
        "temperature": np.clip(rng.normal(37.0, 0.8, n).round(1), 33, 42),
    }
    for column in values.values():
        column[rng.random(n) < 0.03] = np.nan
    values["spo2_scale"] = np.where(rng.random(n) < 0.05, 2.0, 1.0)
    return values


# --- the per-row reference: the chart's tables, one value at a time ---------------------

_ZERO, _LOW, _LOW_MEDIUM, _MEDIUM, _HIGH = BANDS
_ON_OXYGEN = PARAMETERS.index("on_oxygen")
Row = tuple[list[float], list[int]]


def _row(edges: NDArray[np.float64], points: NDArray[np.int8]) -> Row:
    return edges.tolist(), points.tolist()


_SPO2_SCALE1 = _row(chart.SPO2_SCALE1_EDGES, chart.SPO2_SCALE1_POINTS)
_SPO2_SCALE2_AIR = _row(chart.SPO2_SCALE2_EDGES, chart.SPO2_SCALE2_AIR_POINTS)
_SPO2_SCALE2_OXYGEN = _row(chart.SPO2_SCALE2_EDGES, chart.SPO2_SCALE2_OXYGEN_POINTS)
_ACVPU_POINTS = chart.CONSCIOUSNESS_POINTS.tolist()


def _cascade(row: Row) -> Callable[[float, float, float], int]:
    """Upper-inclusive: a value scores the points of the first band whose edge is at or
    above it (``bisect_left`` counts the edges below it)."""
    edges, points = row
    return lambda v, _oxygen, _scale: -1 if v != v else points[bisect_left(edges, v)]


def _spo2(v: float, on_oxygen: float, scale: float) -> int:
    if v != v:
        return -1
    edges, points = (_SPO2_SCALE1 if scale == 1 else
                     _SPO2_SCALE2_OXYGEN if on_oxygen == 1 else _SPO2_SCALE2_AIR)
    return points[bisect_left(edges, v)]


def _on_oxygen(v: float, _oxygen: float, _scale: float) -> int:
    return -1 if v != v else (chart.OXYGEN_POINTS if v == 1 else 0)


def _consciousness(v: float, _oxygen: float, _scale: float) -> int:
    return -1 if v != v else _ACVPU_POINTS[int(v)]


_SCORERS = {name: _cascade(_row(*table)) for name, table in chart.CASCADES.items()} | {
    "spo2": _spo2, "on_oxygen": _on_oxygen, "consciousness": _consciousness}


def _compile_set_scorer() -> Callable[..., tuple[int, ...]]:
    """One function of a whole set, ``(v0, .., scale) -> (s0, ..)``, written out for the
    chart's parameters: a loop over them would time Python's loop, not the scoring
    (measured: 1.7x slower than the hand-written if/elif ladder this replaces; this is
    as fast as it)."""
    names = [f"v{i}" for i in range(len(PARAMETERS))]
    calls = ", ".join(f"_{p}({v}, v{_ON_OXYGEN}, scale)" for p, v in zip(PARAMETERS, names,
                                                                          strict=True))
    scope = {f"_{p}": _SCORERS[p] for p in PARAMETERS}
    exec(f"def score_set({', '.join(names)}, scale):\n    return ({calls},)\n", scope)
    return scope["score_set"]


_score_set = _compile_set_scorer()


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.news2_core [--quick] [--rows N] [--repeat R]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{_QUICK_ROWS:,} rows, 3 repeats")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=_REPEATS)
    args = parser.parse_args(argv)
    n, repeat = (_QUICK_ROWS, 3) if args.quick else (args.rows, args.repeat)
    print("\n".join(run_core(n, repeat=repeat)))


if __name__ == "__main__":
    main()
