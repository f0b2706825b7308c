"""The simulated clock maps real monotonic time to simulated time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.clock import SimClock

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_simulated_time_runs_at_the_given_speed() -> None:
    real = FakeMonotonic()
    clock = SimClock(START, 60.0, monotonic=real)
    assert clock.elapsed() == 0 and clock.now() == START
    real.now += 2.5
    assert clock.elapsed() == 150.0
    assert clock.now() == START + timedelta(seconds=150)
    assert clock.to_datetime(3600) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_real_delay_until_a_simulated_time() -> None:
    real = FakeMonotonic()
    clock = SimClock(START, 10.0, monotonic=real)
    assert clock.real_delay(100.0) == 10.0
    real.now += 4
    assert clock.real_delay(100.0) == 6.0
    assert clock.real_delay(10.0) == 0.0


def test_the_real_clock_moves_forward() -> None:
    clock = SimClock(START, 1000.0)
    assert clock.elapsed() >= 0


@pytest.mark.parametrize(
    ("start", "speed"), [(START.replace(tzinfo=None), 1.0), (START, 0.0), (START, -2.0)]
)
def test_bad_start_or_speed_is_refused(start: datetime, speed: float) -> None:
    with pytest.raises(ValueError):
        SimClock(start, speed)
