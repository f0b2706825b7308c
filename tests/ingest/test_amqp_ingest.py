"""Ingest over AMQP from RabbitMQ's quorum queues (issue 9), end to end: the
test run's own RabbitMQ node and TimescaleDB, real `vward ingest` processes,
devices publishing over MQTT 3.1.1 as devices do.  docs/ingest.md, "From the
broker"; the hazard log cites the tests named for what they show."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pika
import pytest
from conftest import unique, wait_for
from ingest_helpers import device_of, ingest_started, iso, stored_count
from paho.mqtt.enums import CallbackAPIVersion

from simulators.device_client import DeviceClient
from ward import broker_names, broker_users, heartbeats, rabbitmq_admin, scratch
from ward import broker_names as names
from ward.broker_names import mqtt_protocol
from ward.rabbitmq_config import ADMIN_USER

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture(autouse=True)
def _rabbitmq(services_up):
    if services_up.broker != broker_names.RABBITMQ:
        pytest.skip(reason="ingest over AMQP needs VWARD_BROKER=rabbitmq")


def _exactly_once(conn, device_ids: list[str], n: int) -> None:
    total, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT (device_id, time)) FROM observations"
        " WHERE device_id = ANY(%s)",
        (device_ids,),
    ).fetchone()
    assert (total, distinct) == (n, n)


def _publish(settings, reg, n: int, start: datetime) -> threading.Thread:
    """A device sends `n` single-reading messages, each acknowledged by the
    broker (a quorum queue's PUBACK: a majority holds it), in a thread."""

    def run() -> None:
        with device_of(settings, reg) as dev:
            for i in range(n):
                t = start + timedelta(seconds=i)
                rc = dev.send_readings(
                    [{"time": iso(t), "type": "heart_rate", "value": 60 + i % 40}],
                    message_id=f"m{i}",
                )
                assert rc is None or not rc.is_failure

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class _Subscriber:
    """An MQTT 3.1.1 client subscribed to a device's rejections topic, as the
    ingest user (which may read them): the device's own client id is taken by
    the test's publishing device, and a device has one connection at a time
    (issue 10). That the device itself reads them is
    tests/ward/test_rabbitmq_broker.py's."""

    def __init__(self, settings, reg) -> None:
        self.got: list[dict] = []
        ready = threading.Event()
        ingest = broker_users.credentials(settings, names.INGEST)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=ingest.client_id(unique("rej")),
                        protocol=mqtt_protocol(settings))
        c.username_pw_set(ingest.username, ingest.password)
        c.on_message = lambda cl, ud, msg: self.got.append(json.loads(msg.payload))
        c.on_subscribe = lambda *a: ready.set()
        c.on_connect = lambda cl, ud, fl, rc, pr: cl.subscribe(
            f"ward/v1/devices/{reg.device_id}/rejections", qos=1
        )
        c.connect(settings.mqtt_host, settings.mqtt_port)
        c.loop_start()
        assert ready.wait(10), "the device could not subscribe to its rejections"
        self._client = c

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def test_readings_a_device_publishes_over_mqtt_311_are_stored(services_up, register, spawn, conn):
    assert mqtt_protocol(services_up) == mqtt.MQTTv311
    p = ingest_started(spawn("ingest"))
    assert "consuming ward.readings, ward.status" in p.output()
    wait_for(lambda: "consuming ward.unrouted" in p.output(), what="the unrouted queue consumed")
    reg = register()
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with device_of(services_up, reg) as dev:
        dev.send_readings(
            [
                {"time": iso(t), "type": "heart_rate", "value": 72, "unit": "/min"},
                {"time": iso(t), "type": "spo2", "value": 96, "unit": "%"},
            ],
            message_id="a-1",
        )
    wait_for(lambda: stored_count(conn, reg.device_id) == 2, what="2 readings stored")
    rows = conn.execute(
        "SELECT patient_id, type, value FROM observations WHERE device_id = %s ORDER BY type",
        (reg.device_id,),
    ).fetchall()
    assert rows == [(reg.patient_id, "heart_rate", 72.0), (reg.patient_id, "spo2", 96.0)]


def test_bad_input_is_stored_and_fed_back_to_the_device(services_up, register, spawn, conn):
    ingest_started(spawn("ingest"))
    reg = register()
    listener = _Subscriber(services_up, reg)
    now = datetime.now(UTC).replace(microsecond=0)
    with device_of(services_up, reg) as dev:
        dev.send_readings(
            [
                {"time": iso(now), "type": "heart_rate", "value": 70},
                {"time": iso(now), "type": "heart_rate", "value": 900},
            ],
            message_id="mixed-1",
        )
        dev.publish(f"ward/v1/devices/{reg.device_id}/readings", b"{not json")
    wait_for(lambda: len(listener.got) == 2, what="2 rejections received by the device")
    listener.close()
    partial, malformed = listener.got
    assert partial["id"] == "mixed-1" and partial["accepted"] == 1
    assert [(r["index"], r["code"]) for r in partial["refused"]] == [(1, "implausible")]
    assert malformed["refused"][0]["code"] == "malformed_json"
    rows = conn.execute(
        "SELECT reason_code, whole FROM rejected_messages WHERE device_id = %s"
        " ORDER BY rejection_id",
        (reg.device_id,),
    ).fetchall()
    assert rows == [("implausible", False), ("malformed_json", True)]
    assert stored_count(conn, reg.device_id) == 1


def test_status_and_the_last_will_are_stored(services_up, register, spawn, conn):
    ingest_started(spawn("ingest"))
    reg = register()
    dev = device_of(services_up, reg)
    dev.send_status(online=True, battery=64, firmware="2.1.0")
    dev._client._sock.close()  # the connection dies without a DISCONNECT
    dev._client.loop_stop()
    rows = wait_for(
        lambda: (
            conn.execute(
                "SELECT online, battery, firmware FROM device_status WHERE device_id = %s"
                " ORDER BY time",
                (reg.device_id,),
            ).fetchall()
            if _status_rows(conn, reg.device_id) == 2
            else None
        ),
        timeout=60,
        what="status and last will stored",
    )
    assert rows == [(True, 64.0, "2.1.0"), (False, None, None)]


def _status_rows(conn, device_id: str) -> int:
    return conn.execute(
        "SELECT count(*) FROM device_status WHERE device_id = %s", (device_id,)
    ).fetchone()[0]


def test_an_unrouted_publish_is_stored_as_unrouted_topic(services_up, register, spawn, conn):
    """The MQTT plugin acks a publish that no binding catches; the alternate
    exchange keeps it, and ingest records it.  A rejection the ward publishes
    to a device that is not subscribed lands there too, and is not a device's
    error: it is not recorded."""
    p = ingest_started(spawn("ingest"))
    reg = register()
    odd, unheard = (
        f"ward/v1/devices/{reg.device_id}/telemetry",
        f"ward/v1/devices/{reg.device_id}/rejections",
    )
    # No device or service user may publish outside its topics (issue 10): the
    # odd one comes from the broker's admin, over AMQP, as a misconfigured
    # bridge would send it; the unheard rejection from the ingest user.
    admin = pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", services_up.amqp_port, credentials=pika.PlainCredentials(
            ADMIN_USER, rabbitmq_admin.admin_password(services_up))))
    try:
        admin.channel().basic_publish(names.MQTT_EXCHANGE, names.routing_key(odd),
                                      b'{"temperature": 37}')
    finally:
        admin.close()
    ingest = broker_users.credentials(services_up, names.INGEST)
    svc = DeviceClient(
        host=services_up.mqtt_host,
        port=services_up.mqtt_port,
        protocol=mqtt_protocol(services_up),
        device_id=unique("svc"),
        username=ingest.username,
        password=ingest.password,
        will=False,
    ).connect()
    with svc:
        svc.publish(unheard, b'{"id": "nobody listens"}')
    row = wait_for(
        lambda: conn.execute(
            "SELECT topic, device_id, reason_code, whole, payload FROM rejected_messages"
            " WHERE device_id = %s",
            (reg.device_id,),
        ).fetchall(),
        what="the unrouted message recorded",
    )
    assert row == [(odd, reg.device_id, "unrouted_topic", True, b'{"temperature": 37}')]
    assert p.terminate() == 0  # its counters are logged at exit
    # (Counted, with whatever other tests left in the shared queues.)
    assert re.search(r"rejected: .*unrouted_topic [1-9].*; unrouted_outbound [1-9]", p.output())


def test_a_killed_worker_strands_nothing(services_up, register, spawn, conn):
    """Two workers share the queue; one is SIGKILLed mid-stream with a
    backlog and left dead: RabbitMQ gives its unacked deliveries to the
    other at once, which stores every acknowledged reading, each once.  The
    victim commits every 3 s (VWARD_INGEST_BATCH_MS), so that when it is
    killed it surely holds a prefetch of deliveries it has not acked."""
    regs = [register() for _ in range(3)]
    per = 2000
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    for t in [_publish(services_up, r, per, start) for r in regs]:
        t.join(180)
    ids = [r.device_id for r in regs]
    total = len(regs) * per  # every one acknowledged by the broker: a backlog
    victim = ingest_started(
        spawn("ingest", VWARD_INGEST_CLIENT_ID=unique("ingest@vward-victim"),
              VWARD_INGEST_BATCH_MS="3000")
    )
    survivor = ingest_started(
        spawn("ingest", VWARD_INGEST_CLIENT_ID=unique("ingest@vward-survivor")))
    wait_for(lambda: _count(conn, ids) >= total // 4, timeout=60, what="a quarter stored")
    victim.kill()
    killed_at, stored_then = time.monotonic(), _count(conn, ids)
    assert stored_then < total, "killed too late: no backlog left"
    wait_for(lambda: _count(conn, ids) >= total, timeout=30, what="the whole backlog stored")
    took = time.monotonic() - killed_at
    assert took < 30
    _exactly_once(conn, ids, total)
    assert survivor.running and not victim.running


def _count(conn, device_ids: list[str]) -> int:
    return conn.execute(
        "SELECT count(*) FROM observations WHERE device_id = ANY(%s)", (device_ids,)
    ).fetchone()[0]


def test_a_worker_restarted_after_sigkill_loses_nothing(services_up, register, spawn, conn):
    p = ingest_started(spawn("ingest"))
    reg = register()
    stream = _publish(services_up, reg, 3000, datetime.now(UTC) - timedelta(hours=3))
    wait_for(lambda: stored_count(conn, reg.device_id) >= 500, timeout=60, what="stream under way")
    p.kill()  # nothing flushed, nothing acked after the last commit
    assert stored_count(conn, reg.device_id) < 3000
    ingest_started(spawn("ingest"))
    stream.join(180)
    wait_for(lambda: stored_count(conn, reg.device_id) >= 3000, timeout=60, what="3000 stored")
    _exactly_once(conn, [reg.device_id], 3000)


def test_a_worker_tries_the_next_node_when_one_is_down(services_up, register, spawn, conn):
    dead = scratch.free_port()
    urls = f"amqp://127.0.0.1:{dead},amqp://127.0.0.1:{services_up.amqp_port}"
    p = ingest_started(spawn("ingest", VWARD_AMQP_URLS=urls))
    out = p.output()
    assert f"cannot connect to amqp://127.0.0.1:{dead}" in out
    assert f"connected to amqp://127.0.0.1:{services_up.amqp_port}" in out
    reg = register()
    with device_of(services_up, reg) as dev:
        dev.send_readings([{"time": iso(datetime.now(UTC)), "type": "spo2", "value": 97}],
                          message_id="n-1")  # fmt: skip
    wait_for(lambda: stored_count(conn, reg.device_id) == 1, what="stored through the live node")


def test_retiring_a_worker_stops_consuming_and_strands_nothing(services_up, spawn, conn):
    worker = unique("ingest@vward-retired")
    p = spawn("ingest", "--retire", VWARD_INGEST_CLIENT_ID=worker)
    assert p.proc.wait(60) == 0, p.output()
    assert "nothing is stranded" in p.output()
    _, rows = heartbeats.read(conn)
    assert worker not in {r.instance_id for r in rows}  # retired: its heartbeat is gone
