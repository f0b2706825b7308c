"""paho only: the alerts outbox's publisher on an MQTT broker (`VWARD_BROKER=mqtt`).

QoS 1 in the MQTT version the broker speaks; `publish` returns only when the
broker has acked (PUBACK) every message of the batch, so the outbox moves its
watermark after the acks (at least once).  paho reconnects by itself."""

from __future__ import annotations

import logging
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from alerts.errors import OutboxError

log = logging.getLogger("alerts.outbox")


class MqttPublisher:
    """A paho client with the ward's service credentials."""

    def __init__(self, *, host: str, port: int, protocol: MQTTProtocolVersion, username: str,
                 password: str, client_id: str, max_inflight: int) -> None:
        self._host, self._port = host, port
        self.where = f"mqtt://{host}:{port}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=protocol)
        self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.connected = False

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = not reason_code.is_failure
        if reason_code.is_failure:
            log.error("the broker refused the alerts engine: %s", reason_code)
        else:
            log.info("connected to the broker at %s", self.where)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def start(self) -> None:
        self.client.connect_async(self._host, self._port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, messages: list[tuple[str, bytes]], *, timeout: float) -> None:
        """Publish (topic, body) pairs at QoS 1 and return once the broker has
        acked them all; OutboxError otherwise, within `timeout` [s]."""
        infos = []
        for topic, payload in messages:
            info = self.client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise OutboxError(f"cannot publish on {topic}: rc {info.rc}")
            infos.append(info)
        deadline = time.monotonic() + timeout
        for info in infos:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                raise OutboxError(f"cannot publish alert events: {exc}") from exc
            if not info.is_published():
                unacked = sum(not i.is_published() for i in infos)
                raise OutboxError(f"the broker did not ack {unacked} of {len(infos)} alert"
                                  f" events within {timeout:.0f} s")
