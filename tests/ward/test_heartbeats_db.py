"""Heartbeats in the real database (ward/heartbeats.py) and the probes of
`vward status` and /api/v1/health (ward/probes.py) against the real broker."""

from __future__ import annotations

import logging
import time

import pytest
from conftest import unique
from own_database import own_database

from ward import broker_names, broker_users, db, health, heartbeats, probes, scratch
from ward.heartbeats import Heartbeat

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture(scope="module")
def mine(services_up):
    with own_database(services_up, "vward_beats") as s:
        yield s


@pytest.fixture
def conn(mine):
    with db.connect(mine, autocommit=True) as c:
        yield c


def _row(conn, instance_id):
    return next((r for r in heartbeats.read(conn)[1] if r.instance_id == instance_id), None)


def test_an_engine_beats_ticks_and_keeps_its_last_tick_while_it_waits(conn):
    name = unique("engine")
    heart = Heartbeat("alerts", name, interval=0.5, wards=["ward-b", "ward-a"])
    assert heart.beat(conn)  # connected, not yet ticked
    first = _row(conn, name)
    assert first.last_tick_at is None and first.wards == ["ward-a", "ward-b"]
    assert first.interval_seconds == 0.5 and first.started_at <= first.beat_at

    assert heart.beat(conn, ticked=True)
    ticked = _row(conn, name)
    assert ticked.last_tick_at is not None and ticked.last_tick_at >= first.beat_at

    time.sleep(0.05)
    assert heart.beat(conn, ticked=False)  # another engine held the tick
    waited = _row(conn, name)
    assert waited.last_tick_at == ticked.last_tick_at and waited.beat_at > ticked.beat_at

    assert heart.stopped(conn)
    assert _row(conn, name).stopped_at is not None
    assert heart.beat(conn)  # started again: the stop is over, the last tick still known
    again = _row(conn, name)
    assert again.stopped_at is None and again.last_tick_at == ticked.last_tick_at


def test_the_database_clock_comes_after_every_beat_it_reads(conn):
    name = unique("engine")
    Heartbeat("alerts", name, interval=5).beat(conn, ticked=True)
    now, rows = heartbeats.read(conn)
    row = next(r for r in rows if r.instance_id == name)
    assert row.beat_at <= now and row.last_tick_at <= now
    verdict = health.judge_alerting([row], now)
    assert verdict.running and verdict.engines[0].state == health.TICKING


def test_an_ingest_worker_records_its_latest_batch_and_counts(conn):
    name = unique("ingest")
    heart = Heartbeat("ingest", name, interval=10)
    assert heart.beat(conn, batch_age=30.0, messages=12, readings=80, broker_connected=True)
    row = _row(conn, name)
    assert 29 < (row.beat_at - row.last_batch_at).total_seconds() < 31
    assert (row.messages, row.readings, row.broker_connected) == (12, 80, True)
    assert heart.beat(conn, messages=13, readings=81, broker_connected=False)
    kept = _row(conn, name)
    assert kept.last_batch_at == row.last_batch_at and kept.broker_connected is False
    assert heart.stopped(conn, forget=True)  # retired for good
    assert _row(conn, name) is None


def test_forget_removes_a_retired_engine(conn):
    name = unique("engine")
    Heartbeat("alerts", name, interval=5).beat(conn)
    assert heartbeats.forget(conn, name) == 1
    assert heartbeats.forget(conn, name) == 0


def test_a_failed_heartbeat_is_logged_once_a_minute_never_raised(services_up, caplog):
    # A closed connection is skipped; a write the database refuses (here, a table
    # of the wrong shape shadowing the real one) is logged, and the work goes on.
    heart = Heartbeat("alerts", unique("engine"), interval=5)
    with db.connect(services_up, autocommit=True) as c:
        c.close()
        assert heart.beat(c) is False  # closed: skipped without a word
    with caplog.at_level(logging.WARNING, logger="ward.heartbeats"), \
            db.connect(services_up, autocommit=True) as c:
        c.execute("CREATE TEMPORARY TABLE service_heartbeats (component text)")
        assert heart.beat(c) is False
        assert heart.beat(c) is False
        assert c.execute("SELECT 1").fetchone() == (1,)  # the connection goes on working
    warnings = [r for r in caplog.records if "could not record the heartbeat" in r.message]
    assert len(warnings) == 1


def test_check_reads_the_database_and_probes_the_broker(mine, conn):
    Heartbeat("alerts", unique("engine"), interval=60).beat(conn, ticked=True)
    checked = probes.check(mine)
    assert checked.database.ok and checked.broker.ok, (checked.database, checked.broker)
    assert "accepts the service user" in checked.broker.detail
    assert checked.alerting is not None and checked.alerting.running


def test_the_broker_probe_says_what_is_wrong(services_up):
    s = services_up
    closed = probes.probe_broker("127.0.0.1", scratch.free_port(), username="x", password="y",
                                 timeout=1)
    assert not closed.ok and "unreachable" in closed.detail
    monitor = broker_users.credentials(s, broker_names.MONITOR)
    refused = probes.probe_broker(s.mqtt_host, s.mqtt_port, username=monitor.username,
                                  password="wrong-password", timeout=2)
    assert not refused.ok and "refuses the service user" in refused.detail
    assert "wrong-password" not in refused.detail


def test_a_database_without_the_table_or_unreachable_fails_the_check(services_up):
    gone = services_up.model_copy(update={"pg_port": scratch.free_port()})
    checked = probes.check(gone)
    assert checked.failing and checked.status == "database_unreachable"
    assert not checked.database.ok and "database unreachable" in checked.database.detail
