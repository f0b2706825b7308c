"""NEWS2 scoring against news2.md: every band edge, the worked vectors, properties."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.errors import ScoringInputError
from alerts.news2 import (
    BANDS,
    PARAMETERS,
    News2Result,
    band_of,
    score_news2,
)
from benchmarks.news2_core import bench_scoring, format_report, score_row_python
from ward.news2_chart import MONITORING_INTERVAL

NORMAL = {
    "respiratory_rate": 16.0,
    "spo2": 98.0,
    "on_oxygen": 0.0,
    "systolic_bp": 120.0,
    "heart_rate": 70.0,
    "consciousness": "A",
    "temperature": 37.0,
}


def score_one(spo2_scale: int = 1, **changes: object) -> News2Result:
    """Score one set: all normal except ``changes``."""
    values = {**NORMAL, **changes}
    return score_news2(**{k: [v] for k, v in values.items()}, spo2_scale=spo2_scale)


# --- every row of the chart, both edges of every band -------------------------------------

EDGES = [
    ("respiratory_rate", 0, 3),
    ("respiratory_rate", 8, 3),
    ("respiratory_rate", 8.5, 1),
    ("respiratory_rate", 9, 1),
    ("respiratory_rate", 11, 1),
    ("respiratory_rate", 11.5, 0),
    ("respiratory_rate", 12, 0),
    ("respiratory_rate", 20, 0),
    ("respiratory_rate", 20.5, 2),
    ("respiratory_rate", 21, 2),
    ("respiratory_rate", 24, 2),
    ("respiratory_rate", 24.5, 3),
    ("respiratory_rate", 25, 3),
    ("temperature", 34.0, 3),
    ("temperature", 35.0, 3),
    ("temperature", 35.05, 1),
    ("temperature", 35.1, 1),
    ("temperature", 36.0, 1),
    ("temperature", 36.05, 0),
    ("temperature", 36.1, 0),
    ("temperature", 38.0, 0),
    ("temperature", 38.1, 1),
    ("temperature", 39.0, 1),
    ("temperature", 39.05, 2),
    ("temperature", 39.1, 2),
    ("temperature", 42.0, 2),
    ("systolic_bp", 70, 3),
    ("systolic_bp", 90, 3),
    ("systolic_bp", 90.5, 2),
    ("systolic_bp", 91, 2),
    ("systolic_bp", 100, 2),
    ("systolic_bp", 101, 1),
    ("systolic_bp", 110, 1),
    ("systolic_bp", 111, 0),
    ("systolic_bp", 219, 0),
    ("systolic_bp", 219.5, 3),
    ("systolic_bp", 220, 3),
    ("heart_rate", 30, 3),
    ("heart_rate", 40, 3),
    ("heart_rate", 40.5, 1),
    ("heart_rate", 41, 1),
    ("heart_rate", 50, 1),
    ("heart_rate", 51, 0),
    ("heart_rate", 90, 0),
    ("heart_rate", 91, 1),
    ("heart_rate", 110, 1),
    ("heart_rate", 111, 2),
    ("heart_rate", 130, 2),
    ("heart_rate", 131, 3),
    ("spo2", 85, 3),
    ("spo2", 91, 3),
    ("spo2", 91.5, 2),
    ("spo2", 92, 2),
    ("spo2", 93, 2),
    ("spo2", 94, 1),
    ("spo2", 95, 1),
    ("spo2", 95.5, 0),
    ("spo2", 96, 0),
    ("spo2", 100, 0),
    ("consciousness", "A", 0),
    ("consciousness", "C", 3),
    ("consciousness", "V", 3),
    ("consciousness", "P", 3),
    ("consciousness", "U", 3),
    ("consciousness", "c", 3),
    ("consciousness", " a ", 0),
    ("consciousness", 0, 0),
    ("consciousness", 1, 3),
    ("consciousness", 4, 3),
]


@pytest.mark.parametrize(("parameter", "value", "expected"), EDGES)
def test_each_band_edge_on_scale_1(parameter: str, value: object, expected: int) -> None:
    result = score_one(**{parameter: value})
    assert getattr(result, parameter).tolist() == [expected]
    assert result.total.tolist() == [expected]  # everything else scores 0


SCALE_2 = [
    # spo2, on air, on oxygen (the oxygen's own 2 is not in these)
    (80, 3, 3),
    (83, 3, 3),
    (83.5, 2, 2),
    (84, 2, 2),
    (85, 2, 2),
    (86, 1, 1),
    (87, 1, 1),
    (88, 0, 0),
    (92, 0, 0),
    (92.5, 0, 1),
    (93, 0, 1),
    (94, 0, 1),
    (95, 0, 2),
    (96, 0, 2),
    (97, 0, 3),
    (100, 0, 3),
]


@pytest.mark.parametrize(("spo2", "on_air", "on_oxygen"), SCALE_2)
def test_scale_2_on_air_and_on_oxygen(spo2: float, on_air: int, on_oxygen: int) -> None:
    air = score_one(spo2_scale=2, spo2=spo2, on_oxygen=0)
    oxygen = score_one(spo2_scale=2, spo2=spo2, on_oxygen=1)
    assert (air.spo2[0], air.on_oxygen[0], air.total[0]) == (on_air, 0, on_air)
    assert (oxygen.spo2[0], oxygen.on_oxygen[0], oxygen.total[0]) == (on_oxygen, 2, on_oxygen + 2)


@pytest.mark.parametrize("scale", [1, 2])
def test_oxygen_scores_2_on_both_scales(scale: int) -> None:
    result = score_one(spo2_scale=scale, spo2=90, on_oxygen=True)
    assert result.on_oxygen.tolist() == [2]
    assert result.spo2.tolist() == [3 if scale == 1 else 0]


def test_missing_oxygen_on_scale_2_counts_as_air_and_is_missing() -> None:
    result = score_one(spo2_scale=2, spo2=97, on_oxygen=None)
    assert (result.spo2[0], result.on_oxygen[0], result.total[0]) == (0, -1, 0)
    assert result.missing_names(0) == ("on_oxygen",)


# --- bands ---------------------------------------------------------------------------------

BAND_CASES = [
    ({}, 0, "zero"),
    ({"respiratory_rate": 10}, 1, "low"),
    ({"respiratory_rate": 10, "heart_rate": 95, "temperature": 38.5, "systolic_bp": 105}, 4, "low"),
    (
        {"respiratory_rate": 10, "heart_rate": 95, "temperature": 38.5, "systolic_bp": 105}
        | {"spo2": 95},
        5,
        "medium",
    ),
    (
        {"respiratory_rate": 22, "heart_rate": 115, "temperature": 38.5, "systolic_bp": 105},
        6,
        "medium",
    ),
    (
        {"respiratory_rate": 22, "heart_rate": 115, "temperature": 39.5, "systolic_bp": 105},
        7,
        "high",
    ),
    ({"respiratory_rate": 25}, 3, "low-medium"),
    ({"respiratory_rate": 25, "heart_rate": 95}, 4, "low-medium"),
    ({"respiratory_rate": 25, "heart_rate": 115}, 5, "medium"),
    ({"systolic_bp": 85, "heart_rate": 135, "consciousness": "V"}, 9, "high"),
]


@pytest.mark.parametrize(("changes", "total", "band"), BAND_CASES)
def test_band_edges(changes: dict[str, object], total: int, band: str) -> None:
    result = score_one(**changes)
    assert (result.total[0], result.band[0]) == (total, band)


def test_band_of_directly() -> None:
    totals = np.array([0, 1, 2, 3, 4, 4, 5, 6, 7, 20])
    singles = np.array([0, 1, 2, 3, 2, 3, 3, 3, 3, 3])
    expected = ["zero", "low", "low", "low-medium", "low", "low-medium"]
    expected += ["medium", "medium", "high", "high"]
    assert band_of(totals, singles).tolist() == expected


def test_monitoring_intervals() -> None:
    hours = {b: MONITORING_INTERVAL[b].total_seconds() / 3600 for b in BANDS}
    assert hours == {"zero": 12, "low": 4, "low-medium": 1, "medium": 1, "high": 0.25}


# --- news2.md worked vectors, inputs written from the spec's text ----------------------------

WORKED = [
    ({"respiratory_rate": 21, "spo2": 93, "on_oxygen": 0, "systolic_bp": 120, "heart_rate": 95,
      "consciousness": "A", "temperature": 37.5}, 1, 5, "medium"),
    ({"respiratory_rate": 24, "spo2": 93, "on_oxygen": 1, "systolic_bp": 105, "heart_rate": 105,
      "consciousness": "A", "temperature": 38.5}, 1, 9, "high"),
    ({"respiratory_rate": 21, "spo2": 94, "on_oxygen": 1, "systolic_bp": 112, "heart_rate": 95,
      "consciousness": "A", "temperature": 38.1}, 1, 7, "high"),
    ({"spo2": 93, "on_oxygen": 0}, 2, 0, "zero"),
    ({"spo2": 93, "on_oxygen": 1}, 2, 3, "low"),
    ({"spo2": 97, "on_oxygen": 1}, 2, 5, "medium"),
    ({"respiratory_rate": 26}, 1, 3, "low-medium"),
    ({"consciousness": "C"}, 1, 3, "low-medium"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "scale", "total", "band"), WORKED)
def test_worked_vectors(changes: dict[str, object], scale: int, total: int, band: str) -> None:
    result = score_one(spo2_scale=scale, **changes)
    assert (result.total[0], result.band[0]) == (total, band)
    assert result.complete[0]


def test_worked_vectors_in_one_call() -> None:
    rows = [NORMAL | changes for changes, *_ in WORKED]
    columns = {p: [row[p] for row in rows] for p in PARAMETERS}
    result = score_news2(**columns, spo2_scale=[scale for _, scale, *_ in WORKED])
    assert result.total.tolist() == [total for *_, total, _ in WORKED]
    assert result.band.tolist() == [band for *_, band in WORKED]


# --- result shape, missing values, input forms -------------------------------------------------


def test_missing_parameters_score_zero_and_are_named() -> None:
    result = score_news2(
        respiratory_rate=[25, None],
        spo2=[np.nan, 91],
        on_oxygen=[0, 1],
        systolic_bp=[None, 120],
        heart_rate=[70, 70],
        consciousness=["A", None],
        temperature=[37, np.nan],
        spo2_scale=1,
    )
    assert result.total.tolist() == [3, 5]
    assert result.band.tolist() == ["low-medium", "medium"]
    assert result.scores.tolist() == [[3, -1, 0, -1, 0, 0, 0], [-1, 3, 2, 0, 0, -1, -1]]
    assert result.missing_names(0) == ("spo2", "systolic_bp")
    assert result.missing_names(1) == ("respiratory_rate", "consciousness", "temperature")
    assert result.complete.tolist() == [False, False]
    assert result.max_single.tolist() == [3, 3]
    assert result.missing.shape == (2, 7)
    assert len(result) == 2


def test_all_missing_scores_zero() -> None:
    nan = [np.nan]
    result = score_news2(**{p: nan for p in PARAMETERS}, spo2_scale=1)
    assert (result.total[0], result.max_single[0], result.band[0]) == (0, 0, "zero")
    assert result.missing_names(0) == PARAMETERS


def test_input_forms_agree() -> None:
    as_lists = score_news2(
        respiratory_rate=[22, 10],
        spo2=[95, 88],
        on_oxygen=[True, False],
        systolic_bp=[100, 150],
        heart_rate=[120, 45],
        consciousness=["v", "A"],
        temperature=[38.5, 35.5],
        spo2_scale=[1, 2],
    )
    as_arrays = score_news2(
        respiratory_rate=np.array([22, 10], dtype=np.int32),
        spo2=np.array([95.0, 88.0]),
        on_oxygen=np.array([1.0, 0.0]),
        systolic_bp=np.array([100, 150], dtype=object),
        heart_rate=np.array([120.0, 45.0], dtype=np.float32),
        consciousness=np.array([2.0, 0.0]),
        temperature=np.array([38.5, 35.5]),
        spo2_scale=np.array([1, 2]),
    )
    assert as_lists.scores.tolist() == [[2, 1, 2, 2, 2, 3, 1], [1, 0, 0, 0, 1, 0, 1]]
    assert as_arrays.scores.tolist() == as_lists.scores.tolist()
    assert as_arrays.total.tolist() == [13, 3]


def test_string_consciousness_array_with_missing() -> None:
    result = score_news2(
        **{p: [NORMAL[p]] * 4 for p in PARAMETERS if p != "consciousness"},
        consciousness=np.array(["a", "", "nan", "U"]),
        spo2_scale=1,
    )
    assert result.consciousness.tolist() == [0, -1, -1, 3]


def test_result_is_read_only() -> None:
    result = score_one()
    with pytest.raises(ValueError, match="read-only"):
        result.total[0] = 5
    with pytest.raises(AttributeError):
        result.total = np.array([5])  # type: ignore[misc]


# --- accepted ranges ----------------------------------------------------------------------------


def test_accepted_range_scores_zero_and_keeps_the_raw_score() -> None:
    result = score_news2(
        **{p: [NORMAL[p]] * 4 for p in PARAMETERS if p != "heart_rate"},
        heart_rate=[100, 100, 110, 100],
        spo2_scale=1,
        accepted={"heart_rate": ([90, 90, 90, np.nan], [105, 105, 105, 105])},
    )
    assert result.heart_rate.tolist() == [0, 0, 1, 1]
    assert result.unadjusted_scores[:, 4].tolist() == [1, 1, 1, 1]
    assert result.total.tolist() == [0, 0, 1, 1]
    assert result.unadjusted_total.tolist() == [1, 1, 1, 1]
    assert result.band.tolist() == ["zero", "zero", "low", "low"]
    assert result.unadjusted_band.tolist() == ["low"] * 4
    assert result.overridden[:, 4].tolist() == [True, True, False, False]


def test_an_accepted_range_never_adjusts_a_red_parameter_away() -> None:
    """Hazard 2: a sub-score of 3 always counts.  (Long-standing confusion is recorded
    as the patient's "alert", news2.md: only new confusion scores 3.)"""
    accepted = {"consciousness": ([0.0, 0.0], [1.0, 1.0]),
                "heart_rate": ([30.0, 30.0], [140.0, 140.0])}
    columns = {p: [v] * 2 for p, v in NORMAL.items()} | {"consciousness": ["C", "A"],
                                                         "heart_rate": [70.0, 135.0]}
    result = score_news2(**columns, spo2_scale=1, accepted=accepted)
    assert result.scores[:, 5].tolist() == [3, 0] and result.scores[:, 4].tolist() == [0, 3]
    assert result.total.tolist() == [3, 3] and result.band.tolist() == ["low-medium"] * 2
    assert not result.overridden.any()


def test_the_issue_example_hr_35_sbp_85_is_not_silenced_by_an_accepted_range() -> None:
    """Hazard 2: `accept P heart_rate 30 140` turned HR 35 and SBP 85 (true NEWS2 6) into 0."""
    columns = {p: [v] for p, v in NORMAL.items()} | {"heart_rate": [35.0], "systolic_bp": [85.0]}
    result = score_news2(**columns, spo2_scale=1,
                         accepted={"heart_rate": ([30.0], [140.0])})
    assert result.unadjusted_total.tolist() == [6] and result.total.tolist() == [6]
    assert result.band.tolist() == ["medium"]


@pytest.mark.parametrize(
    ("accepted", "parameter"),
    [
        ({"pulse": ([0], [1])}, "pulse"),
        ({"heart_rate": ([100], [90])}, "accepted[heart_rate]"),
        ({"heart_rate": ([90, 90], [100, 100])}, "accepted[heart_rate].low"),
    ],
)
def test_bad_accepted_ranges(accepted: dict, parameter: str) -> None:
    with pytest.raises(ScoringInputError) as caught:
        score_news2(**{p: [v] for p, v in NORMAL.items()}, spo2_scale=1, accepted=accepted)
    assert caught.value.parameter == parameter


# --- bad input --------------------------------------------------------------------------------

BAD = [
    ("respiratory_rate", [16, 16, -1, 16], (2,), "negative"),
    ("temperature", [np.inf, 37, 37, -np.inf], (0, 3), "infinite"),
    ("heart_rate", [70, -5, 70, 70], (1,), "negative"),
    ("systolic_bp", [120, 120, 120, np.inf], (3,), "infinite"),
    ("spo2", [98, 100.5, 98, 101], (1, 3), "above 100"),
    ("spo2", [-1, 98, 98, 98], (0,), "negative"),
    ("consciousness", ["A", "X", "A", "A"], (1,), "unknown"),
    ("consciousness", [0, 5, 1.5, -1], (1, 2, 3), "unknown"),
    ("consciousness", ["A", True, "A", "A"], (1,), "unknown"),
    ("on_oxygen", [0, 1, 0.5, 2], (2, 3), r"0 \(air\) or 1"),
    ("respiratory_rate", [16, "fast", 16, 16], (1,), "not a number"),
]


@pytest.mark.parametrize(("parameter", "values", "rows", "message"), BAD)
def test_bad_values_name_parameter_and_rows(
    parameter: str, values: list, rows: tuple[int, ...], message: str
) -> None:
    columns = {p: [v] * 4 for p, v in NORMAL.items()} | {parameter: values}
    with pytest.raises(ScoringInputError, match=message) as caught:
        score_news2(**columns, spo2_scale=1)
    assert (caught.value.parameter, caught.value.rows) == (parameter, rows)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"{parameter}: ")


@pytest.mark.parametrize(("scale", "rows"), [([1, 3, 2, 0], (1, 3)), ([1, np.nan, 1, 1], (1,))])
def test_bad_spo2_scale(scale: list, rows: tuple[int, ...]) -> None:
    with pytest.raises(ScoringInputError, match="1 or 2") as caught:
        score_news2(**{p: [v] * 4 for p, v in NORMAL.items()}, spo2_scale=scale)
    assert (caught.value.parameter, caught.value.rows) == ("spo2_scale", rows)


def test_unequal_lengths_name_the_parameter() -> None:
    columns = {p: [v] * 3 for p, v in NORMAL.items()} | {"heart_rate": [70, 70]}
    with pytest.raises(ScoringInputError, match="length 2, expected 3") as caught:
        score_news2(**columns, spo2_scale=1)
    assert (caught.value.parameter, caught.value.rows) == ("heart_rate", ())
    with pytest.raises(ScoringInputError) as caught:
        score_news2(**{p: [v] * 3 for p, v in NORMAL.items()}, spo2_scale=[1, 1])
    assert caught.value.parameter == "spo2_scale"


def test_error_names_at_most_five_rows_and_pickles() -> None:
    columns = {p: [v] * 8 for p, v in NORMAL.items()} | {"heart_rate": [-1] * 8}
    with pytest.raises(ScoringInputError) as caught:
        score_news2(**columns, spo2_scale=1)
    assert caught.value.rows == (0, 1, 2, 3, 4)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.parameter, again.rows, str(again)) == (
        "heart_rate",
        (0, 1, 2, 3, 4),
        str(caught.value),
    )


# --- properties ---------------------------------------------------------------------------------

# A point inside each normal band: moving away from it on either side never lowers the score.
CENTRE = {
    "respiratory_rate": (16.0, 0.0, 60.0),
    "systolic_bp": (150.0, 0.0, 300.0),
    "heart_rate": (70.0, 0.0, 250.0),
    "temperature": (37.0, 25.0, 45.0),
    "spo2": (100.0, 40.0, 100.0),
}


@pytest.mark.parametrize("parameter", list(CENTRE))
@given(data=st.data())
def test_score_never_falls_moving_away_from_normal(parameter: str, data: st.DataObject) -> None:
    centre, low, high = CENTRE[parameter]
    side = data.draw(st.sampled_from([(low, centre), (centre, high)]))
    a, b = sorted(data.draw(st.lists(st.floats(*side), min_size=2, max_size=2)))
    near, far = (b, a) if side[1] == centre else (a, b)
    scores = score_news2(
        **{p: [v] * 2 for p, v in NORMAL.items()} | {parameter: [near, far]}, spo2_scale=1
    )
    assert getattr(scores, parameter)[1] >= getattr(scores, parameter)[0]


@given(data=st.data())
def test_scale_2_on_oxygen_never_falls_moving_away_from_88_92(data: st.DataObject) -> None:
    side = data.draw(st.sampled_from([(40.0, 90.0), (90.0, 100.0)]))
    a, b = sorted(data.draw(st.lists(st.floats(*side), min_size=2, max_size=2)))
    near, far = (b, a) if side[1] == 90.0 else (a, b)
    result = score_news2(
        **{p: [v] * 2 for p, v in NORMAL.items()} | {"spo2": [near, far], "on_oxygen": [1, 1]},
        spo2_scale=2,
    )
    assert result.spo2[1] >= result.spo2[0]


def _maybe(values: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return st.one_of(values, st.just(math.nan))


def _halves(low: float, high: float) -> st.SearchStrategy[float]:
    """Values on the half-points (band edges and between them) and anywhere."""
    on_grid = st.integers(int(low * 2), int(high * 2)).map(lambda k: k / 2)
    return _maybe(st.one_of(on_grid, st.floats(low, high)))


ROW = st.tuples(
    _halves(0, 60),
    _halves(40, 100),
    _maybe(st.sampled_from([0.0, 1.0])),
    _halves(0, 300),
    _halves(0, 250),
    _maybe(st.sampled_from([0.0, 1.0, 2.0, 3.0, 4.0])),
    _maybe(st.one_of(st.integers(500, 900).map(lambda k: k / 20), st.floats(25, 45))),
    st.sampled_from([1, 2]),
)


@settings(max_examples=200)
@given(rows=st.lists(ROW, min_size=1, max_size=40))
def test_vectorised_equals_per_row_reference(rows: list[tuple]) -> None:
    columns = list(zip(*rows, strict=True))
    result = score_news2(**dict(zip(PARAMETERS, columns[:7], strict=True)), spo2_scale=columns[7])
    expected = [score_row_python(*row) for row in rows]
    assert result.scores.tolist() == [list(e) for e in expected]
    totals = [sum(s for s in e if s > 0) for e in expected]
    assert result.total.tolist() == totals
    assert all(0 <= t <= 20 for t in totals)
    assert result.complete.tolist() == [min(e) >= 0 for e in expected]
    assert result.max_single.tolist() == [max(0, *e) for e in expected]


@given(row=ROW, hide=st.lists(st.booleans(), min_size=7, max_size=7))
def test_incomplete_total_is_a_lower_bound(row: tuple, hide: list[bool]) -> None:
    full = [0.0 if math.isnan(v) else v for v in row[:7]]
    partial = [math.nan if h else v for v, h in zip(full, hide, strict=True)]
    both = score_news2(
        **{p: [f, q] for p, f, q in zip(PARAMETERS, full, partial, strict=True)},
        spo2_scale=row[7],
    )
    assert both.total[1] <= both.total[0]
    assert BANDS.index(both.band[1]) <= BANDS.index(both.band[0])


def test_bench_smoke() -> None:
    figures = bench_scoring(n=2_000, seed=1)
    assert figures["mismatches"] == 0
    assert figures["python_rows"] == 2_000
    assert figures["vectorised_s"] > 0 and figures["floor_s"] > 0
    assert "2,000 observation sets" in format_report(figures)
