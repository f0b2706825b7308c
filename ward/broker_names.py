"""The broker's names, shared by every stage (docs/operating.md, "Broker"):
the exchanges and quorum queues `vward up` declares on RabbitMQ, how an MQTT
topic becomes a routing key there, and which MQTT version our clients speak.
Pure; nothing here opens a connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paho.mqtt.client import MQTTv5, MQTTv311
from paho.mqtt.enums import MQTTProtocolVersion

from ward import topics

if TYPE_CHECKING:
    from ward.settings import Settings

# VWARD_BROKER values.
RABBITMQ = "rabbitmq"
MQTT = "mqtt"
BROKERS = (RABBITMQ, MQTT)

# RabbitMQ's MQTT plugin publishes every MQTT message to this topic exchange
# (`mqtt.exchange`); what no binding catches goes to its alternate exchange,
# because the plugin does not publish `mandatory`: an unrouted publish would
# be acknowledged to the device and dropped.
MQTT_EXCHANGE = "ward.mqtt"
UNROUTED_EXCHANGE = "ward.unrouted"
UNROUTED_QUEUE = "ward.unrouted"
READINGS_QUEUE = "ward.readings"
STATUS_QUEUE = "ward.status"
VHOST = "/"

# The device topics as RabbitMQ binding keys (`routing_key`, with `*` for any device).
READINGS_KEY = topics.readings_topic("*").replace("/", ".")
STATUS_KEY = topics.status_topic("*").replace("/", ".")
# Quorum queue -> binding key on MQTT_EXCHANGE (the unrouted queue is bound
# to its fanout exchange without a key).
BINDINGS: dict[str, str] = {READINGS_QUEUE: READINGS_KEY, STATUS_QUEUE: STATUS_KEY}
QUEUES = (READINGS_QUEUE, STATUS_QUEUE, UNROUTED_QUEUE)

# The ward's service users (issue 10): one each, with the least rights it
# needs (docs/security.md).  Every name holds an '@', which no device id can
# (ward/devices.py), so a device never takes a service's name; a service's
# MQTT client ids begin with its name (`ingest@vward-1`), a device's is its id.
# The web app needs no broker user of its own: its health check is the
# monitor's probe, and it registers devices through the files or the
# management API, never as an MQTT or AMQP client.
INGEST = "ingest"
ALERTS = "alerts"
MONITOR = "monitor"
SERVICES = (INGEST, ALERTS, MONITOR)
SERVICE_DOMAIN = "@vward"
# The one service user of before issue 10: `vward up` removes it.
LEGACY_SERVICE_USERS = ("ward-service",)


def service_user(service: str) -> str:
    """The broker user name of a service (`ingest` -> `ingest@vward`)."""
    return f"{service}{SERVICE_DOMAIN}"


def is_service_user(name: str) -> bool:
    return "@" in name


def client_id_allowed(username: str, client_id: str) -> bool:
    """The brokers' rule (their plugins, ward/plugin_sources/): a device's
    client id is its user name; a service user's begins with it."""
    if is_service_user(username):
        return client_id.startswith(username)
    return client_id == username


_SWAP = str.maketrans({"/": ".", ".": "/"})


def routing_key(topic: str) -> str:
    """The routing key RabbitMQ's MQTT plugin gives an MQTT topic: `/` and
    `.` swapped (`ward/v1/devices/a.b/readings` -> `ward.v1.devices.a/b.readings`)."""
    return topic.translate(_SWAP)


def topic_of(key: str) -> str:
    """The MQTT topic of a routing key; the inverse of `routing_key`."""
    return key.translate(_SWAP)


def mqtt_protocol(settings: Settings) -> MQTTProtocolVersion:
    """paho's protocol constant for our MQTT clients: RabbitMQ 3.10 speaks
    MQTT 3.1.1 only; any other broker (`VWARD_BROKER=mqtt`) is spoken to in v5,
    which the shared-subscription ingest path needs."""
    return MQTTv311 if settings.broker == RABBITMQ else MQTTv5
