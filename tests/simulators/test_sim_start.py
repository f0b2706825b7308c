"""`vward simulate --start`: a start whose readings the ingest would refuse is refused
before any device is registered (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.commands import _check_start
from simulators.errors import SimulatorError

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_a_start_within_the_ingest_window_is_taken() -> None:
    _check_start(NOW - timedelta(days=30), NOW, 30)  # the oldest the ingest takes
    _check_start(NOW, NOW, 30)


def test_a_start_too_old_or_to_come_is_refused() -> None:
    with pytest.raises(SimulatorError, match="more than 30 days ago"):
        _check_start(NOW - timedelta(days=30, seconds=1), NOW, 30)
    with pytest.raises(SimulatorError, match="is in the future"):
        _check_start(NOW + timedelta(seconds=1), NOW, 30)
