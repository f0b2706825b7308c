-- Ingest (issue 10, item 8): no message can stall a worker.  A message the
-- broker delivers again (its worker stopped, or it failed) is processed on its
-- own, and each such attempt is counted here first, in a transaction of its
-- own, so that the count survives the worker dying in the middle of it; past
-- VWARD_INGEST_MAX_ATTEMPTS it is kept in rejected_messages as internal_error
-- and acked instead.  A counter, not a record: a message stored (or
-- dead-lettered) takes its row away in the same transaction.  Written and read
-- by ingest/store.py.
CREATE TABLE ingest_attempts (
    -- sha256 of the topic and the payload: a message, whoever delivers it.
    message_key  bytea PRIMARY KEY,
    attempts     integer NOT NULL,
    first_at     timestamptz NOT NULL DEFAULT now(),
    last_at      timestamptz NOT NULL DEFAULT now(),
    -- The last failure a worker saw (none if the worker died with it).
    last_error   text
);
CREATE INDEX ingest_attempts_last_at ON ingest_attempts (last_at);
