"""Which AMQP delivery tags to acknowledge after a commit, and how; pure.

A channel numbers its deliveries 1, 2, 3, ... and `basic_ack(tag,
multiple=True)` acknowledges every unacknowledged delivery up to `tag`, so
one frame per batch does the work of thousands (PUBACK batching's AMQP
twin).  It must never cover a delivery that was not committed: one the edge
failed to queue, or a batch the writer gave up on when it stopped with the
database away.  Such a delivery leaves a gap; past it, tags are acked one by
one until the gap is closed (it never is on this channel: the broker
redelivers the delivery when the channel closes).

RabbitMQ refuses (and closes the channel on) a multiple ack whose own tag
was acked already, so the multiple ack always names a tag of this batch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AckPlan:
    """One `basic_ack(multiple, multiple=True)` (if not None), then one
    `basic_ack(tag)` per single."""

    multiple: int | None
    singles: tuple[int, ...]


@dataclass(slots=True)
class AckLedger:
    """The acknowledged tags of one channel: all up to `floor`, and `above`
    (acked singly past a gap)."""

    floor: int = 0
    above: set[int] = field(default_factory=set)

    def plan(self, tags: Iterable[int]) -> AckPlan:
        """Acks for committed `tags` (any order, repeats and tags acked
        already ignored), recording them as acked."""
        new = sorted({t for t in tags if t > self.floor and t not in self.above})
        if not new:
            return AckPlan(None, ())
        acked = self.above.union(new)
        floor = self.floor
        while floor + 1 in acked:
            floor += 1
        covered = [t for t in new if t <= floor]
        singles = tuple(t for t in new if t > floor)
        self.floor = floor
        self.above = {t for t in acked if t > floor}
        return AckPlan(covered[-1] if covered else None, singles)
