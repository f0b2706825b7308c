"""A home device's side of the MQTT contract: connect with the device's own
credentials, publish readings (QoS 1, waiting for the broker's ack), status
with a last will.  One device, one thread: used by tests as a device; the
simulator drives thousands from one thread in runner.py.  The MQTT version
is the one the configured broker speaks (`ward.broker_names.mqtt_protocol`):
3.1.1 to RabbitMQ, v5 to any other."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from ward import topics
from ward.tls_files import client_context


class DeviceError(RuntimeError):
    """The broker refused the device or one of its messages."""


readings_topic = topics.readings_topic
status_topic = topics.status_topic


class DeviceClient:
    def __init__(self, *, host: str, port: int, device_id: str, password: str,
                 protocol: MQTTProtocolVersion, username: str | None = None,
                 will: bool = True, tls_ca: Path | str | None = None) -> None:
        self.device_id = device_id
        # The broker takes a client id only from its own user: a device's is its
        # id, another user's (a service's) begins with its name (issue 10).
        client_id = device_id if username in (None, device_id) else f"{username}-{device_id}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=protocol)
        self._client.username_pw_set(username or device_id, password)
        self._tls = client_context(tls_ca) if tls_ca is not None else None
        if self._tls is not None:  # the broker's TLS port, trusting this CA alone
            self._client.tls_set_context(self._tls)
        if will:
            self._client.will_set(status_topic(device_id), json.dumps({"online": False}),
                                  qos=1, retain=True)
        self._connected = threading.Event()
        self._refused: ReasonCode | None = None
        self._acks: dict[int, ReasonCode] = {}
        self._ack_cv = threading.Condition()
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._host, self._port = host, port

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = reason_code
        self._connected.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._ack_cv:
            self._acks[mid] = reason_code
            self._ack_cv.notify_all()

    def connect(self, timeout: float = 10) -> DeviceClient:
        """Connect; a broker that cannot be reached, or whose TLS certificate
        the CA does not vouch for, raises DeviceError."""
        try:
            if self._tls is not None:
                self._check_certificate(timeout)
            self._client.connect(self._host, self._port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLCertVerificationError among them
            raise DeviceError(f"{self.device_id}: cannot connect to the broker at"
                              f" {self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(timeout):
            raise DeviceError(f"{self.device_id}: no answer from the broker")
        if self._refused is not None:
            self.close()
            raise DeviceError(f"{self.device_id}: broker refused the connection: {self._refused}")
        return self

    def _check_certificate(self, timeout: float) -> None:
        """The broker's certificate checked on a socket of our own, closed
        whatever happens: paho 2.1 leaves its socket open when the TLS
        handshake fails (a device retrying would leak one each time)."""
        assert self._tls is not None
        with socket.create_connection((self._host, self._port), timeout=timeout) as raw, \
                self._tls.wrap_socket(raw, server_hostname=self._host):
            pass

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False,
                wait: bool = True, timeout: float = 10) -> ReasonCode | None:
        """Publish; with `wait`, return the broker's PUBACK reason code (always
        success in MQTT 3.1.1, whose PUBACK carries none)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if not wait or qos == 0:
            return None
        with self._ack_cv:
            if not self._ack_cv.wait_for(lambda: info.mid in self._acks, timeout):
                raise DeviceError(f"{self.device_id}: no PUBACK for message {info.mid}")
            return self._acks.pop(info.mid)

    def listen_commands(self, handler: Callable[[bytes], None], *,
                        timeout: float = 10) -> None:
        """Subscribe (QoS 1) to this device's own commands topic; ``handler`` gets
        each payload on paho's thread (ward/device_commands.py reads it).  Returns
        once the broker granted the subscription; DeviceError if it refused."""
        granted = threading.Event()
        codes: list[ReasonCode] = []

        def _on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
            codes.extend(reason_codes)
            granted.set()

        self._client.on_subscribe = _on_subscribe
        self._client.message_callback_add(topics.commands_topic(self.device_id),
                                          lambda c, u, m: handler(m.payload))
        self._client.subscribe(topics.commands_topic(self.device_id), qos=1)
        if not granted.wait(timeout) or any(rc.is_failure for rc in codes):
            raise DeviceError(f"{self.device_id}: cannot subscribe to its commands: {codes}")

    def send_readings(self, readings: list[dict[str, Any]], *, message_id: str,
                      **kw: Any) -> ReasonCode | None:
        body = json.dumps({"id": message_id, "readings": readings})
        return self.publish(readings_topic(self.device_id), body, **kw)

    def send_status(self, **status: Any) -> ReasonCode | None:
        return self.publish(status_topic(self.device_id), json.dumps(status), retain=True)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> DeviceClient:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()
