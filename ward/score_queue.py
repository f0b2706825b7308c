"""The score queue: the one statement that queues patients for (re)scoring
and wakes the alerts engines.

Every writer that changes what a patient scores queues them here: ingest (new
or corrected readings, ingest/store.py), a clinician's scoring setting
(ward/clinical.py) and the engine itself (a setting that reached its end
date).  The upsert keeps the earliest ``since`` (the engine rescores from
there) and stamps ``enqueued_at``, so that an engine holding a claim sees the
row was queued again (alerts/store.py ``finish``).  The NOTIFY is in the same
statement (a data-modifying CTE runs whether or not it is referenced): one
round trip, and a queued patient never waits for the engine's next poll.  It
lives in ward/ because ingest and alerts may not import each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from ward.topics import NEW_OBSERVATIONS_CHANNEL

# The engines LISTEN on it (alerts/engine.py).
CHANNEL = NEW_OBSERVATIONS_CHANNEL

_ENQUEUE = f"""
WITH queued AS (
    INSERT INTO score_queue (patient_id, since)
    SELECT * FROM unnest(%s::text[], %s::timestamptz[]) AS q(p, s) ORDER BY p
    ON CONFLICT (patient_id) DO UPDATE
        SET since = least(score_queue.since, EXCLUDED.since), enqueued_at = clock_timestamp()
)
SELECT pg_notify('{CHANNEL}', '')
"""


def enqueue(conn: psycopg.Connection | psycopg.Cursor, patients: Sequence[str],
            since: Sequence[datetime]) -> None:
    """Queue ``patients`` for scoring from ``since`` (one time each), in the caller's
    transaction; the engines are told when it commits (NOTIFY is transactional)."""
    if len(patients) != len(since):
        raise ValueError(f"{len(patients)} patients but {len(since)} times")
    if patients:
        # Rows are locked in patient order, by every writer and by the engine's
        # finish (alerts/store.py): two transactions that queue the same patients
        # in different orders would otherwise deadlock, and one of them fail.
        conn.execute(_ENQUEUE, (list(patients), list(since)))
