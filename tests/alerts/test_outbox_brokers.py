"""The alerts outbox on both brokers, against the real ones.  RabbitMQ (the
default): each event goes over AMQP to the MQTT plugin's exchange with its
topic's routing key, persistent, with publisher confirms; the watermark moves
only once the broker confirmed the batch; any node of VWARD_AMQP_URLS will
do.  The MQTT v5 option (`VWARD_BROKER=mqtt`, Mosquitto): QoS 1 on the topic."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pika
import pytest
from conftest import unique, wait_for
from engine_fixtures import HIGH, Subscriber, admit, base_time, engine, send
from mqtt_option import mqtt_services

from alerts.outbox import Outbox
from ward import broker, db, rabbitmq_admin, scratch
from ward import broker_names as names
from ward.domain import alerts_topic
from ward.rabbitmq_config import ADMIN_USER, amqp_urls
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture
def rabbitmq(services_up: Settings) -> Settings:
    if services_up.broker != names.RABBITMQ:
        pytest.skip(reason="the AMQP outbox needs VWARD_BROKER=rabbitmq (make test runs RabbitMQ)")
    return services_up


@pytest.fixture
def listener(rabbitmq: Settings) -> Iterator:
    """listen(ward): a queue of the test's own bound to the ward's alerts
    routing key; returns a function that takes what has arrived."""
    params = pika.URLParameters(amqp_urls(rabbitmq)[0])
    # The broker's admin (loopback only) as the test's observer: no service
    # user may declare a queue of its own (issue 10).
    params.credentials = pika.PlainCredentials(ADMIN_USER, rabbitmq_admin.admin_password(rabbitmq))
    connection = pika.BlockingConnection(params)
    ch = connection.channel()

    def listen(ward: str):
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, names.MQTT_EXCHANGE, names.routing_key(alerts_topic(ward)))

        def arrived() -> list[tuple]:
            out = []
            while (got := ch.basic_get(q, auto_ack=True))[0] is not None:
                method, props, body = got
                out.append((method.routing_key, props.delivery_mode, json.loads(body)))
            return out

        return arrived

    yield listen
    connection.close()


def _ward_with_events(settings: Settings) -> tuple[str, set[int]]:
    """A ward whose one patient scored high: the engine has written its events."""
    ward = unique("ward")
    [(p, d)] = admit(settings, ward)
    with db.connect(settings, autocommit=True) as conn:
        send(conn, p, d, base_time(), **HIGH)
        e = engine(settings, ward)
        try:
            e.drain(base_time())
        finally:
            e.conn.close()
        ids = {r[0] for r in conn.execute(
            "SELECT event_id FROM alert_events JOIN alerts USING (alert_id)"
            " WHERE patient_id = %s", (p,)).fetchall()}
    assert ids
    return ward, ids


def _publish(settings: Settings) -> int:
    outbox = Outbox(settings)
    outbox.start()
    try:
        wait_for(lambda: outbox.connected, what="outbox connected")
        with db.connect(settings, autocommit=True) as conn:
            return outbox.publish_pending(conn)
    finally:
        outbox.stop()


def _published(settings: Settings) -> int:
    with db.connect(settings) as conn:
        row = conn.execute("SELECT published FROM alert_outbox").fetchone()
    assert row is not None
    return row[0]


def test_events_go_to_the_mqtt_exchange_persistent(rabbitmq: Settings, listener) -> None:
    ward, ids = _ward_with_events(rabbitmq)
    arrived = listener(ward)
    assert _publish(rabbitmq) >= len(ids)
    got = arrived()
    assert {body["event_id"] for _, _, body in got} == ids
    key = names.routing_key(alerts_topic(ward))
    assert all(k == key and mode == 2 for k, mode, _ in got)  # persistent
    assert all(body["ward_id"] == ward for _, _, body in got)


def test_a_batch_the_broker_refuses_leaves_the_watermark(rabbitmq: Settings, listener) -> None:
    """A publisher whose topic permissions do not cover alert events (the
    alerts user's taken away for the test, as a device's never had them):
    the broker closes the channel instead of confirming, and the events stay
    pending until a publisher the broker accepts sends them."""
    ward, ids = _ward_with_events(rabbitmq)
    arrived = listener(ward)
    before = _published(rabbitmq)
    with rabbitmq_admin.client(rabbitmq) as api:
        api.put(f"/topic-permissions/%2F/{names.service_user(names.ALERTS)}",
                json={"exchange": names.MQTT_EXCHANGE, "write": "^nothing$",
                      "read": "^nothing$"}).raise_for_status()
    try:
        assert _publish(rabbitmq) == 0
    finally:
        broker.sync_users(rabbitmq)  # its own rights back
    assert _published(rabbitmq) == before
    assert arrived() == []
    assert _publish(rabbitmq) >= len(ids)
    assert _published(rabbitmq) >= before + len(ids)
    assert {body["event_id"] for _, _, body in arrived()} == ids


def test_the_outbox_uses_the_node_that_answers(rabbitmq: Settings, listener) -> None:
    ward, ids = _ward_with_events(rabbitmq)
    arrived = listener(ward)
    dead = f"amqp://127.0.0.1:{scratch.free_port()}"
    either = rabbitmq.model_copy(update={"amqp_urls": f"{dead},{amqp_urls(rabbitmq)[0]}"})
    assert _publish(either) >= len(ids)
    assert {body["event_id"] for _, _, body in arrived()} == ids


def test_mqtt_subscribers_get_the_events(services_up: Settings) -> None:
    """Whatever the broker, an MQTT subscriber of the ward's alerts topic (in
    the MQTT version the broker speaks) receives every event."""
    ward, ids = _ward_with_events(services_up)
    sub = Subscriber(services_up, ward)
    try:
        _publish(services_up)
        wait_for(lambda: {ev["event_id"] for ev in sub.events} == ids, timeout=10,
                 what="every event on MQTT")
    finally:
        sub.close()


def test_on_the_mqtt_option_events_go_out_over_mqtt_v5() -> None:
    with mqtt_services("vward-test-outbox-") as s:
        ward, ids = _ward_with_events(s)
        sub = Subscriber(s, ward)
        try:
            outbox = Outbox(s)
            assert outbox.where == f"mqtt://{s.mqtt_host}:{s.mqtt_port}"
            _publish(s)
            wait_for(lambda: {ev["event_id"] for ev in sub.events} == ids, timeout=10,
                     what="every event on MQTT")
        finally:
            sub.close()
