"""A device is a device and nothing more (issue 10, items 1-4), on both
brokers: RabbitMQ (the test run's own node) and the MQTT v5 option
(Mosquitto of this module's own), each with the ward's plugin that binds a
client id to its user and (Mosquitto) checks every SUBSCRIBE.  Real
brokers, real `vward ingest` processes, the attacks of the issue."""

from __future__ import annotations

import os
import queue
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import ROOT, Process, service_env, unique, wait_for
from mqtt_option import mqtt_services, register, stored
from paho.mqtt.enums import CallbackAPIVersion

from alerts.outbox import Outbox
from ingest import mqtt_session
from simulators.device_client import DeviceClient
from ward import broker_names as names
from ward import (
    broker_users,
    db,
    devices,
    mosquitto,
    mqtt_auth,
    probes,
    secret_files,
    services,
    topics,
)
from ward.device_commands import RemeasureCommand, parse_command, remeasure_payload
from ward.errors import WardError
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture(scope="module")
def mosquitto_ward(services_up: Settings) -> Iterator[Settings]:
    if services_up.broker == names.MQTT:
        yield services_up
        return
    with mqtt_services("vward-test-isolation-") as s:
        yield s


@pytest.fixture(params=[names.RABBITMQ, names.MQTT])
def ward(request, services_up: Settings) -> Settings:
    """The broker under test: RabbitMQ or Mosquitto, with its database."""
    if request.param == names.MQTT:
        return request.getfixturevalue("mosquitto_ward")
    if services_up.broker != names.RABBITMQ:
        pytest.skip(reason="VWARD_BROKER=mqtt: no RabbitMQ node in this run")
    return services_up


@pytest.fixture
def worker(ward: Settings, tmp_path: Path) -> Iterator[Process]:
    """`vward ingest` of the ward under test, connected."""
    p = Process(["ingest"], service_env(ward), tmp_path / "ingest.log").start()
    try:
        wait_for(lambda: "subscribing" in p.output() or "connected to amqp" in p.output(),
                 timeout=30, what="ingest connected")
        yield p
    finally:
        if p.running:
            p.terminate()
        print(f"--- vward ingest ---\n{p.output()[-4000:]}")


class Client:
    """A paho client that records its CONNACK, SUBACK and disconnection."""

    def __init__(self, settings: Settings, username: str, password: str, client_id: str) -> None:
        self.connack: object = None
        self.suback: list = []
        self.messages: list[mqtt.MQTTMessage] = []
        self.connected, self.subscribed, self.gone = (threading.Event(), threading.Event(),
                                                     threading.Event())
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=names.mqtt_protocol(settings))
        self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_disconnect = lambda *a: self.gone.set()
        self.c.on_message = lambda c, u, m: self.messages.append(m)
        self.c.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
        self.c.loop_start()
        self.connected.wait(10)

    def _on_connect(self, c, userdata, flags, reason_code, properties) -> None:
        self.connack = reason_code
        self.connected.set()

    def _on_subscribe(self, c, userdata, mid, reason_codes, properties) -> None:
        self.suback = list(reason_codes)
        self.subscribed.set()

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure  # type: ignore[attr-defined]

    def subscribe_refused(self, topic: str) -> bool:
        """Whether the broker refused the subscription: a failure in the
        SUBACK (Mosquitto; MQTT v5) or the connection closed (RabbitMQ 3.10)."""
        self.c.subscribe(topic, qos=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.subscribed.is_set():
                return all(rc.is_failure for rc in self.suback)
            if self.gone.is_set():
                return True
            time.sleep(0.05)
        raise AssertionError(f"no answer to SUBSCRIBE {topic}")

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _send(settings: Settings, dev, n: int, tag: str) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    with DeviceClient(host=settings.mqtt_host, port=settings.mqtt_port,
                      protocol=names.mqtt_protocol(settings), device_id=dev.device_id,
                      password=dev.password).connect() as d:
        for i in range(n):
            t = (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
            rc = d.send_readings([{"time": t, "type": "heart_rate", "value": 60 + i}],
                                 message_id=f"{tag}-{i}")
            assert not rc.is_failure, rc


# ------------------------------------------------------------ item 1


def test_a_device_cannot_take_a_share_of_other_patients_readings(ward, worker) -> None:
    """The issue's attack: a device subscribes to ingest's shared
    subscription while another device publishes 20 readings: the broker
    refuses the subscription, and all 20 are stored."""
    thief, victim = register(ward), register(ward)
    c = Client(ward, thief.device_id, thief.password, thief.device_id)
    try:
        assert c.accepted, c.connack
        assert c.subscribe_refused("$share/ingest/ward/v1/devices/+/readings")
        _send(ward, victim, 20, unique("share"))
        wait_for(lambda: stored(ward, victim.device_id) == 20, timeout=30,
                 what="all 20 readings stored")
        time.sleep(0.5)  # anything late would be a reading taken away
        assert stored(ward, victim.device_id) == 20
        assert c.messages == []
    finally:
        c.close()


@pytest.mark.parametrize("topic", ["ward/v1/devices/+/readings", "ward/v1/devices/#", "#",
                                   "ward/v1/devices/{other}/rejections",
                                   "ward/v1/devices/{other}/commands",
                                   "$share/x/ward/v1/devices/{own}/rejections"])
def test_a_device_subscribes_to_nothing_beyond_its_own_topics(ward, topic) -> None:
    dev, other = register(ward), register(ward)
    c = Client(ward, dev.device_id, dev.password, dev.device_id)
    try:
        assert c.accepted
        assert c.subscribe_refused(topic.format(other=other.device_id, own=dev.device_id))
    finally:
        c.close()
    own = Client(ward, dev.device_id, dev.password, dev.device_id)
    try:
        assert own.accepted
        assert not own.subscribe_refused(f"ward/v1/devices/{dev.device_id}/rejections")
    finally:
        own.close()


def test_the_alerts_engine_commands_a_device_and_no_other_device_reads_it(ward) -> None:
    """Issue 13: the engine's user (alerts@vward, on the outbox's own connection:
    AMQP on RabbitMQ, MQTT on Mosquitto) publishes a re-measure command on a
    device's commands topic; that device reads it, another may not subscribe."""
    dev, other = register(ward), register(ward)
    got: queue.Queue[bytes] = queue.Queue()
    deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    cmd = RemeasureCommand(7, ("heart_rate", "spo2"), deadline)
    with DeviceClient(host=ward.mqtt_host, port=ward.mqtt_port,
                      protocol=names.mqtt_protocol(ward), device_id=dev.device_id,
                      password=dev.password, will=False) as d:
        d.listen_commands(got.put)
        spy = Client(ward, other.device_id, other.password, other.device_id)
        try:
            assert spy.accepted
            assert spy.subscribe_refused(topics.commands_topic(dev.device_id))
        finally:
            spy.close()
        outbox = Outbox(ward)
        outbox.start()
        try:
            wait_for(lambda: outbox.connected, timeout=20, what="the outbox connected")
            outbox.publisher.publish([(topics.commands_topic(dev.device_id),
                                       remeasure_payload(cmd))], timeout=10)
        finally:
            outbox.stop()
        assert parse_command(got.get(timeout=10)) == cmd
    assert spy.messages == []


# ------------------------------------------------------------ item 2


def test_a_client_id_not_its_own_is_refused_before_it_takes_a_session(ward) -> None:
    """A device connecting with another device's client id, or with a
    service's, is refused at CONNECT: the holder of that id stays connected."""
    holder, intruder = register(ward), register(ward)
    ingest = broker_users.credentials(ward, names.INGEST)
    held = Client(ward, holder.device_id, holder.password, holder.device_id)
    service = Client(ward, ingest.username, ingest.password, ingest.client_id(unique("held")))
    try:
        assert held.accepted and service.accepted
        for taken in (holder.device_id, service.c._client_id.decode()):
            c = Client(ward, intruder.device_id, intruder.password, taken)
            try:
                assert not c.accepted, f"{intruder.device_id} took client id {taken}"
            finally:
                c.close()
        bad = Client(ward, ingest.username, ingest.password, f"x-{ingest.username}")
        try:
            assert not bad.accepted  # a service's client ids begin with its name
        finally:
            bad.close()
        time.sleep(0.5)
        assert not held.gone.is_set() and not service.gone.is_set()
    finally:
        held.close()
        service.close()


def test_a_device_cannot_push_the_ingest_worker_off_its_session(mosquitto_ward,
                                                                tmp_path) -> None:
    """The issue's attack on the MQTT option: a device connects with the
    worker's client id while readings flow; the worker keeps its session
    and every reading is stored."""
    ward = mosquitto_ward
    p = Process(["ingest"], service_env(ward), tmp_path / "ingest.log").start()
    try:
        wait_for(lambda: "subscribing" in p.output(), timeout=30, what="ingest connected")
        attacker, dev = register(ward), register(ward)
        c = Client(ward, attacker.device_id, attacker.password, ward.ingest_client_id)
        c.close()
        assert not c.accepted
        _send(ward, dev, 10, unique("kick"))
        wait_for(lambda: stored(ward, dev.device_id) == 10, timeout=30, what="10 stored")
        assert p.output().count("subscribing") == 1, p.output()  # never pushed off
    finally:
        p.terminate()


# ------------------------------------------------------------ item 3


@pytest.mark.parametrize("name", ["ingest@vward", "alerts@vward", "monitor@vward",
                                  "ward-service", "vward-admin"])
def test_no_device_takes_a_service_users_name(services_up, name) -> None:
    with db.connect(services_up) as conn, pytest.raises(WardError, match="device id"):
        devices.register_devices(conn, [devices.NewDevice(name, unique("pat"), "ward-test")])


def test_vward_device_add_of_a_service_name_changes_no_service_user(ward) -> None:
    """`vward device add ward-service` (the issue's attack) and one named
    like today's service users are refused; the service users still get in."""
    for name in ("ward-service", names.service_user(names.INGEST)):
        done = subprocess.run(
            [sys.executable, "-m", "ward.cli", "device", "add", name, "--patient",
             unique("pat")], env=service_env(ward), cwd=ROOT, capture_output=True, text=True,
            timeout=120, check=False)
        assert done.returncode != 0
        assert "device id" in done.stderr, done.stderr
    for service in names.SERVICES:
        creds = broker_users.credentials(ward, service)
        probe = probes.probe_broker(ward.mqtt_host, ward.mqtt_port, username=creds.username,
                                    password=creds.password)
        assert probe.ok, (service, probe)


# ------------------------------------------------------------ item 4


def test_service_passwords_are_generated_and_kept_for_the_owner_only(ward) -> None:
    for service in names.SERVICES:
        path = secret_files.secret_path(ward.home, broker_users.secret_name(service))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert broker_users.credentials(ward, service).password == path.read_text().strip()
    assert stat.S_IMODE(secret_files.secrets_dir(ward.home).stat().st_mode) == 0o700
    fields = Settings.model_fields
    assert "mqtt_password" not in fields and "mqtt_username" not in fields
    for service in names.SERVICES:
        assert fields[f"{service}_broker_password"].default == ""


def test_a_home_from_before_is_upgraded_by_vward_up(ward) -> None:
    """The one service user of before (ward-service, rights on `#`) is
    removed by `vward up`, the three of issue 10 made."""
    if ward.broker == names.RABBITMQ:
        from ward import rabbitmq_admin

        with rabbitmq_admin.client(ward) as api:
            api.put("/users/ward-service", json={"password": "demo-service-password",
                                                 "tags": ""}).raise_for_status()
            api.put("/permissions/%2F/ward-service", json={
                "configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        services.up(ward, ingest_session=mqtt_session.ensure)
        with rabbitmq_admin.client(ward) as api:
            users = {u["name"] for u in api.get("/users").json()}
        assert "ward-service" not in users
        assert {names.service_user(s) for s in names.SERVICES} <= users
    else:
        paths = mosquitto.Paths(ward.home)
        old = paths.passwd.read_text()
        paths.passwd.write_text(
            old + f"ward-service:{mqtt_auth.hash_password('demo-service-password')}\n")
        services.up(ward, ingest_session=mqtt_session.ensure)
        text = paths.passwd.read_text()
        assert "ward-service:" not in text
        assert all(f"{names.service_user(s)}:" in text for s in names.SERVICES)
    legacy = probes.probe_broker(ward.mqtt_host, ward.mqtt_port, username="ward-service",
                                 password="demo-service-password")
    assert not legacy.ok


def test_vward_up_restarts_a_mosquitto_of_before_with_the_plugin(tmp_path) -> None:
    """A Mosquitto started before issue 10 (no plugin in its configuration)
    checks no client id; `vward up` restarts it with the plugin."""
    with mqtt_services("vward-test-upgrade-") as ward:
        paths = mosquitto.Paths(ward.home)
        mosquitto.stop(ward)
        conf = paths.conf.read_text()
        paths.conf.write_text("\n".join(
            line for line in conf.splitlines() if not line.startswith("plugin")) + "\n")
        subprocess.run(["mosquitto", "-d", "-c", str(paths.conf)], check=True)
        wait_for(lambda: mosquitto.pid(ward), what="old Mosquitto running")
        a, b = register(ward), register(ward)
        before = Client(ward, b.device_id, b.password, a.device_id)
        before.close()
        assert before.accepted  # the hole, before the upgrade
        out = services.up(ward, ingest_session=mqtt_session.ensure)
        assert any("stopped Mosquitto to load" in line for line in out), out
        after = Client(ward, b.device_id, b.password, a.device_id)
        after.close()
        assert not after.accepted
        assert os.path.exists(paths.plugin_dir / "vward_auth.so")
