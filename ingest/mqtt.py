"""paho callbacks only: turn each message into a `Received`, queue it, and
ack it when the writer says it is committed (conventions.md §1, §3).

The MQTT v5 path (`VWARD_BROKER=mqtt`): a persistent session on the shared
subscription.  It subscribes on every connect, whatever "session present"
says (Mosquitto restores a session from its persistence file after a crash,
but not its shared subscriptions), and reconnects within a second of the
broker's return (`retry_delay`)."""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest import decode
from ingest.pipeline import Received, receive, unreadable
from ward.domain import INGEST_SESSION_EXPIRY, INGEST_SUBSCRIPTIONS

log = logging.getLogger(__name__)
_PUBACK = struct.Struct("!BBH")  # PUBACK fixed header, remaining length 2, packet id

# Reconnecting: every _FAST_RETRY_S while the broker has been away less than
# _FAST_FOR_S, then less often, up to _SLOW_RETRY_S.  paho's own doubling
# reached 30 s within a broker restart, and until the worker resubscribed the
# broker answered every reading "no matching subscribers" and dropped it.
_FAST_RETRY_S = 0.5
_FAST_FOR_S = 60.0
_SLOW_RETRY_S = 30.0


def retry_delay(away_s: float) -> float:
    """Seconds before the next attempt to connect, the broker unreachable for
    `away_s` [s]: a restart is caught within a second; an outage of minutes
    costs a refused connection every 6-30 s."""
    if away_s < _FAST_FOR_S:
        return _FAST_RETRY_S
    return min(_SLOW_RETRY_S, away_s / 10)


def new_client(*, client_id: str, username: str, password: str, **options: Any) -> mqtt.Client:
    """An MQTT v5 client of the ingest session, acking by hand: paho never
    acks a message on receipt, only once it is stored (or, for
    ingest/mqtt_session.py, never: what the session holds stays the worker's)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                    manual_ack=True, **options)
    c.username_pw_set(username, password)
    return c


def session_properties(receive_maximum: int | None = None) -> Properties:
    """CONNECT's properties: the session outlives its connection (and keeps
    what arrives meanwhile) for INGEST_SESSION_EXPIRY."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = INGEST_SESSION_EXPIRY
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props


def subscribe(client: mqtt.Client) -> None:
    """The shared subscriptions, at QoS 1."""
    client.subscribe([(t, SubscribeOptions(qos=1)) for t in INGEST_SUBSCRIPTIONS])


class IngestClient:
    """A persistent MQTT v5 session on the shared subscription, acking by hand."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        client_id: str,
        inbox: queue.Queue[Received],
        receive_maximum: int,
        limits: decode.Limits,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._limits = limits
        self._lock = threading.Lock()
        self._generation = 0
        self._connected = threading.Event()
        self._on_state = on_state or (lambda s: None)
        self._host, self._port = host, port
        self._receive_maximum = receive_maximum
        c = new_client(client_id=client_id, username=username, password=password)
        self._away_since: float | None = None  # first failed attempt since the last connection
        self._retry_in(_FAST_RETRY_S, c)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self._client = c

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self._client.connect_async(
            self._host, self._port, keepalive=30, clean_start=False,
            properties=session_properties(self._receive_maximum),
        )
        self._client.loop_start()

    def stop(self, *, end_session: bool = False) -> None:
        """Disconnect.  The session (and whatever the broker queues for it)
        outlives us unless `end_session`, used when a worker is retired."""
        props = None
        if end_session:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        self._client.disconnect(properties=props)
        self._client.loop_stop()

    def leave_group(self) -> None:
        """Leave the shared subscription: the broker routes nothing more here."""
        self._client.unsubscribe(list(INGEST_SUBSCRIPTIONS))

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def generation(self) -> int:
        return self._generation

    # -- acks and publishes from the writer thread ---------------------------

    def ack(self, messages: list[Received]) -> int:
        """Ack messages of the current connection; those of an earlier one
        are redelivered by the broker (and deduplicated), so they are skipped:
        their message ids may already name other messages."""
        with self._lock:
            current = [m for m in messages if m.generation == self._generation and m.qos > 0]
            # We subscribe at QoS 1, so the broker sends nothing higher; a QoS 2
            # message would need paho's own PUBREC/PUBCOMP exchange.
            for m in current:
                if m.qos == 2:
                    self._client.ack(m.mid, m.qos)
            self._puback([m.mid for m in current if m.qos == 1])
        return len(current)

    def _puback(self, mids: list[int]) -> None:
        """PUBACK every mid in one socket write, through paho's private packet
        queue.  paho's public ack() makes a packet per message, each woken for
        and sent by paho's network thread, the thread that bounds this path:
        measured against this write it kept 62 % of the rate of single-reading
        messages (median of 9 runs), and no Python MQTT client was found whose
        public API acks a batch (docs/operating.md, "The MQTT v5 option").
        The joined bytes are the same PUBACK packets (MQTT 5 §3.4.2.1:
        remaining length 2 means success), queued so that they keep their
        order with everything else paho sends.  paho-mqtt is pinned below its
        next minor version, and tests/ingest/test_mqtt_acks.py checks that the
        broker took them."""
        queue_packet = getattr(self._client, "_packet_queue", None)
        if queue_packet is None or len(mids) < 2:
            for mid in mids:
                self._client.ack(mid, 1)
            return
        packet = b"".join(_PUBACK.pack(0x40, 2, mid) for mid in mids)
        queue_packet(0x40, packet, 0, 1)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain)

    # -- reconnecting -----------------------------------------------------------

    @staticmethod
    def _retry_in(delay: float, client: mqtt.Client) -> None:
        # Both bounds equal: paho waits exactly `delay` before its next attempt
        # (its doubling starts over at every call).  paho takes fractions.
        client.reconnect_delay_set(min_delay=delay, max_delay=delay)  # type: ignore[arg-type]

    def _away(self, client: mqtt.Client) -> None:
        """The broker could not be reached, or dropped us: schedule the next attempt."""
        now = time.monotonic()
        if self._away_since is None:
            self._away_since = now
        self._retry_in(retry_delay(now - self._away_since), client)

    # -- callbacks: tiny, never raising ---------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.error("broker refused the connection: %s", reason_code)
                self._away(client)
                self._on_state(f"refused: {reason_code}")
                return
            self._away_since = None
            self._retry_in(_FAST_RETRY_S, client)
            log.info(
                "connected to %s:%s (session present: %s); subscribing",
                self._host,
                self._port,
                flags.session_present,
            )
            # Whatever "session present" says: a restarted Mosquitto restores
            # the session but not its shared subscriptions.
            subscribe(client)
            self._connected.set()
            self._on_state("connected")
        except Exception:
            log.exception("on_connect failed")

    def _on_connect_fail(self, client, userdata) -> None:
        try:
            self._away(client)
        except Exception:
            log.exception("on_connect_fail failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            with self._lock:
                self._generation += 1
            self._connected.clear()
            self._away(client)
            log.warning("disconnected from broker (%s); reconnecting", reason_code)
            self._on_state("disconnected")
        except Exception:
            log.exception("on_disconnect failed")

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            try:
                item = receive(
                    msg.topic,
                    msg.payload,
                    datetime.now(UTC),
                    mid=msg.mid,
                    qos=msg.qos,
                    generation=self._generation,
                    retained=bool(msg.retain),
                    # Sent before and not acked: the writer counts its attempts.
                    redelivered=bool(msg.dup),
                    limits=self._limits,
                )
            except Exception as exc:
                # Never left unacked to come back and fail again (issue 10):
                # the writer keeps it as an internal error and acks it.
                log.exception("a message on %s could not be read; kept as internal_error",
                              getattr(msg, "topic", "?"))
                item = unreadable(msg.topic, msg.payload, datetime.now(UTC), exc, mid=msg.mid,
                                  qos=msg.qos, generation=self._generation)
            # Blocks when the writer is behind: backpressure, the broker keeps the rest.
            self._inbox.put(item)
        except Exception:
            log.exception(
                "dropping a message on %s that could not be queued (it stays unacked"
                " and the broker redelivers it)",
                getattr(msg, "topic", "?"),
            )
