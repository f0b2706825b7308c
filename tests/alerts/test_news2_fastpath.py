"""The block kernel of score_news2 against the plain per-row reference (benchmarks/news2_core.py).

Random sets mix NaN, values on and one float either side of every chart edge,
both SpO2 scales and missing oxygen; blocks are made tiny so that rows straddle
block boundaries.  Bad input must name the same parameter and rows as before.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alerts.news2 as news2
from alerts.errors import ScoringInputError
from alerts.news2 import BANDS, PARAMETERS, band_of, score_news2
from benchmarks.news2_core import news2_row_python, score_row_python

EDGES = {
    "respiratory_rate": [8, 11, 20, 24],
    "spo2": [83, 85, 87, 91, 92, 93, 94, 95, 96, 100],
    "systolic_bp": [90, 100, 110, 219],
    "heart_rate": [40, 50, 90, 110, 130],
    "temperature": [35.0, 36.0, 38.0, 39.0],
}
LIMITS = {
    "respiratory_rate": (0, 80),
    "spo2": (0, 100),
    "systolic_bp": (0, 320),
    "heart_rate": (0, 260),
    "temperature": (20, 46),
}


def _value(parameter: str) -> st.SearchStrategy[float]:
    low, high = LIMITS[parameter]
    edge = st.sampled_from(EDGES[parameter]).map(float)
    near = st.tuples(edge, st.sampled_from([-math.inf, math.inf])).map(
        lambda p: float(np.nextafter(*p))
    )
    values = st.one_of(edge, near, st.floats(low, high), st.integers(low, high).map(float))
    values = values.filter(lambda v: low <= v <= high)
    return st.one_of(values, st.just(math.nan))


ROW = st.tuples(
    _value("respiratory_rate"),
    _value("spo2"),
    st.sampled_from([0.0, 1.0, math.nan]),
    _value("systolic_bp"),
    _value("heart_rate"),
    st.sampled_from([0.0, 1.0, 2.0, 3.0, 4.0, math.nan]),
    _value("temperature"),
    st.sampled_from([1, 2]),
)


def _columns(rows: list[tuple]) -> dict[str, np.ndarray]:
    arrays = [np.array(c, dtype=np.float64) for c in zip(*rows, strict=True)]
    return dict(zip(PARAMETERS, arrays[:7], strict=True))


def _check(rows: list[tuple], result: news2.News2Result) -> None:
    expected = [news2_row_python(*row) for row in rows]
    scores = [list(e[0]) for e in expected]
    assert result.scores.tolist() == scores
    assert result.unadjusted_scores.tolist() == scores
    assert result.total.tolist() == [e[1] for e in expected]
    assert result.band.tolist() == [e[2] for e in expected]
    assert result.band_code.tolist() == [BANDS.index(e[2]) for e in expected]
    assert result.max_single.tolist() == [max(0, *s) for s in scores]
    assert result.missing.tolist() == [[v < 0 for v in s] for s in scores]
    assert result.complete.tolist() == [min(s) >= 0 for s in scores]
    assert not result.overridden.any()
    assert result.band.tolist() == band_of(result.total, result.max_single).tolist()


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=60), block=st.sampled_from([1, 2, 7, 64, 1 << 17]))
def test_kernel_equals_per_row_reference(rows: list[tuple], block: int) -> None:
    with mock.patch.object(news2, "_BLOCK", block):
        result = score_news2(**_columns(rows), spo2_scale=np.array([r[7] for r in rows]))
    _check(rows, result)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=30), scale=st.sampled_from([1, 2]))
def test_scalar_scale_equals_per_row_reference(rows: list[tuple], scale: int) -> None:
    rows = [(*r[:7], scale) for r in rows]
    with mock.patch.object(news2, "_BLOCK", 4):
        result = score_news2(**_columns(rows), spo2_scale=scale)
    _check(rows, result)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=30))
def test_strided_columns_as_asof_passes_them(rows: list[tuple]) -> None:
    values = np.array([r[:7] for r in rows], dtype=np.float64)  # (n, 7): columns strided
    scale = np.array([r[7] for r in rows], dtype=np.float64)
    result = score_news2(**dict(zip(PARAMETERS, values.T, strict=True)), spo2_scale=scale)
    _check(rows, result)


@given(row=ROW)
def test_per_parameter_functions_equal_the_reference(row: tuple) -> None:
    expected = score_row_python(*row)
    one = [np.array([v]) for v in row]
    got = (
        news2.score_respiratory_rate(one[0]),
        news2.score_spo2(one[1], one[2], one[7]),
        news2.score_on_oxygen(one[2]),
        news2.score_systolic_bp(one[3]),
        news2.score_heart_rate(one[4]),
        news2.score_consciousness(one[5]),
        news2.score_temperature(one[6]),
    )
    assert tuple(int(g[0]) for g in got) == expected
    assert all(g.dtype == np.int8 for g in got)


def _reference_error(columns: dict[str, list[float]], scale: list[float]) -> tuple[str, tuple]:
    """The first bad parameter and its first rows, checked one value at a time."""

    def bad(name: str, v: float) -> bool:
        if math.isnan(v):
            return False
        if name == "on_oxygen":
            return v not in (0.0, 1.0)
        if name == "consciousness":
            return v not in (0.0, 1.0, 2.0, 3.0, 4.0)
        return v < 0 or math.isinf(v)

    checks = [("spo2_scale", [s not in (1.0, 2.0) for s in scale])]
    checks += [(p, [bad(p, v) for v in columns[p]]) for p in PARAMETERS]
    checks += [("spo2", [v > 100 for v in columns["spo2"]])]
    for name, flags in checks:
        rows = tuple(i for i, f in enumerate(flags) if f)
        if rows:
            return name, rows[:5]
    raise AssertionError("no bad value")


BAD_VALUES = {
    "respiratory_rate": [-1.0, math.inf, -math.inf, -1e-300],
    "spo2": [100.5, math.inf, -0.5, float(np.nextafter(100.0, math.inf))],
    "on_oxygen": [0.5, 2.0, -1.0, math.inf],
    "systolic_bp": [-5.0, math.inf],
    "heart_rate": [-1.0, -math.inf],
    "consciousness": [5.0, 1.5, -1.0, 0.25, math.inf, 4.000000001],
    "temperature": [-0.1, math.inf],
    "spo2_scale": [0.0, 3.0, 1.5, math.nan],
}


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(ROW, min_size=1, max_size=40),
    data=st.data(),
    block=st.sampled_from([1, 3, 64]),
)
def test_bad_input_names_the_same_parameter_and_rows(
    rows: list[tuple], data: st.DataObject, block: int
) -> None:
    columns = {p: [r[j] for r in rows] for j, p in enumerate(PARAMETERS)}
    scale = [float(r[7]) for r in rows]
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(sorted(BAD_VALUES)))
        at = data.draw(st.integers(0, len(rows) - 1))
        (scale if name == "spo2_scale" else columns[name])[at] = data.draw(
            st.sampled_from(BAD_VALUES[name])
        )
    expected = _reference_error(columns, scale)
    with mock.patch.object(news2, "_BLOCK", block), pytest.raises(ScoringInputError) as caught:
        score_news2(**{p: np.array(v) for p, v in columns.items()}, spo2_scale=np.array(scale))
    assert (caught.value.parameter, caught.value.rows) == expected


def test_no_rows() -> None:
    result = score_news2(**{p: np.array([]) for p in PARAMETERS}, spo2_scale=1)
    assert len(result) == 0
    assert result.scores.shape == result.missing.shape == result.overridden.shape == (0, 7)
    assert result.band.tolist() == []


def test_numeric_consciousness_list_takes_the_numeric_path() -> None:
    columns = {p: [v] * 3 for p, v in {"respiratory_rate": 16, "spo2": 98, "on_oxygen": 0,
               "systolic_bp": 120, "heart_rate": 70, "temperature": 37}.items()}  # fmt: skip
    result = score_news2(**columns, consciousness=[0, 2, math.nan], spo2_scale=1)
    assert result.consciousness.tolist() == [0, 3, -1]
    with pytest.raises(ScoringInputError, match="unknown"):
        score_news2(**columns, consciousness=[True, False, True], spo2_scale=1)


def test_band_names_are_built_once_and_read_only() -> None:
    columns = {"respiratory_rate": np.array([16.0, 22.0]), "heart_rate": np.array([70.0, 30.0])}
    columns |= {"spo2": np.array([98.0, 98.0]), "on_oxygen": np.zeros(2)}
    columns |= {"systolic_bp": np.array([120.0, 120.0]), "temperature": np.array([37.0, 37.0])}
    accepted = {"respiratory_rate": (np.array([0.0, 0.0]), np.array([40.0, 40.0]))}
    result = score_news2(**columns, consciousness=np.zeros(2), spo2_scale=1, accepted=accepted)
    assert result.band is result.band
    assert result.band.tolist() == ["zero", "low-medium"]  # heart rate 30 still scores 3
    assert result.unadjusted_band.tolist() == ["zero", "medium"]  # 2 + 3
    with pytest.raises(ValueError, match="read-only"):
        result.band[0] = "high"
    assert result.overridden[:, 0].tolist() == [False, True]
