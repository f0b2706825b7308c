"""The MQTT v5 option (`VWARD_BROKER=mqtt`, Mosquitto run by `vward up`) after
the faults of issue 9, against a real Mosquitto and real `vward` processes:
Mosquitto killed with SIGKILL and `vward up` run again, and `vward up` run
while a worker is connected.  Mosquitto restores sessions from its
persistence file but not their shared subscriptions; until someone
subscribes again it answers every reading "no matching subscribers" (PUBACK
reason 16, a success to the device) and drops it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Process, service_env, unique, wait_for
from mqtt_option import kill_broker, mqtt_services, register, session_saved, stored, vward_up

from ingest import mqtt_session
from ingest.mqtt import retry_delay
from simulators.device_client import DeviceClient
from ward import mosquitto
from ward.broker_names import mqtt_protocol
from ward.settings import Settings

_SUCCESS = 0  # PUBACK reason: delivered to a subscription (16: to none, and dropped)


@pytest.fixture(scope="module")
def mqtt_ward() -> Iterator[Settings]:
    with mqtt_services("vward-test-mqtt-") as s:
        yield s


@pytest.fixture
def worker(mqtt_ward: Settings, tmp_path: Path) -> Iterator[Process]:
    """`vward ingest` on the MQTT option, connected, its heartbeat written."""
    p = Process(["ingest"], service_env(mqtt_ward), tmp_path / "ingest.log").start()
    try:
        wait_for(lambda: "subscribing" in p.output(), timeout=20, what="ingest connected")
        yield p
    finally:
        if p.running:
            p.terminate()
        print(f"--- vward ingest ---\n{p.output()[-6000:]}")  # shown when a test failed


def _send(settings: Settings, dev, n: int, tag: str) -> list[int]:
    """n readings messages from the device; the PUBACK reason code of each."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    codes = []
    with DeviceClient(host=settings.mqtt_host, port=settings.mqtt_port,
                      protocol=mqtt_protocol(settings), device_id=dev.device_id,
                      password=dev.password).connect() as d:
        for i in range(n):
            t = (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
            rc = d.send_readings([{"time": t, "type": "heart_rate", "value": 70 + i % 20}],
                                 message_id=f"{tag}-{i}")
            codes.append(rc.value)
    return codes


def _connects(p: Process) -> int:
    return p.output().count("subscribing")


def test_the_option_speaks_mqtt_v5(mqtt_ward: Settings) -> None:
    assert mqtt_protocol(mqtt_ward) == mqtt.MQTTv5


def test_reconnect_delay_stays_under_a_second_through_a_restart() -> None:
    assert retry_delay(0.0) == retry_delay(59.0) == 0.5
    assert 0.5 < retry_delay(60.0) <= retry_delay(120.0) <= retry_delay(3600.0) == 30.0


def test_vward_up_after_a_crash_recreates_the_shared_subscription(mqtt_ward: Settings,
                                                                   tmp_path: Path) -> None:
    """No worker runs: only `vward up` can make the broker queue readings."""
    dev = register(mqtt_ward)
    saved_after = time.time()
    vward_up(mqtt_ward)  # the session is there (made by the first `up`), and saved
    session_saved(mqtt_ward, saved_after)
    kill_broker(mqtt_ward)
    out = vward_up(mqtt_ward)
    assert "started Mosquitto" in out and "subscribed to $share/ingest/" in out, out
    codes = _send(mqtt_ward, dev, 20, "after-crash")
    assert codes == [_SUCCESS] * 20  # not 16: "no matching subscribers", dropped
    p = Process(["ingest"], service_env(mqtt_ward), tmp_path / "ingest.log").start()
    try:
        wait_for(lambda: stored(mqtt_ward, dev.device_id) == 20, timeout=30,
                 what="the readings queued for the worker stored")
    finally:
        p.terminate()


def test_worker_back_within_a_second_after_a_crash_and_nothing_dropped(
        mqtt_ward: Settings, worker: Process) -> None:
    dev = register(mqtt_ward)
    assert _send(mqtt_ward, dev, 5, "before") == [_SUCCESS] * 5
    wait_for(lambda: stored(mqtt_ward, dev.device_id) == 5, what="readings stored")
    connects = _connects(worker)
    kill_broker(mqtt_ward)
    # Long enough for the old backoff (1, 2, 4, 8 s ...) to wait 8 s more.
    time.sleep(8)
    t0 = time.monotonic()
    mosquitto.start(mqtt_ward, {})  # the broker alone: the worker must find it
    wait_for(lambda: _connects(worker) > connects, timeout=5, interval=0.02,
             what="the worker reconnected")
    back = time.monotonic() - t0
    print(f"the worker was back {back:.2f} s after Mosquitto listened again")
    assert back < 1.5, f"the worker took {back:.1f} s to reconnect"
    vward_up(mqtt_ward)  # the credentials again, and the ward as an operator leaves it
    codes = _send(mqtt_ward, dev, 30, "after")
    assert codes == [_SUCCESS] * 30
    wait_for(lambda: stored(mqtt_ward, dev.device_id) == 35, timeout=20,
             what="every reading published after the restart stored")
    assert worker.running


def test_vward_up_leaves_a_connected_worker_connected(mqtt_ward: Settings,
                                                      worker: Process) -> None:
    wait_for(lambda: mqtt_session._worker_running(mqtt_ward), timeout=10,
             what="the worker's heartbeat")
    before = worker.output()
    out = vward_up(mqtt_ward)
    assert f"ingest worker {mqtt_ward.ingest_client_id} is running" in out, out
    time.sleep(1.5)  # a worker pushed off says so at once, and reconnects within a second
    after = worker.output()[len(before):]
    assert "disconnected" not in after and "subscribing" not in after, after
    broker_log = mosquitto.Paths(mqtt_ward.home).log.read_text(errors="replace")
    assert f"Client {mqtt_ward.ingest_client_id} already connected" not in broker_log
    dev = register(mqtt_ward)
    assert _send(mqtt_ward, dev, 3, unique("still")) == [_SUCCESS] * 3
    wait_for(lambda: stored(mqtt_ward, dev.device_id) == 3, what="readings stored")
