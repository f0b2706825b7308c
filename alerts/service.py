"""`vward alerts`: the engine as a process.  It scores what is queued, ticks and
publishes the alert events (``outbox``), woken by LISTEN, reconnecting with a
backoff that starts over once connected, until SIGINT, SIGTERM or ``stop``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from alerts import remeasure_gate, store
from alerts.engine import Clock, Engine, wards_of
from ward import processes
from ward.heartbeats import Heartbeat
from ward.retry import DATABASE, Backoff
from ward.settings import Settings
from ward.topics import ALERT_EVENTS_CHANNEL, NEW_OBSERVATIONS_CHANNEL

log = logging.getLogger("alerts")

# Scoring runs in slices of this length between ticks and publishing, so that
# neither waits for a backlog to clear (H19).
_SLICE_SECONDS = 0.25
_REPORT_EVERY = 10.0  # [s] between counter lines in the log


def serve(settings: Settings, *, stop: threading.Event | None = None,
          clock: Clock = lambda: datetime.now(UTC)) -> int:
    """`vward alerts`: score what is queued, tick, publish; until SIGINT, SIGTERM or ``stop``."""
    from alerts.outbox import Outbox

    stop = processes.stop_event(stop)
    outbox = Outbox(settings)
    outbox.start()
    log.info("alerts engine %s started (wards: %s); publishing alert events to %s",
             settings.alerts_engine_id, ", ".join(wards_of(settings)) or "all", outbox.where)
    backoff = Backoff(DATABASE)  # starts over once connected: an outage waits 0.5 s first
    try:
        while not stop.is_set():
            try:
                _serve_connected(settings, stop, clock, outbox, connected=backoff.reset)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                delay = backoff.next_delay()
                log.warning("database unreachable (%s); retrying in %s s",
                            str(exc).strip().splitlines()[0] if str(exc) else exc, delay)
                stop.wait(delay)
    finally:
        outbox.stop()
    log.info("alerts engine %s stopped", settings.alerts_engine_id)
    return 0


def _serve_connected(settings: Settings, stop: threading.Event, clock: Clock, outbox, *,
                     connected: Callable[[], None]) -> None:
    tick_every = timedelta(seconds=settings.alerts_tick_seconds)
    with psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as work, \
            psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as listen:
        listen.execute(f"LISTEN {NEW_OBSERVATIONS_CHANNEL}")
        listen.execute(f"LISTEN {ALERT_EVENTS_CHANNEL}")
        engine = Engine.from_settings(work, settings)
        heart = Heartbeat("alerts", engine.engine_id, interval=settings.alerts_tick_seconds,
                          wards=engine.wards)  # read by `vward status` and /api/v1/health
        heart.beat(work)
        log.info("connected to the database; catching up on the queue")
        connected()
        next_tick = clock()
        last_report = time.monotonic()
        try:
            while not stop.is_set():
                # Score for one slice at most, then tick and publish: under a backlog
                # that never empties, draining to the end starved both: alert events
                # waited behind every queued set and overdue checks stopped (H19).
                until = time.monotonic() + _SLICE_SECONDS
                engine.drain(clock, stop=lambda u=until: stop.is_set() or time.monotonic() >= u)
                behind = time.monotonic() >= until  # the slice ended, not the queue
                if clock() >= next_tick:
                    heart.beat(work, ticked=engine.tick(clock()) >= 0)  # -1: another ticked
                    next_tick = clock() + tick_every
                engine.counts["published"] += outbox.publish_pending(work)
                engine.counts["commands"] += remeasure_gate.publish_commands(work, outbox, clock(),
                                                                             engine.wards)
                if time.monotonic() - last_report >= _REPORT_EVERY:
                    engine.report()
                    log.info("published %d alert events", engine.counts["published"])
                    last_report = time.monotonic()
                if behind:
                    continue
                wait = min(1.0, max(0.05, (next_tick - clock()).total_seconds()))
                for _ in listen.notifies(timeout=wait, stop_after=1):
                    pass
        finally:
            if not work.closed:
                store.release(work, engine.engine_id)
                engine.report()
                if stop.is_set():
                    heart.stopped(work)
