"""How long to wait before trying a lost connection again: one backoff for
the database and broker connections of every stage.

A `Backoff` walks up its delays on each failure and starts over when the
caller says the connection works (`reset`): the engine's own loop once kept
counting across outages, so after five failures in a day every later
reconnect waited the longest delay.  Waiting (a sleep, an event's wait, an
ioloop's timer) stays the caller's, so the same class serves a blocking loop
and a pika callback.  tenacity was weighed: it retries a call until it
succeeds, while these connections succeed and then fail hours later, or are
reopened from callbacks, and its reset would be a new Retrying each time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# [s] between attempts at the database: a restart is caught within a second,
# an outage of minutes costs one attempt every 10 s.
DATABASE = (0.5, 1.0, 2.0, 5.0, 10.0)
# [s] between attempts at a RabbitMQ node (each attempt tries the next node).
BROKER = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


@dataclass(slots=True)
class Backoff:
    """Delays that grow with each failure, up to the last one, until `reset`."""

    delays: Sequence[float] = DATABASE
    failures: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.delays or any(d < 0 for d in self.delays):
            raise ValueError(f"delays must be one or more non-negative seconds, got {self.delays}")

    def next_delay(self) -> float:
        """A failure: the seconds to wait before the next attempt [s]."""
        delay = self.delays[min(self.failures, len(self.delays) - 1)]
        self.failures += 1
        return delay

    def reset(self) -> None:
        """The connection works: the next failure waits the first delay again."""
        self.failures = 0

    @property
    def failing(self) -> bool:
        """Whether an attempt has failed since the last success (one warning
        per outage, the attempts after it at debug)."""
        return self.failures > 0
