"""The ingest worker's writer thread: batches what the broker thread
received, stores it, commits, and only then acks.  It reconnects to the
database with backoff and keeps a batch until it is stored; a message that
fails again and again is singled out and kept as internal_error, so that no
message stalls the worker (docs/security.md)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import psycopg

from ingest import pipeline, retries, store
from ingest.assignments import AssignmentIndex
from ingest.pipeline import Received
from ingest.rows import Batch, RejectionRow, Written
from ward.heartbeats import Heartbeat
from ward.retry import DATABASE, Backoff
from ward.settings import Settings

if TYPE_CHECKING:
    from ingest.amqp import AmqpIngest
    from ingest.mqtt import IngestClient

    Edge = IngestClient | AmqpIngest
    Inbox = queue.Queue[Received] | queue.SimpleQueue[Received]

log = logging.getLogger("ingest")

_REPORT_EVERY = 10.0  # [s] between counter lines in the log
_COLLECT_STEP = 0.005  # [s] between looks at the inbox while a batch fills
# Failures of one batch, each on a connection the database had just accepted,
# before the batch itself is suspected (and its messages tried one by one).
_PATIENCE = 3


class _KeepsFailing(Exception):
    """A batch failed again and again while the database was there."""


class Writer:
    """Batches received messages and stores them; owns the database connection."""

    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        client: Edge,
        stop: threading.Event,
    ) -> None:
        self.settings = settings
        self.inbox = inbox
        self.client = client
        self.stop = stop
        self.counts: Counter = Counter()
        self.timings: Counter = Counter()  # [s] spent per step, for the log
        self._conn: psycopg.Connection | None = None
        self._assignments = AssignmentIndex([])  # version -1: loaded on first use
        self._heart = Heartbeat(
            "ingest", settings.ingest_client_id, interval=settings.ingest_heartbeat_seconds
        )
        self._batch_done: float | None = None  # monotonic time of the latest commit
        self.retired = False  # set by _retire: the heartbeat row goes with the worker

    # -- database ------------------------------------------------------------

    def connection(self) -> psycopg.Connection:
        """The open database connection, connecting until the database answers."""
        backoff = Backoff(DATABASE)  # each outage starts at the first delay
        while self._conn is None or self._conn.closed:
            try:
                conn = psycopg.connect(self.settings.dsn, autocommit=True, connect_timeout=5)
                store.prepare(conn)
                self._conn = conn
                if backoff.failing:
                    log.info("database reachable again")
            except psycopg.OperationalError as exc:
                delay = backoff.next_delay()
                log.warning(
                    "database unreachable (%s); retrying in %s s",
                    str(exc).strip().splitlines()[0],
                    delay,
                )
                time.sleep(delay)
        return self._conn

    # -- batching ------------------------------------------------------------

    def take_batch(self) -> list[Received]:
        """Wait for a first message, then collect until the batch is full or
        `ingest_batch_ms` has passed: taking what the inbox holds every few
        ms, rather than being woken for each message, which made the two
        threads hand the interpreter back and forth at every message."""
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        items, size = [first], _size(first)
        limit = self.settings.ingest_batch_size
        deadline = time.monotonic() + self.settings.ingest_batch_ms / 1000
        while True:
            while size < limit:
                try:
                    item = self.inbox.get_nowait()
                except queue.Empty:
                    break
                items.append(item)
                size += _size(item)
            remaining = deadline - time.monotonic()
            if size >= limit or remaining <= 0:
                return items
            time.sleep(min(_COLLECT_STEP, remaining))

    def handle(self, items: list[Received]) -> None:
        """Store a batch, then ack it.  A message delivered again (its worker
        stopped in it, or it failed) is tried with its attempts counted
        (`_retry`); a message that breaks the batch is singled out, so that
        it neither stops the service nor takes the rest of the batch down."""
        if not any(m.redelivered for m in items):
            self._handle_fresh(items)
            return
        self._retry([m for m in items if m.redelivered])
        fresh = [m for m in items if not m.redelivered]
        if fresh:
            self._handle_fresh(fresh)

    def _handle_fresh(self, items: list[Received], forget: tuple[bytes, ...] = ()) -> None:
        try:
            self._handle(items, forget)
        except Exception:
            log.exception(
                "%s could not be stored; trying %s on its own",
                f"a batch of {len(items)}" if len(items) > 1 else f"a message on {items[0].topic}",
                "each message" if len(items) > 1 else "it",
            )
            for m in items:
                self._careful(m)

    def _retry(self, items: list[Received]) -> None:
        """Messages delivered again.  Those never tried again before go
        through as one batch, counted first (a worker killed with a prefetch
        in hand must not cost a round trip per message); those tried before
        go one at a time, each counted just before its own attempt, so that a
        message that kills its worker is the only one whose count grows."""
        keys = [retries.message_key(m) for m in items]
        known = self._db(partial(store.attempts_known, keys=keys))
        first = [(m, k) for m, k in zip(items, keys, strict=True) if k not in known]
        if first:
            self._db(partial(store.count_first_attempts, keys=[k for _, k in first]))
            self._handle_fresh([m for m, _ in first], tuple(k for _, k in first))
        for m, k in zip(items, keys, strict=True):
            if k in known:
                self._careful(m, k)

    def _careful(self, m: Received, key: bytes | None = None) -> None:
        """Try one message on its own, each attempt counted in the database
        before it is made; past ingest_max_attempts, keep it unprocessed as an
        internal error.  A failure the database reports about the message
        itself ends it at once as an internal error, as ever."""
        key = key or retries.message_key(m)
        while True:
            attempts, last_error = self._db(partial(store.count_attempt, key=key))
            if attempts > self.settings.ingest_max_attempts:
                # Counted: every attempt since it first came again; and before
                # that it failed (or stopped its worker) once uncounted.
                log.error(
                    "a message on %s failed %d times; kept as internal_error, not tried again",
                    m.topic, attempts,
                )
                self._keep(m, pipeline.dead_letter_row(m, attempts, last_error), key)
                return
            try:
                self._handle([m], (key,), patience=1)
                return
            except _KeepsFailing as exc:
                why = retries.describe(exc.__cause__ or exc)
                self._db(partial(store.note_failure, key=key, error=why))
            except Exception as exc:
                log.exception("message on %s could not be processed; kept as internal_error",
                              m.topic)
                self._keep(m, pipeline.internal_error_row(m, exc), key)
                return

    def _keep(self, m: Received, row: RejectionRow, key: bytes) -> None:
        """Keep a message as a rejection and ack it, whatever happens."""
        try:
            self._write_or_retry(Batch([], [], {}, lambda _: [row], forget=(key,)))
        except Exception:
            log.exception("could not even keep the message on %s (%r...); acking it all the"
                          " same, so that it stalls nobody", m.topic, m.payload[:200])
        self.client.ack([m])
        self.counts[f"rejected:{row.reason_code}"] += 1

    def _db(self, fn):
        """fn(connection), again until the database answers."""
        while True:
            try:
                return fn(self.connection())
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("database call failed (%s); retrying", retries.describe(exc))
                if self._conn is not None:
                    self._conn.close()
                time.sleep(0.5)

    def _write_or_retry(self, batch: Batch, patience: int = _PATIENCE) -> Written | None:
        """Write, again until it works while the database is away.  A batch
        that fails `patience` times, each time on a connection the database
        had just accepted, is not waiting for the database: it is the batch
        (a message that makes the server drop the connection): _KeepsFailing."""
        failures = 0
        while True:
            try:
                written, self._assignments = store.write_batch(
                    self.connection(), batch, self._assignments
                )
                return written
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning(
                    "database write failed (%s); the batch is kept and retried",
                    retries.describe(exc),
                )
                if self._conn is not None:
                    self._conn.close()
                failures += 1
                if failures >= patience:
                    raise _KeepsFailing(failures) from exc
                if self.stop.is_set() and self._give_up():
                    return None
                time.sleep(0.5)

    def _handle(
        self, items: list[Received], forget: tuple[bytes, ...] = (), patience: int = _PATIENCE
    ) -> None:
        t0 = time.perf_counter()
        prepared = pipeline.prepare_batch(items)
        t1 = time.perf_counter()
        batch = prepared.batch()
        if forget:
            batch = replace(batch, forget=forget)
        written = self._write_or_retry(batch, patience)
        if written is None:
            return
        t2 = time.perf_counter()
        self.client.ack(items)
        t3 = time.perf_counter()
        self.timings["prepare"] += t1 - t0
        self.timings["database"] += t2 - t1
        self.timings["ack"] += t3 - t2
        self.counts["batches"] += 1
        self._batch_done = time.monotonic()
        for f in prepared.feedback:
            self.client.publish(f.topic, f.payload, qos=1)
        self.counts.update(prepared.counts)
        self.counts["stored"] += written.stored
        self.counts["corrected"] += written.corrected
        self.counts["duplicates"] += (
            len(prepared.observations)
            - len(written.unassigned)
            - written.stored
            - written.corrected
        )

    def _give_up(self) -> bool:
        log.error(
            "stopping with the database unreachable: this batch stays unacked and the"
            " broker redelivers it to the next worker"
        )
        return True

    def run(self) -> None:
        last_report, reported = time.monotonic(), -1
        last_beat = -float("inf")
        while not self.stop.is_set():
            if time.monotonic() - last_beat >= self.settings.ingest_heartbeat_seconds:
                self.beat()
                last_beat = time.monotonic()
            items = self.take_batch()
            if items:
                self.handle(items)
            if time.monotonic() - last_report >= _REPORT_EVERY:
                if self.counts["messages"] != reported:  # quiet when nothing flows
                    self.report()
                    reported = self.counts["messages"]
                last_report = time.monotonic()
        # Flush what was received before the stop; anything later stays
        # unacked at the broker and comes back to the next worker.
        pending = []
        while True:
            try:
                pending.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        for i in range(0, len(pending), self.settings.ingest_batch_size):
            self.handle(pending[i : i + self.settings.ingest_batch_size])
        self.report()
        self._heart.stopped(self._conn, forget=self.retired)
        if self._conn is not None:
            self._conn.close()

    def beat(self) -> None:
        """Record this worker's activity in service_heartbeats (`vward status`,
        /api/v1/health), on its connection only if open: never waits, never raises."""
        done = self._batch_done
        self._heart.beat(
            self._conn,
            batch_age=None if done is None else time.monotonic() - done,
            messages=self.counts["messages"],
            readings=self.counts["readings"],
            broker_connected=self.client.wait_connected(0),
        )

    def report(self) -> None:
        c = self.counts
        rejected = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("rejected:")}
        why = ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())) or "none"
        # Not the ward's to store: a topic it does not read (MQTT), or its own
        # message to devices that nobody was subscribed to (RabbitMQ).
        passed = "".join(f"; {k} {c[k]}" for k in ("ignored_topic", "unrouted_outbound") if c[k])
        log.info(
            "received %d messages, %d readings; stored %d, corrected %d, duplicates %d;"
            " rejected: %s%s",
            c["messages"],
            c["readings"],
            c["stored"],
            c["corrected"],
            c["duplicates"],
            why,
            passed,
        )
        if c["batches"]:
            t = self.timings
            log.info(
                "%d batches, %.0f readings each; per batch: prepare %.1f ms, database"
                " %.1f ms, ack %.1f ms",
                c["batches"],
                c["readings"] / c["batches"],
                *(1000 * t[k] / c["batches"] for k in ("prepare", "database", "ack")),
            )


def _size(item: Received) -> int:
    """Readings a message adds to a batch (a status message counts as one)."""
    return max(1, len(item.decoded.readings)) if item.decoded is not None else 1
