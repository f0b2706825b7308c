"""The one backoff of every reconnect loop; pure."""

from __future__ import annotations

import pytest

from ward.retry import BROKER, DATABASE, Backoff


def test_delays_grow_to_the_last_and_stay_there():
    b = Backoff((0.5, 1, 2))
    assert [b.next_delay() for _ in range(5)] == [0.5, 1, 2, 2, 2]
    assert b.failing and b.failures == 5


def test_a_success_starts_the_backoff_over():
    """The engine's bug (issue 11): after five failures every later outage
    waited the full 10 s, because nothing reset the count on reconnecting."""
    b = Backoff(DATABASE)
    for _ in range(5):
        b.next_delay()
    assert b.next_delay() == 10.0
    b.reset()
    assert not b.failing
    assert b.next_delay() == DATABASE[0] == 0.5
    assert b.next_delay() == 1.0


def test_the_stages_delays():
    assert Backoff().delays == DATABASE
    assert Backoff(BROKER).next_delay() == 0.1


@pytest.mark.parametrize("delays", [(), (1.0, -0.5)])
def test_no_delays_or_a_negative_one_are_refused(delays):
    with pytest.raises(ValueError, match="delays"):
        Backoff(delays)
