"""The broker's names and the MQTT topic <-> routing key pair, pure."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ward import broker_names as names
from ward.settings import Settings


@pytest.mark.parametrize(("topic", "key"), [
    ("ward/v1/devices/a.b/readings", "ward.v1.devices.a/b.readings"),
    ("ward/v1/devices/dev-1/status", "ward.v1.devices.dev-1.status"),
    ("ward/v1/wards/ward-1/alerts", "ward.v1.wards.ward-1.alerts"),
    ("", ""),
])
def test_routing_key_swaps_slash_and_dot_both_ways(topic, key):
    assert names.routing_key(topic) == key
    assert names.topic_of(key) == topic


@given(st.text())
def test_topic_of_inverts_routing_key(topic):
    assert names.topic_of(names.routing_key(topic)) == topic


def test_a_device_topic_matches_its_binding_key():
    key = names.routing_key("ward/v1/devices/x.y_z/readings")
    assert key.split(".")[:3] == names.READINGS_KEY.split(".")[:3]
    assert key.split(".")[3] == "x/y_z"  # one word: `*` matches it


def test_mqtt_protocol_is_3_1_1_for_rabbitmq_and_5_for_any_other_broker():
    assert names.mqtt_protocol(Settings(broker="rabbitmq")) == mqtt.MQTTv311
    assert names.mqtt_protocol(Settings(broker="mqtt")) == mqtt.MQTTv5
    assert Settings.model_fields["broker"].default == names.RABBITMQ


def test_every_queue_is_bound_or_unrouted():
    assert set(names.QUEUES) == {*names.BINDINGS, names.UNROUTED_QUEUE}
