"""Which delivery tags a committed batch acknowledges, and how (ingest/acks.py):
one multiple ack per batch while every earlier tag is acked, never one that
covers a delivery not committed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.acks import AckLedger, AckPlan


def test_consecutive_batches_are_one_multiple_ack_each():
    ledger = AckLedger()
    assert ledger.plan(range(1, 501)) == AckPlan(500, ())
    assert ledger.plan(range(501, 1201)) == AckPlan(1200, ())
    assert ledger.floor == 1200 and not ledger.above


def test_a_gap_is_never_covered_by_a_multiple_ack():
    """Tag 4 was never committed (the edge could not queue it, or the writer
    gave up on its batch): tags past it are acked one by one."""
    ledger = AckLedger()
    assert ledger.plan([1, 2, 3]) == AckPlan(3, ())
    assert ledger.plan([5, 6, 7]) == AckPlan(None, (5, 6, 7))
    assert ledger.plan([8]) == AckPlan(None, (8,))
    assert ledger.floor == 3


def test_a_late_batch_closing_the_gap_acks_up_to_its_own_last_tag():
    """RabbitMQ refuses a multiple ack naming a tag acked already, so the
    multiple ack names the batch's own tag below the new floor."""
    ledger = AckLedger()
    ledger.plan([1, 2])
    ledger.plan([5, 6])  # singles: 3 and 4 are missing
    plan = ledger.plan([4, 3])
    assert plan == AckPlan(4, ())
    assert ledger.floor == 6 and not ledger.above
    assert ledger.plan([7, 8]) == AckPlan(8, ())


def test_repeats_and_tags_acked_already_are_ignored():
    ledger = AckLedger()
    ledger.plan([1, 2, 3])
    assert ledger.plan([2, 3]) == AckPlan(None, ())
    assert ledger.plan([4, 4, 5]) == AckPlan(5, ())


@given(st.lists(st.lists(st.integers(1, 60), max_size=20), max_size=15))
def test_every_committed_tag_is_acked_once_and_nothing_else(batches):
    """Simulate the broker: a multiple ack takes every unacked tag up to its
    own, which must itself be unacked; a single ack takes its tag."""
    ledger = AckLedger()
    acked: set[int] = set()
    committed: set[int] = set()
    for batch in batches:
        committed.update(batch)
        plan = ledger.plan(batch)
        if plan.multiple is not None:
            assert plan.multiple not in acked  # else RabbitMQ closes the channel
            newly = {t for t in range(1, plan.multiple + 1) if t not in acked}
            assert newly <= committed  # nothing uncommitted is covered
            acked |= newly
        for t in plan.singles:
            assert t not in acked
            acked.add(t)
        assert acked == committed
