"""The RabbitMQ broker `vward up` runs, through the real thing (the test run's
own node, started by `ward.services.up`): the topology is declared, a device
publishes its own readings and status and nothing else, reads only its own
topics, anonymous clients are refused, and a publish that no binding catches
lands in the unrouted queue rather than vanishing."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pika
import pika.exceptions
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import unique
from ward import broker, broker_users, rabbitmq_admin, rabbitmq_users, services
from ward import broker_names as names
from ward import rabbitmq_config as cfg
from ward.settings import Settings

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(Settings().broker != names.RABBITMQ,
                       reason="VWARD_BROKER=mqtt: the RabbitMQ broker is not the one under test"),
]


class Client:
    """A paho client speaking MQTT 3.1.1 that records what happens to it."""

    def __init__(self, settings: Settings, username: str | None, password: str | None,
                 client_id: str | None = None) -> None:
        self.events: list[tuple[str, object]] = []
        self.messages: list[mqtt.MQTTMessage] = []
        self.connected = threading.Event()
        self.gone = threading.Event()
        # A device's MQTT client id is its id: its subscription queues are named by it.
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=client_id or username or unique("anon"),
                             protocol=names.mqtt_protocol(settings))
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = lambda c, u, m: self.messages.append(m)
        self.c.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
        self.c.loop_start()

    def _on_connect(self, c, userdata, flags, reason_code, properties):
        self.events.append(("connack", reason_code))
        self.connected.set()

    def _on_disconnect(self, c, userdata, flags, reason_code, properties):
        self.events.append(("disconnect", reason_code))
        self.gone.set()

    def accepted(self) -> bool:
        assert self.connected.wait(10), self.events
        return not self.events[0][1].is_failure  # type: ignore[union-attr]

    def publish(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        info = self.c.publish(topic, payload, qos=1)
        return info

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def amqp(services_up: Settings):
    """A channel of the ward's ingest user on node 0."""
    ingest = broker_users.credentials(services_up, names.INGEST)
    params = pika.ConnectionParameters(
        "127.0.0.1", services_up.amqp_port,
        credentials=pika.PlainCredentials(ingest.username, ingest.password))
    conn = pika.BlockingConnection(params)
    yield conn.channel()
    conn.close()


def take(channel, queue: str, body: bytes, *, timeout: float = 10):
    """Get the message with `body` from `queue` (others put back untouched)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, _props, got = channel.basic_get(queue)
        if method is None:
            time.sleep(0.05)
            continue
        if got == body:
            channel.basic_ack(method.delivery_tag)
            return method
        channel.basic_nack(method.delivery_tag, requeue=True)
    return None


def test_topology_is_declared_with_quorum_queues(services_up):
    with rabbitmq_admin.client(services_up) as api:
        queues = rabbitmq_admin.queues(api)
        exchange = api.get("/exchanges/%2F/ward.mqtt").json()
        bindings = api.get("/exchanges/%2F/ward.mqtt/bindings/source").json()
        users = {u["name"]: u for u in api.get("/users").json()}
    for q in names.QUEUES:
        assert queues[q]["type"] == "quorum" and queues[q]["durable"]
    assert exchange["type"] == "topic"
    assert exchange["arguments"] == {"alternate-exchange": names.UNROUTED_EXCHANGE}
    # MQTT clients' own subscription queues (other tests') are no topology.
    assert {(b["destination"], b["routing_key"]) for b in bindings
            if not b["destination"].startswith("mqtt-subscription-")} == {
        (names.READINGS_QUEUE, names.READINGS_KEY), (names.STATUS_QUEUE, names.STATUS_KEY)}
    assert "guest" not in users
    assert users[cfg.ADMIN_USER]["tags"] == ["administrator"]


def test_a_device_publishes_its_readings_and_status_into_the_quorum_queues(register, amqp,
                                                                            services_up):
    dev = register()
    client = Client(services_up, dev.device_id, dev.password)
    try:
        assert client.accepted()
        for kind, queue in (("readings", names.READINGS_QUEUE), ("status", names.STATUS_QUEUE)):
            body = f'{{"test": "{uuid.uuid4()}"}}'.encode()
            client.publish(f"ward/v1/devices/{dev.device_id}/{kind}", body).wait_for_publish(10)
            method = take(amqp, queue, body)
            assert method is not None, f"{kind} not in {queue}"
            assert method.routing_key == f"ward.v1.devices.{dev.device_id}.{kind}"
        assert not client.gone.is_set()
    finally:
        client.close()


def test_a_device_publishing_on_another_devices_topic_is_disconnected(register, amqp,
                                                                       services_up):
    dev, other = register(), register()
    client = Client(services_up, dev.device_id, dev.password)
    try:
        assert client.accepted()
        body = f"forged {uuid.uuid4()}".encode()
        client.publish(f"ward/v1/devices/{other.device_id}/readings", body)
        assert client.gone.wait(10), client.events
        assert take(amqp, names.READINGS_QUEUE, body, timeout=1) is None
        assert take(amqp, names.UNROUTED_QUEUE, body, timeout=0.2) is None
    finally:
        client.close()


def test_a_device_reads_its_own_rejections_and_no_one_elses(register, amqp, services_up):
    dev, other = register(), register()
    client = Client(services_up, dev.device_id, dev.password)
    try:
        assert client.accepted()
        topic = f"ward/v1/devices/{dev.device_id}/rejections"
        client.c.subscribe(topic, qos=1)
        time.sleep(0.5)
        body = f"rejected {uuid.uuid4()}".encode()
        amqp.confirm_delivery()
        amqp.basic_publish(names.MQTT_EXCHANGE, names.routing_key(topic), body,
                           pika.BasicProperties(delivery_mode=2))
        deadline = time.monotonic() + 10
        while not client.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(m.topic, m.payload) for m in client.messages] == [(topic, body)]
        client.c.subscribe(f"ward/v1/devices/{other.device_id}/rejections", qos=1)
        assert client.gone.wait(10), "reading another device's topic was allowed"
    finally:
        client.close()


@pytest.mark.parametrize("credentials", [None, ("", ""), ("nobody", "x"), ("WRONG", None)])
def test_anonymous_unknown_and_wrong_password_are_refused(register, services_up, credentials):
    if credentials == ("WRONG", None):
        dev = register()
        credentials = (dev.device_id, dev.password + "x")
    user, password = credentials or (None, None)
    client = Client(services_up, user, password)
    try:
        assert not client.accepted()
    finally:
        client.close()


def test_a_device_cannot_read_the_quorum_queues_over_amqp(register, services_up):
    dev = register()
    params = pika.ConnectionParameters(
        "127.0.0.1", services_up.amqp_port,
        credentials=pika.PlainCredentials(dev.device_id, dev.password))
    conn = pika.BlockingConnection(params)  # a device user may connect ...
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            conn.channel().basic_get(names.READINGS_QUEUE)  # ... but not read the ward's queue
        assert refused.value.reply_code == 403
    finally:
        if conn.is_open:
            conn.close()


def test_a_publish_no_binding_catches_lands_in_the_unrouted_queue(amqp, services_up):
    """An alert of a ward nobody subscribes to (the alerts user's only topic)."""
    alerts = broker_users.credentials(services_up, names.ALERTS)
    client = Client(services_up, alerts.username, alerts.password,
                    client_id=alerts.client_id(unique("t")))
    try:
        assert client.accepted()
        body = f"stray {uuid.uuid4()}".encode()
        ward = unique("nobody-listens")
        client.publish(f"ward/v1/wards/{ward}/alerts", body).wait_for_publish(10)
        method = take(amqp, names.UNROUTED_QUEUE, body)
        assert method is not None
        assert method.routing_key == f"ward.v1.wards.{ward}.alerts"
    finally:
        client.close()


def test_the_ingest_user_declares_the_queues_passively_only(amqp):
    for q in names.QUEUES:
        assert amqp.queue_declare(q, passive=True).method.queue == q
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        amqp.queue_declare("ward.something-else", durable=True)
    assert refused.value.reply_code == 403


def test_a_sync_after_registration_imports_only_the_new_device(register, services_up):
    register()
    again = broker.sync_users(services_up)
    assert again.startswith("broker users: 0 created or updated, 0 removed"), again


def test_an_external_rabbitmq_gets_the_topology_and_users_when_given_its_admin_password(
        services_up, register):
    """A cluster of the operator's own (VWARD_MQTT_EXTERNAL): `vward up` runs no
    node, declares the topology and syncs the users through its management
    API; the test run's own node plays that cluster."""
    external = services_up.model_copy(update={"mqtt_external": True})
    dev = register()
    with rabbitmq_admin.client(services_up) as api:
        api.delete(f"/users/{dev.device_id}").raise_for_status()
    done = services.up(external)
    assert f"topology declared on {external.mqtt_host}" in done
    assert any(line.startswith("broker users: 1 created") for line in done), done
    client = Client(services_up, dev.device_id, dev.password)
    try:
        assert client.accepted()
    finally:
        client.close()
    elsewhere = external.model_copy(update={"home": services_up.home / "no-such-home",
                                            "database_url": services_up.dsn})
    assert broker.manages_users(elsewhere) is False
    assert "note: external RabbitMQ" in services.up(elsewhere)[-1]


def test_vward_device_add_creates_the_broker_user_the_device_connects_with(services_up):
    import subprocess
    import sys

    from tests.conftest import ROOT, service_env

    device_id = unique("cli")
    proc = subprocess.run(
        [sys.executable, "-m", "ward.cli", "device", "add", device_id, "--patient",
         unique("pat"), "--ward", "ward-test"], env=service_env(services_up),
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    password = proc.stdout.strip().splitlines()[-1]
    client = Client(services_up, device_id, password)
    try:
        assert client.accepted()
    finally:
        client.close()
    with rabbitmq_admin.client(services_up) as api:
        topic = api.get(f"/users/{device_id}/topic-permissions").json()
    assert [(t["exchange"], t["write"]) for t in topic] == [
        (names.MQTT_EXCHANGE, rabbitmq_users.device_rights(device_id).topic_write)]
