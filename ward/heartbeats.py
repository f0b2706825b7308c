"""The SQL of ``service_heartbeats`` (migration 007), in one place: alerts
engines and ingest workers write their row here, and `vward status`, the
health endpoint and the dashboard read the rows here; ward/health.py judges
them.

A heartbeat is one upsert on the connection the process already holds.  It
must never stop the work it reports on: a failed write is logged (at most once
a minute) and forgotten.  Every time is the database's clock (``now()``, less
an age measured on the process's monotonic clock), so that the readers, who
judge against the same clock, are not misled by a host whose clock is wrong.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ward.records import HEARTBEAT_COLUMNS, HeartbeatRow

log = logging.getLogger(__name__)

_PROCESS_STARTED = time.monotonic()  # imported as the service starts
_WARN_EVERY = 60.0  # [s] between log lines about failed heartbeat writes
_READ_TIMEOUT_MS = 2_000  # a health check that waits on a locked table says so, soon

_UPSERT = """
INSERT INTO service_heartbeats AS h (component, instance_id, pid, host, wards,
    interval_seconds, started_at, beat_at, last_tick_at, last_batch_at, messages, readings,
    broker_connected, stopped_at)
VALUES (%(component)s, %(instance_id)s, %(pid)s, %(host)s, %(wards)s, %(interval)s,
    now() - make_interval(secs => %(uptime)s), now(),
    CASE WHEN %(ticked)s THEN now() END,
    now() - make_interval(secs => %(batch_age)s), %(messages)s, %(readings)s,
    %(broker_connected)s, NULL)
ON CONFLICT (component, instance_id) DO UPDATE SET
    pid = EXCLUDED.pid, host = EXCLUDED.host, wards = EXCLUDED.wards,
    interval_seconds = EXCLUDED.interval_seconds, started_at = EXCLUDED.started_at,
    beat_at = EXCLUDED.beat_at,
    last_tick_at = coalesce(EXCLUDED.last_tick_at, h.last_tick_at),
    last_batch_at = coalesce(EXCLUDED.last_batch_at, h.last_batch_at),
    messages = EXCLUDED.messages, readings = EXCLUDED.readings,
    broker_connected = EXCLUDED.broker_connected, stopped_at = NULL
"""


class Heartbeat:
    """One process's row: ``beat`` as it works, ``stopped`` as it ends cleanly."""

    def __init__(self, component: str, instance_id: str, *, interval: float,
                 wards: Sequence[str] = ()) -> None:
        self.key = {"component": component, "instance_id": instance_id}
        self.fixed = {**self.key, "pid": os.getpid(), "host": socket.gethostname(),
                      "wards": sorted(wards), "interval": float(interval)}
        self._warned = -_WARN_EVERY

    def beat(self, conn: psycopg.Connection | None, *, ticked: bool = False,
             batch_age: float | None = None, messages: int | None = None,
             readings: int | None = None, broker_connected: bool | None = None) -> bool:
        """Record a sign of life; ``ticked``: an engine completed a tick just now;
        ``batch_age`` [s]: an ingest worker committed its latest batch that long
        ago.  Returns whether it was written; never raises."""
        return self._write(conn, _UPSERT, {
            **self.fixed, "uptime": time.monotonic() - _PROCESS_STARTED, "ticked": ticked,
            "batch_age": batch_age, "messages": messages, "readings": readings,
            "broker_connected": broker_connected})

    def stopped(self, conn: psycopg.Connection | None, *, forget: bool = False) -> bool:
        """A clean stop: say so (``forget``: remove the row, a worker retired for good)."""
        sql = ("DELETE FROM service_heartbeats" if forget
               else "UPDATE service_heartbeats SET stopped_at = now()")
        return self._write(conn, sql + " WHERE component = %(component)s"
                           " AND instance_id = %(instance_id)s", self.key)

    def _write(self, conn: psycopg.Connection | None, sql: str, params: dict) -> bool:
        if conn is None or conn.closed:
            return False
        try:
            if conn.autocommit:
                conn.execute(sql, params)
            else:
                with conn.transaction():
                    conn.execute(sql, params)
            return True
        except Exception as exc:  # a heartbeat never stops the work it reports on
            if time.monotonic() - self._warned >= _WARN_EVERY:
                self._warned = time.monotonic()
                log.warning("could not record the heartbeat of %s %s: %s",
                            self.key["component"], self.key["instance_id"],
                            str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
            return False


def read(conn: psycopg.Connection) -> tuple[datetime, list[HeartbeatRow]]:
    """The database's clock and every heartbeat row, engines first."""
    with conn.transaction():
        conn.execute(f"SET LOCAL statement_timeout = {_READ_TIMEOUT_MS}")
        with conn.cursor(row_factory=class_row(HeartbeatRow)) as cur:
            rows = cur.execute(f"SELECT {HEARTBEAT_COLUMNS} FROM service_heartbeats"
                               " ORDER BY component, instance_id").fetchall()
        # Read after the rows, so that no row committed since can lie ahead of it.
        now = conn.execute("SELECT clock_timestamp()").fetchone()
    assert now is not None
    return now[0], rows


def forget(conn: psycopg.Connection, instance_id: str) -> int:
    """Remove the rows of an engine or worker retired for good; returns how many."""
    with conn.transaction():
        return conn.execute("DELETE FROM service_heartbeats WHERE instance_id = %s",
                            (instance_id,)).rowcount
