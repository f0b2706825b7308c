"""ward/score_queue.enqueue locks queue rows in patient order, whatever order its caller
gives: two writers queueing the same patients in opposite orders wait for each other
instead of deadlocking (before, one of them failed with a deadlock: an ingest batch to
retry, or an engine that dropped its connection)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from ward import db, score_queue


@pytest.mark.db
def test_opposite_orders_wait_instead_of_deadlocking(services_up, register) -> None:
    a, b = sorted([register().patient_id, register().patient_id])
    t = datetime.now(UTC)
    errors: list[BaseException] = []
    with db.connect(services_up) as first, db.connect(services_up) as second:
        score_queue.enqueue(first, [a], [t])  # first holds a, in its open transaction

        def queue_b_then_a() -> None:
            try:
                score_queue.enqueue(second, [b, a], [t, t])
                second.commit()
            except psycopg.Error as exc:
                errors.append(exc)
                second.rollback()

        other = threading.Thread(target=queue_b_then_a)
        other.start()
        time.sleep(0.5)  # second now waits on a; unsorted, it would hold b already
        try:
            score_queue.enqueue(first, [b], [t])
            first.commit()
        except psycopg.Error as exc:
            errors.append(exc)
            first.rollback()
        other.join(10)
        assert not other.is_alive()
    assert errors == []
    with db.connect(services_up) as conn:
        queued = conn.execute("SELECT count(*) FROM score_queue WHERE patient_id = ANY(%s)",
                              ([a, b],)).fetchone()
        conn.execute("DELETE FROM score_queue WHERE patient_id = ANY(%s)", ([a, b],))
        conn.commit()
    assert queued == (2,)
