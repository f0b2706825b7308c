"""Latest value of each parameter as of an instant, against a naive per-row reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.asof import latest_values
from alerts.errors import ScoringInputError
from alerts.news2 import PARAMETERS

T0 = np.datetime64("2026-11-23T08:00:00", "us")
MIN = np.timedelta64(60_000_000, "us")
HR = PARAMETERS.index("heart_rate")
RR = PARAMETERS.index("respiratory_rate")


def at(minutes: float) -> np.datetime64:
    return T0 + np.timedelta64(int(minutes * 60_000_000), "us")


def times(*minutes: float) -> np.ndarray:
    return np.array([at(m) for m in minutes], dtype="datetime64[us]")


def test_latest_fresh_value_per_parameter() -> None:
    values, when = latest_values(
        obs_patient=[0, 0, 0, 0, 1],
        obs_time=times(0, 10, 20, 5, 15),
        obs_param=[HR, HR, HR, RR, HR],
        obs_value=[70, 80, 90, 16, 100],
        at_patient=[0, 0, 1],
        at_time=times(15, 45, 15),
        freshness=30 * MIN,
    )
    assert values[:, HR].tolist() == [80, 90, 100]  # the obs at 20 is after the first instant
    assert values[0, RR] == 16 and math.isnan(values[1, RR])  # 40 min old: stale
    assert math.isnan(values[2, RR])  # patient 1 has no RR; patient 0's is not borrowed
    assert when[:, HR].tolist() == times(10, 20, 15).tolist()
    assert np.isnat(when[1, RR]) and when[0, RR] == at(5)


def test_boundaries_are_inclusive() -> None:
    values, _ = latest_values(
        [0, 0],
        times(0, 60),
        [HR, RR],
        [70, 16],
        at_patient=[0, 0, 0],
        at_time=np.array([at(60), at(60) + np.timedelta64(1, "us"), at(59)]),
        freshness=60 * MIN,
    )
    # At 60: the HR of 0 is exactly 60 min old (kept) and the RR is at the instant (kept).
    assert values[0, [HR, RR]].tolist() == [70, 16]
    # One microsecond later the HR is stale.
    assert math.isnan(values[1, HR]) and values[1, RR] == 16
    # Before 60 the RR is in the future.
    assert values[2, HR] == 70 and math.isnan(values[2, RR])


def test_duplicates_take_the_last_in_input_order() -> None:
    values, _ = latest_values(
        [0, 0, 0], times(5, 5, 5), [HR, HR, HR], [70, 75, 72], [0], times(10), 60 * MIN
    )
    assert values[0, HR] == 72


def test_nan_observations_are_skipped_and_per_parameter_freshness() -> None:
    freshness = np.full(7, 10 * MIN)
    freshness[PARAMETERS.index("consciousness")] = 240 * MIN
    values, _ = latest_values(
        [0, 0, 0],
        times(0, 50, 0),
        [HR, HR, PARAMETERS.index("consciousness")],
        [70, np.nan, 1],
        [0],
        times(55),
        freshness,
    )
    assert math.isnan(values[0, HR])  # the 70 is stale; the later NaN does not count
    assert values[0, PARAMETERS.index("consciousness")] == 1


def test_int_microseconds_equal_datetimes() -> None:
    obs_time = times(0, 10, 20)
    args = ([0, 1, 0], obs_time, [HR, HR, RR], [70, 80, 16], [0, 1], times(30, 30))
    as_dt = latest_values(*args, freshness=np.timedelta64(25, "m"))
    ints = list(args)
    ints[1] = obs_time.view(np.int64)
    ints[5] = times(30, 30).view(np.int64)
    as_int = latest_values(*ints, freshness=25 * 60_000_000)
    np.testing.assert_array_equal(as_dt[0], as_int[0])
    np.testing.assert_array_equal(as_dt[1], as_int[1])
    assert as_dt[0][:, HR].tolist()[1] == 80 and math.isnan(as_dt[0][0, HR])


def test_no_observations() -> None:
    values, when = latest_values([], np.array([], "datetime64[us]"), [], [], [3], times(0), MIN)
    assert values.shape == (1, 7) and np.isnan(values).all() and np.isnat(when).all()


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"obs_param": [7]}, "obs_param"),
        ({"obs_param": [-1]}, "obs_param"),
        ({"obs_value": [1.0, 2.0]}, "obs_value"),
        ({"at_time": times(0, 1)}, "at_time"),
        ({"obs_time": np.array(["NaT"], "datetime64[us]")}, "obs_time"),
        ({"obs_time": [1.5]}, "obs_time"),
    ],
)
def test_bad_input(change: dict, parameter: str) -> None:
    args = {
        "obs_patient": [0],
        "obs_time": times(0),
        "obs_param": [HR],
        "obs_value": [70.0],
        "at_patient": [0],
        "at_time": times(0),
        "freshness": MIN,
    }
    with pytest.raises(ScoringInputError) as caught:
        latest_values(**(args | change))
    assert caught.value.parameter == parameter


# --- against a naive reference ----------------------------------------------------------------


def naive(obs, instants, freshness):  # type: ignore[no-untyped-def]
    """For each instant and parameter, scan every observation (last in input order wins)."""
    out = np.full((len(instants), 7), np.nan)
    for i, (patient, t) in enumerate(instants):
        for p in range(7):
            best = None
            for j, (op, ot, oparam, value) in enumerate(obs):
                fresh = t - freshness <= ot <= t
                usable = op == patient and oparam == p and fresh and not math.isnan(value)
                if usable and (best is None or ot >= obs[best][1]):
                    best = j
            if best is not None:
                out[i, p] = obs[best][3]
    return out


OBS = st.tuples(
    st.integers(0, 3),
    st.integers(0, 40),
    st.integers(0, 6),
    st.one_of(st.floats(0, 200), st.just(math.nan)),
)
INSTANTS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 50)), min_size=1, max_size=20)


def run(obs: list[tuple], instants: list[tuple], freshness: int) -> np.ndarray:
    columns = list(zip(*obs, strict=True)) if obs else [[], [], [], []]
    values, _ = latest_values(
        columns[0],
        np.asarray(columns[1], dtype=np.int64),
        columns[2],
        columns[3],
        [i[0] for i in instants],
        np.asarray([i[1] for i in instants], dtype=np.int64),
        freshness,
    )
    return values


@settings(max_examples=200)
@given(obs=st.lists(OBS, max_size=60), instants=INSTANTS, freshness=st.integers(0, 30))
def test_matches_naive_reference(obs: list[tuple], instants: list[tuple], freshness: int) -> None:
    np.testing.assert_array_equal(run(obs, instants, freshness), naive(obs, instants, freshness))


@settings(max_examples=100)
@given(
    obs=st.lists(OBS, max_size=60, unique_by=lambda o: o[:3]),
    instants=INSTANTS,
    freshness=st.integers(0, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_order_of_input_does_not_matter(
    obs: list[tuple], instants: list[tuple], freshness: int, seed: int
) -> None:
    shuffled = list(obs)
    np.random.default_rng(seed).shuffle(shuffled)
    np.testing.assert_array_equal(run(shuffled, instants, freshness), run(obs, instants, freshness))
