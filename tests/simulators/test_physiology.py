"""Physiology: values stay where a body and a device can be, and each course
moves the vitals the way its name says (means over many patients, fixed seeds)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.physiology import COURSE_NAMES, COURSES, HIGH, LOW, VITALS, Ward

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOUR = 3600.0


def ward(course: str, n: int = 300, seed: int = 7, **kw) -> Ward:
    return Ward.create(n, [course] * n, np.random.default_rng(seed), START, **kw)


def means(w: Ward, t: float) -> dict[str, float]:
    state = w.state_at(t)
    return {v: float(state[v].mean()) for v in VITALS}


def change(course: str, t0: float, t1: float, **kw) -> dict[str, float]:
    """Mean change of each vital from t0 to t1, minus a stable cohort's change
    over the same hours (so the day-night rhythm cancels)."""
    sick, control = ward(course, **kw), ward("stable", seed=8)
    a, b, c, d = means(sick, t0), means(sick, t1), means(control, t0), means(control, t1)
    return {v: (b[v] - a[v]) - (d[v] - c[v]) for v in VITALS}


def assert_in_range(state: dict[str, np.ndarray]) -> None:
    for i, name in enumerate(VITALS):
        assert np.all(state[name] >= LOW[i]) and np.all(state[name] <= HIGH[i]), name
    assert np.all(state["diastolic_bp"] < state["systolic_bp"])
    assert set(np.unique(state["consciousness"])) <= {"A", "C"}
    assert state["on_oxygen"].dtype == bool


@pytest.mark.parametrize("course", COURSE_NAMES)
def test_every_course_stays_in_range_for_two_weeks(course: str) -> None:
    w = ward(course, n=40, onset=HOUR)
    times = np.arange(0, 14 * 24 * HOUR, 600.0)
    patients = np.repeat(np.arange(w.n), len(times))
    state = w.state_at(np.tile(times, w.n), patients)
    assert_in_range(state)
    assert np.all(np.isfinite(np.column_stack([state[v] for v in VITALS])))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    course=st.sampled_from(COURSE_NAMES),
    onset=st.floats(-1e6, 1e7),
    duration=st.floats(1.0, 1e6),
    t=st.floats(-1e6, 3e7),
)
def test_state_is_in_range_for_any_course_onset_and_time(
    seed: int, course: str, onset: float, duration: float, t: float
) -> None:
    w = Ward.create(
        5, [course] * 5, np.random.default_rng(seed), START, onset=onset, duration=duration
    )
    assert_in_range(w.state_at(t))


def test_sepsis_raises_heart_rate_breathing_and_temperature_and_lowers_pressure() -> None:
    d = change("sepsis", HOUR, 5 * HOUR, onset=HOUR, duration=4 * HOUR)
    assert d["heart_rate"] > 30 and d["respiratory_rate"] > 9 and d["temperature"] > 1.5
    assert d["systolic_bp"] < -30 and d["spo2"] < -3


def test_sepsis_brings_new_confusion_late() -> None:
    w = ward("sepsis", onset=HOUR, duration=4 * HOUR)
    confused = [np.mean(w.state_at(t)["consciousness"] == "C") for t in (HOUR, 3 * HOUR, 5 * HOUR)]
    assert confused == [0.0, 0.0, 1.0]  # confusion starts at 75-95 % of the course


def test_copd_exacerbation_lowers_spo2_then_oxygen_brings_it_to_target() -> None:
    w = ward("copd_exacerbation", onset=HOUR, duration=8 * HOUR)
    assert np.all(w.copd) and np.all(w.spo2_scale == 2)
    before_oxygen = w.oxygen_at.min() - 60
    assert before_oxygen > 3 * HOUR  # oxygen at 50-80 % of the course
    d = change("copd_exacerbation", HOUR, before_oxygen, onset=HOUR, duration=8 * HOUR)
    assert d["spo2"] < -3 and d["respiratory_rate"] > 4
    late = w.state_at(12 * HOUR)
    assert late["on_oxygen"].all()
    assert 88.0 <= late["spo2"].mean() <= 92.0
    assert not w.state_at(HOUR)["on_oxygen"].any()


def test_sudden_hypoxia_drops_spo2_within_minutes() -> None:
    w = ward("sudden_hypoxia", onset=HOUR)
    assert w.duration.max() <= 600  # the drop takes minutes
    d = change("sudden_hypoxia", HOUR - 60, HOUR + 600, onset=HOUR)
    assert d["spo2"] < -12 and d["respiratory_rate"] > 8 and d["heart_rate"] > 20
    confused = w.state_at(HOUR + 2 * HOUR)["consciousness"] == "C"
    assert confused.all()
    assert (w.state_at(HOUR + 60)["consciousness"] == "A").all()


def test_bleed_lowers_systolic_and_raises_heart_rate() -> None:
    d = change("bleed", HOUR, 4 * HOUR, onset=HOUR, duration=2 * HOUR)
    assert d["systolic_bp"] < -35 and d["heart_rate"] > 35


def test_recovering_patients_improve_towards_their_baseline() -> None:
    w = ward("recovering", onset=0.0, duration=24 * HOUR)
    control = ward("stable", seed=8)

    def distance(t: float) -> dict[str, float]:
        sick, well = w.state_at(t), control.state_at(t)
        return {
            v: abs(
                float(
                    np.mean(sick[v] - w.baseline[:, i]) - np.mean(well[v] - control.baseline[:, i])
                )
            )
            for i, v in enumerate(VITALS)
        }

    start, end = distance(0.0), distance(30 * HOUR)
    assert start["heart_rate"] > 12 and end["heart_rate"] < 2
    assert start["temperature"] > 0.6 and end["temperature"] < 0.1
    for v in VITALS:
        assert end[v] <= start[v] + 0.5


def test_stable_patients_stay_near_their_baseline() -> None:
    w = ward("stable")
    times = np.arange(0, 24 * HOUR, 300.0)
    patients = np.repeat(np.arange(w.n), len(times))
    state = w.state_at(np.tile(times, w.n), patients)
    tolerance = {
        "respiratory_rate": 2,
        "spo2": 1.5,
        "systolic_bp": 9,
        "diastolic_bp": 7,
        "heart_rate": 7,
        "temperature": 0.3,
    }
    for i, v in enumerate(VITALS):
        day_mean = state[v].reshape(w.n, len(times)).mean(axis=1)
        assert np.all(np.abs(day_mean - w.baseline[:, i]) < tolerance[v]), v
    assert (state["consciousness"] == "A").all() and not state["on_oxygen"].any()
    assert np.mean(state["spo2"] >= 94) > 0.99


def test_heart_rate_and_temperature_are_lower_at_night() -> None:
    w = ward("stable")
    night, afternoon = means(w, 20 * HOUR), means(w, 8 * HOUR)  # 04:00 and 16:00
    assert night["heart_rate"] < afternoon["heart_rate"] - 5
    assert night["temperature"] < afternoon["temperature"] - 0.3


def test_state_at_is_random_access_and_repeatable() -> None:
    a, b = ward("sepsis", n=50, seed=3, onset=HOUR), ward("sepsis", n=50, seed=3, onset=HOUR)
    t = np.linspace(0, 10 * HOUR, 50)
    full, again = a.state_at(t), b.state_at(t)
    subset = np.array([4, 17, 30])
    part = a.state_at(t[subset], subset)
    for v in VITALS:
        np.testing.assert_array_equal(full[v], again[v])
        np.testing.assert_array_equal(full[v][subset], part[v])
    other = ward("sepsis", n=50, seed=4, onset=HOUR).state_at(t)
    assert not np.array_equal(full["heart_rate"], other["heart_rate"])


def test_copd_patients_live_at_scale_2_targets() -> None:
    w = ward("stable", copd=True)
    assert np.all(w.spo2_scale == 2)
    assert np.all((w.baseline[:, 1] >= 88) & (w.baseline[:, 1] <= 92))


def test_unknown_course_and_bad_shapes_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"unknown course.*'sepss'"):
        Ward.create(2, ["stable", "sepss"], rng, START)
    with pytest.raises(ValueError, match="one course per patient"):
        Ward.create(3, ["stable"], rng, START)
    with pytest.raises(ValueError, match="duration"):
        Ward.create(1, ["sepsis"], rng, START, duration=0.0)


def test_every_course_has_a_sensible_default_duration() -> None:
    for course in COURSES.values():
        lo, hi = course.duration_s
        assert 0 < lo <= hi
