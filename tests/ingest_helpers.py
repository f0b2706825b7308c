"""What the end-to-end ingest tests share (tests/ingest, and the API's
"same as MQTT" test): a registered device on the test run's broker, times as
devices write them, what was stored and refused for a device, `vward ingest`
connected, and a device's rejections heard as ingest's own user hears them.
Not a conftest.py: plain functions, imported by name where a test uses them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from conftest import unique, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from simulators.device_client import DeviceClient
from ward import broker_names, broker_users
from ward.broker_names import mqtt_protocol


def iso(t: datetime) -> str:
    """A measurement time as a device sends it (UTC, 'Z')."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def device_of(settings, reg, *, will: bool = True) -> DeviceClient:
    """The registered device ``reg`` connected to the broker as devices are;
    ``will=False`` when its last will (a status message) would spoil a count."""
    return DeviceClient(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        protocol=mqtt_protocol(settings),
        device_id=reg.device_id,
        password=reg.password,
        will=will,
    ).connect()


def stored_count(conn, device_id: str) -> int:
    """How many readings of ``device_id`` are in ``observations``."""
    return conn.execute(
        "SELECT count(*) FROM observations WHERE device_id = %s", (device_id,)
    ).fetchone()[0]


def rejections_of(conn, device_id: str) -> list[tuple]:
    """``device_id``'s kept refusals, oldest first: (reason_code, whole, reason, payload)."""
    return conn.execute(
        "SELECT reason_code, whole, reason, payload FROM rejected_messages"
        " WHERE device_id = %s ORDER BY rejection_id", (device_id,)).fetchall()


def ingest_started(p):
    """``p`` (a spawned `vward ingest`) once it consumes; fails with its output
    if it stopped instead."""
    wait_for(lambda: "connected to" in p.output() or not p.running, what="ingest connected")
    assert p.running, p.output()
    return p


def listen_rejections(settings, device_id: str) -> tuple[mqtt.Client, list[dict]]:
    """A client subscribed to ``device_id``'s rejections (as ingest's user, which
    may read them) and the list their bodies are appended to."""
    got: list[dict] = []
    ready = threading.Event()
    ingest = broker_users.credentials(settings, broker_names.INGEST)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=ingest.client_id(unique("rej")),
                    protocol=mqtt_protocol(settings))
    c.username_pw_set(ingest.username, ingest.password)
    c.on_message = lambda cl, ud, msg: got.append(json.loads(msg.payload))
    c.on_subscribe = lambda *a: ready.set()
    c.on_connect = lambda cl, ud, fl, rc, pr: cl.subscribe(
        f"ward/v1/devices/{device_id}/rejections", qos=1)  # the contract, written out
    c.connect(settings.mqtt_host, settings.mqtt_port)
    c.loop_start()
    assert ready.wait(10)
    return c, got
