"""How fast the vectorised NEWS2 core is, against plain Python and a memory-read floor.

``bench_scoring`` times, best of 3 with ``time.perf_counter``:

- ``score_news2`` over ``n`` random, realistic observation sets;
- ``score_row_python``, the same chart as a per-row if/elif ladder, on a
  subset of at most 100k rows, scaled to ``n``;
- a floor: one pass summing the same input arrays (what reading them costs).

The per-row function is also the tests' scalar reference for the chart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alerts.news2 import score_news2

_PYTHON_ROWS = 100_000
_REPEATS = 3


def score_row_python(
    respiratory_rate: float,
    spo2: float,
    on_oxygen: float,
    systolic_bp: float,
    heart_rate: float,
    consciousness: float,
    temperature: float,
    spo2_scale: int,
) -> tuple[int, int, int, int, int, int, int]:
    """NEWS2 sub-scores of one set, in ``PARAMETERS`` order, -1 where NaN.

    Units and codes as ``score_news2``; consciousness as the code 0..4.
    """
    return (
        _rr(respiratory_rate),
        _spo2(spo2, on_oxygen, spo2_scale),
        -1 if math.isnan(on_oxygen) else (2 if on_oxygen == 1 else 0),
        _sbp(systolic_bp),
        _hr(heart_rate),
        -1 if math.isnan(consciousness) else (0 if consciousness == 0 else 3),
        _temp(temperature),
    )


def bench_scoring(n: int = 1_000_000, seed: int = 0) -> dict[str, Any]:
    """Time the three ways; seconds in ``*_s``, ratios unitless."""
    inputs = _random_inputs(n, np.random.default_rng(seed))
    vectorised_s, result = _best(lambda: score_news2(**inputs))
    m = min(n, _PYTHON_ROWS)
    rows = list(zip(*(inputs[k][:m].tolist() for k in _ARGUMENT_ORDER), strict=True))
    python_subset_s, python_scores = _best(lambda: [score_row_python(*row) for row in rows])
    python_s = python_subset_s * n / m
    columns = list(inputs.values())
    floor_s, _ = _best(lambda: [float(np.sum(c)) for c in columns])
    mismatches = int((np.array(python_scores) != result.unadjusted_scores[:m]).any(axis=1).sum())
    return {
        "n": n,
        "python_rows": m,
        "vectorised_s": vectorised_s,
        "python_s": python_s,
        "floor_s": floor_s,
        "vectorised_rows_per_s": n / vectorised_s,
        "python_rows_per_s": n / python_s,
        "speedup_vs_python": python_s / vectorised_s,
        "times_floor": vectorised_s / floor_s,
        "mismatches": mismatches,
    }


def format_report(d: dict[str, Any]) -> str:
    """The figures of ``bench_scoring`` as a few lines for a terminal or the README."""
    return "\n".join(
        [
            f"NEWS2 scoring, {d['n']:,} observation sets (best of {_REPEATS}):",
            f"  vectorised numpy  {d['vectorised_s'] * 1e3:10.1f} ms"
            f"  {d['vectorised_rows_per_s'] / 1e6:8.2f} M rows/s",
            f"  per-row Python    {d['python_s'] * 1e3:10.1f} ms"
            f"  {d['python_rows_per_s'] / 1e6:8.2f} M rows/s"
            f"  (timed on {d['python_rows']:,} rows, scaled)",
            f"  memory-read floor {d['floor_s'] * 1e3:10.1f} ms",
            f"  numpy is {d['speedup_vs_python']:.0f}x per-row Python"
            f" and {d['times_floor']:.1f}x the floor; {d['mismatches']} mismatching rows",
        ]
    )


_ARGUMENT_ORDER = (
    "respiratory_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
    "spo2_scale",
)


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


def _best(run: Callable[[], Any]) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(_REPEATS):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out


def _rr(v: float) -> int:
    if math.isnan(v):
        return -1
    if v <= 8:
        return 3
    if v <= 11:
        return 1
    if v <= 20:
        return 0
    if v <= 24:
        return 2
    return 3


def _spo2(v: float, on_oxygen: float, scale: int) -> int:
    if math.isnan(v):
        return -1
    if scale == 1:
        if v <= 91:
            return 3
        if v <= 93:
            return 2
        if v <= 95:
            return 1
        return 0
    if v <= 83:
        return 3
    if v <= 85:
        return 2
    if v <= 87:
        return 1
    if v <= 92 or on_oxygen != 1:
        return 0
    if v <= 94:
        return 1
    if v <= 96:
        return 2
    return 3


def _sbp(v: float) -> int:
    if math.isnan(v):
        return -1
    if v <= 90:
        return 3
    if v <= 100:
        return 2
    if v <= 110:
        return 1
    if v <= 219:
        return 0
    return 3


def _hr(v: float) -> int:
    if math.isnan(v):
        return -1
    if v <= 40:
        return 3
    if v <= 50:
        return 1
    if v <= 90:
        return 0
    if v <= 110:
        return 1
    if v <= 130:
        return 2
    return 3


def _temp(v: float) -> int:
    if math.isnan(v):
        return -1
    if v <= 35.0:
        return 3
    if v <= 36.0:
        return 1
    if v <= 38.0:
        return 0
    if v <= 39.0:
        return 1
    return 2


if __name__ == "__main__":
    print(format_report(bench_scoring()))
