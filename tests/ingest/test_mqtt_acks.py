"""On the MQTT v5 option, what ingest acks the broker holds as acked: a
session that comes back is given again the messages it had not acked, and
none of those it had.  The acks of a batch are one write through paho's
private packet queue (ingest/mqtt.py `_puback`; docs/operating.md says why),
so this is the test a paho upgrade must pass: a broken write would leave the
broker redelivering everything (deduplicated, so no other test would see it)
until the session's Receive Maximum stalled ingest."""

from __future__ import annotations

import contextlib
import json
import queue
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from conftest import unique
from mqtt_option import mqtt_services, register

from ingest import decode
from ingest.mqtt import IngestClient
from ingest.pipeline import Received
from ward import broker_names, broker_users
from ward.settings import Settings

SENT = 60
ACKED = 45  # in batches of 15: each one write of 15 PUBACKs


@pytest.fixture(scope="module")
def mqtt_ward() -> Iterator[Settings]:
    with mqtt_services("vward-test-acks-") as s:
        yield s


def _worker(settings: Settings, inbox: queue.Queue[Received]) -> IngestClient:
    """The ingest session of `vward up` (the one the shared subscription
    routes to), taken over by a client of the test's own."""
    creds = broker_users.credentials(settings, broker_names.INGEST)
    client = IngestClient(host=settings.mqtt_host, port=settings.mqtt_port,
                          username=creds.username, password=creds.password,
                          client_id=settings.ingest_client_id, inbox=inbox,
                          receive_maximum=1000, limits=decode.Limits())
    client.start()
    assert client.wait_connected(10), "the ingest client did not connect"
    return client


def _take(inbox: queue.Queue[Received], n: int, timeout: float) -> list[Received]:
    got: list[Received] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            got.append(inbox.get(timeout=0.1))
    return got


def _publish(settings: Settings, device_id: str, password: str, ids: list[str]) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id,
                    protocol=mqtt.MQTTv5)
    c.username_pw_set(device_id, password)
    c.connect(settings.mqtt_host, settings.mqtt_port)
    c.loop_start()
    try:
        infos = [c.publish(f"ward/v1/devices/{device_id}/readings",
                           json.dumps({"id": i, "readings": []}).encode(), qos=1) for i in ids]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def _id(m: Received) -> str:
    return json.loads(m.payload)["id"]


def test_a_session_gets_again_what_it_did_not_ack_and_nothing_it_acked(mqtt_ward):
    device = register(mqtt_ward)
    ids = [unique("ack") for _ in range(SENT)]
    inbox: queue.Queue[Received] = queue.Queue()
    first = _worker(mqtt_ward, inbox)
    try:
        _publish(mqtt_ward, device.device_id, device.password, ids)
        got = _take(inbox, SENT, timeout=20)
        assert sorted(map(_id, got)) == sorted(ids)
        for start in range(0, ACKED, 15):
            assert first.ack(got[start:start + 15]) == 15
        time.sleep(1.0)  # the network thread writes the queued PUBACKs
    finally:
        first.stop()

    again: queue.Queue[Received] = queue.Queue()
    second = _worker(mqtt_ward, again)
    try:
        back = _take(again, SENT, timeout=5)
        assert sorted(map(_id, back)) == sorted(map(_id, got[ACKED:]))
        assert all(m.redelivered for m in back)
        assert second.ack(back) == SENT - ACKED
        time.sleep(1.0)
    finally:
        second.stop()

    # ... and once acked, those are not given a third time.
    third_inbox: queue.Queue[Received] = queue.Queue()
    third = _worker(mqtt_ward, third_inbox)
    try:
        assert _take(third_inbox, 1, timeout=3) == []
    finally:
        third.stop()
