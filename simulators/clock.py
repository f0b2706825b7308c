"""Simulated time: real monotonic time, scaled by a speed, from a start.

The only module of the simulators that reads a clock; pass `monotonic` to
drive it by hand in a test."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """Maps real monotonic time to simulated time.

    start : the simulated time at creation (timezone-aware).  speed : simulated
    seconds per real second (60: an hour a minute).
    """

    def __init__(
        self, start: datetime, speed: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.start = start.astimezone(UTC)
        self.speed = float(speed)
        self._monotonic = monotonic
        self._origin = monotonic()

    def elapsed(self) -> float:
        """Simulated seconds since start [s]."""
        return (self._monotonic() - self._origin) * self.speed

    def now(self) -> datetime:
        """The simulated time now."""
        return self.to_datetime(self.elapsed())

    def to_datetime(self, sim_seconds: float) -> datetime:
        """Simulated seconds since start [s] as a datetime (UTC)."""
        return self.start + timedelta(seconds=sim_seconds)

    def real_delay(self, sim_seconds: float) -> float:
        """Real seconds to wait until simulated time sim_seconds [s]; 0 if past."""
        return max(0.0, (sim_seconds - self.elapsed()) / self.speed)
