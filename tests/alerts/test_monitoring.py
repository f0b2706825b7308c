"""The monitoring band and completeness (alerts/monitoring.py) at their edges, and the
vectorised wavefront against a plain per-set reference (hazard 1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from alerts.monitoring import complete_up_to, monitoring
from ward.news2_chart import BANDS, MONITORING_INTERVAL

T = np.datetime64("2026-11-23T12:00:00", "us")
US = np.timedelta64(1, "us")


def ages(*ages: np.timedelta64 | None) -> np.ndarray:
    return np.array([[np.datetime64("NaT") if a is None else T - a for a in ages]],
                    "datetime64[us]")


@pytest.mark.parametrize("level", range(len(BANDS)))
def test_a_value_exactly_its_bands_interval_old_is_within_it(level: int) -> None:
    interval = np.timedelta64(MONITORING_INTERVAL[BANDS[level]])
    assert complete_up_to(ages(interval, np.timedelta64(0, "s")), [T])[0] >= level
    assert complete_up_to(ages(interval + US, np.timedelta64(0, "s")), [T])[0] < level


def test_complete_up_to_levels_and_a_missing_value() -> None:
    minutes = [np.timedelta64(m, "m") for m in (10, 15, 16, 60, 61, 240, 241, 720, 721)]
    got = [int(complete_up_to(ages(m), [T])[0]) for m in minutes]
    assert got == [4, 4, 3, 3, 1, 1, 0, 0, -1]
    assert complete_up_to(ages(np.timedelta64(0, "s"), None), [T]).tolist() == [-1]


def reference(patient, band, limit, seed):
    """The rule written plainly, one set after another."""
    level, complete, carried = [], [], list(seed)
    for p, b, lim in zip(patient, band, limit, strict=True):
        m = max(carried[p], b)
        ok = m <= lim
        level.append(m)
        complete.append(ok)
        carried[p] = b if ok else m
    return level, complete, carried


def test_the_monitoring_band_is_the_highest_since_the_last_complete_set() -> None:
    # high (complete), then low sets that are complete only for low's 4 h: the first
    # two are judged at high (15 min) and are not complete, so high holds.
    patient = [0, 0, 0, 0]
    band = [4, 1, 1, 0]
    limit = [4, 1, 1, 4]  # the last set: everything within 15 min
    level, complete, carried = monitoring(patient, band, limit, [-1])
    assert level.tolist() == [4, 4, 4, 4] and complete.tolist() == [True, False, False, True]
    assert carried.tolist() == [0]


def test_the_seed_carries_in_and_patients_do_not_mix() -> None:
    level, complete, carried = monitoring([0, 1, 1], [0, 0, 2], [4, 0, 2], [3, -1, -1])
    assert level.tolist() == [3, 0, 2] and complete.tolist() == [True, True, True]
    assert carried.tolist() == [0, 2, -1]


def test_unsorted_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="sorted by patient"):
        monitoring([1, 0], [0, 0], [0, 0], [-1, -1])


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(-1, 4)),
                     max_size=40),
       seed=st.lists(st.integers(-1, 4), min_size=4, max_size=4))
def test_the_wavefront_agrees_with_the_plain_rule(rows, seed) -> None:
    rows = sorted(rows, key=lambda r: r[0])  # stable: the order within a patient is kept
    patient = [r[0] for r in rows]
    band = [r[1] for r in rows]
    limit = [r[2] for r in rows]
    level, complete, carried = monitoring(patient, band, limit, seed)
    expected = reference(patient, band, limit, seed)
    assert (level.tolist(), complete.tolist(), carried.tolist()) == expected
