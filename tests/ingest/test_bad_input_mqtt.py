"""Bad input never poisons the queue on the MQTT v5 option (`VWARD_BROKER=mqtt`)
either (issue 10, items 7 and 8), where the path differs from RabbitMQ's: the
message arrives in a paho callback, the inbox is bounded by Receive Maximum,
and a message sent again carries only MQTT's DUP flag, no delivery count.
Against a Mosquitto and a TimescaleDB of the module's own and real `vward
ingest` processes; the failing write is a real one, as in test_bad_input.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import poison as poisons
import psycopg
import pytest
from conftest import Process, service_env, wait_for
from ingest_helpers import device_of, rejections_of
from mqtt_option import mqtt_services, register, stored

from ward import db
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]

DEEP = b'{"readings": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


@pytest.fixture(scope="module")
def mqtt_ward() -> Iterator[Settings]:
    with mqtt_services("vward-test-badmqtt-") as s:
        yield s


@pytest.fixture
def conn(mqtt_ward: Settings) -> Iterator[psycopg.Connection]:
    with db.connect(mqtt_ward, autocommit=True) as c:
        yield c


@pytest.fixture
def workers(mqtt_ward: Settings, tmp_path: Path) -> Iterator:
    started: list[Process] = []

    def _start(**env: str) -> Process:
        p = Process(["ingest"], service_env(mqtt_ward, **env),
                    tmp_path / f"ingest-{len(started)}.log").start()
        started.append(p)
        wait_for(lambda: "subscribing" in p.output() or not p.running, what="ingest connected")
        assert p.running, p.output()
        return p

    yield _start
    for p in started:
        if p.running:
            p.terminate()
        print(f"--- vward ingest ---\n{p.output()[-6000:]}")


def test_deep_messages_are_refused_and_a_dozen_stall_nothing(mqtt_ward, conn, workers) -> None:
    """Before: each RecursionError in the paho callback was "dropping", never
    acked; with a Receive Maximum of 10 a dozen of them held the session's
    whole window and nothing after them was delivered."""
    p = workers(VWARD_INGEST_QUEUE_SIZE="20")  # Receive Maximum 10
    dev = register(mqtt_ward)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    with device_of(mqtt_ward, dev, will=False) as d:
        for _ in range(12):
            d.publish(f"ward/v1/devices/{dev.device_id}/readings", DEEP)
        for i in range(5):
            t = (t0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
            d.send_readings([{"time": t, "type": "heart_rate", "value": 70}],
                            message_id=f"after-{i}")
    wait_for(lambda: stored(mqtt_ward, dev.device_id) == 5, timeout=30, what="the good readings")
    rows = rejections_of(conn, dev.device_id)
    assert [(code, whole) for code, whole, _, _ in rows] == [("too_deep", True)] * 12
    assert p.terminate() == 0
    assert "too_deep 12" in p.output() and "dropping" not in p.output()


def test_a_message_its_worker_dies_in_is_counted_across_restarts_and_then_kept(
        mqtt_ward, conn, workers) -> None:
    """The worker hangs writing one status and is killed, again and again;
    Mosquitto resends the message to the worker's session each time with the
    DUP flag.  Before: forever.  After: attempts counted in the database, and
    past VWARD_INGEST_MAX_ATTEMPTS (2) it is kept as internal_error, unprocessed."""
    dev = register(mqtt_ward)
    name = poisons.install(conn, dev.device_id, poisons.HANG)
    sleeping = poisons.SLEEPING
    # The default client id throughout: the session of this module's workers
    # (a session left by another id would keep a share of the subscription).
    try:
        first = workers(VWARD_INGEST_MAX_ATTEMPTS="2")
        status = json.dumps({"online": True, "battery": 40}).encode()
        with device_of(mqtt_ward, dev, will=False) as d:
            # Until the worker's subscription is in place (PUBACK 16: no
            # subscriber, nothing delivered, so sending again is harmless).
            wait_for(lambda: d.publish(f"ward/v1/devices/{dev.device_id}/status",
                                       status).value == 0, what="the status delivered")
        worker = first
        for attempt in range(3):  # the first delivery, then two counted attempts
            wait_for(lambda: conn.execute(sleeping).fetchall(), timeout=30,
                     what=f"attempt {attempt + 1} hanging")
            worker.kill()
            poisons.end_hung(conn)
            worker = workers(VWARD_INGEST_MAX_ATTEMPTS="2")
        rows = wait_for(lambda: rejections_of(conn, dev.device_id), timeout=30,
                        what="the status kept")
        ((code, whole, reason, payload),) = rows
        assert (code, whole, payload) == ("internal_error", True, status)
        assert "failed 3 times" in reason and "stopped" in reason
        assert conn.execute(sleeping).fetchall() == []  # not tried a fourth time
        assert worker.terminate() == 0
    finally:
        poisons.drop(conn, name)
