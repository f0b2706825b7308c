"""pika only: the alerts outbox's publisher on RabbitMQ (`VWARD_BROKER=rabbitmq`).

Each alert event goes to the MQTT plugin's exchange with its topic's routing
key, persistent, on a channel in confirm mode; `publish` returns only when the
broker has confirmed every message of the batch, so the outbox moves its
watermark exactly as it did on MQTT PUBACKs (at least once).  MQTT
subscribers of the topic receive the events.

One thread runs pika's IOLoop and keeps one connection open, on each node of
`VWARD_AMQP_URLS` in turn; the engine's thread reaches it only through
`add_callback_threadsafe` and waits on an Event, with a timeout, so a broker
that never answers holds the engine up no longer than that (and a stop never
waits on the broker)."""

from __future__ import annotations

import logging
import threading
from functools import partial

import pika
from pika.adapters.select_connection import IOLoop
from pika.exceptions import AMQPError

from alerts.errors import OutboxError
from ward import broker_names as names
from ward.retry import BROKER, Backoff

log = logging.getLogger("alerts.outbox")
# pika logs every failed connection attempt at ERROR; _retry says it once per outage.
logging.getLogger("pika").setLevel(logging.CRITICAL)

_HEARTBEAT = 10  # [s] a node whose machine vanished is left within ~2x
_BLOCKED_S = 30  # [s] a connection blocked by a memory or disk alarm is given up after
_STOP_S = 3.0  # [s] a stop waits this long for the connection to close
_PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")


class _Batch:
    """One `publish` call: its unconfirmed delivery tags and how it ended."""

    def __init__(self, messages: list[tuple[str, bytes]]) -> None:
        self.messages = messages
        self.pending: set[int] = set()
        self.error: str | None = None
        self.done = threading.Event()

    def fail(self, why: str) -> None:
        if not self.done.is_set():
            self.error = why
            self.done.set()


class AmqpPublisher:
    """Publishes batches to MQTT_EXCHANGE and waits for the broker's confirms."""

    def __init__(self, urls: list[str], *, username: str, password: str, name: str) -> None:
        if not urls:
            raise ValueError("no AMQP URL to connect to")
        self._urls, self._username, self._password, self._name = urls, username, password, name
        self._ioloop = IOLoop()
        self._thread = threading.Thread(target=self._run, name="outbox-amqp", daemon=True)
        self._index = 0
        # Between attempts, on the next node each time; reset by a connection
        # whose confirm channel opened.
        self._backoff = Backoff(BROKER)
        self._conn: pika.SelectConnection | None = None
        self._channel = None
        self._seq = 0  # delivery tag of the channel's latest publish
        self._batch: _Batch | None = None
        self._timer = None
        self._closing = False
        self._ready = threading.Event()
        self._lock = threading.Lock()  # add_callback_threadsafe never meets a closed loop
        self._loop_ended = False
        self.where = ""

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    # -- from the engine's thread ---------------------------------------------

    def start(self) -> None:
        self._open()
        self._thread.start()

    def stop(self) -> None:
        if self._thread.ident is None or not self._call(self._shutdown):
            return
        self._thread.join(_STOP_S + 1)
        if self._thread.is_alive():
            log.warning("the broker connection did not close within %.0f s", _STOP_S)

    def publish(self, messages: list[tuple[str, bytes]], *, timeout: float) -> None:
        """Publish (topic, body) pairs and return once the broker has
        confirmed them all; OutboxError if it refused one, the connection
        went, or `timeout` [s] passed first."""
        batch = _Batch(messages)
        if not self._call(partial(self._send, batch)):
            raise OutboxError("the outbox's AMQP loop has ended")
        if not batch.done.wait(timeout):
            self._call(partial(self._forget, batch))
            raise OutboxError(f"the broker did not confirm {len(batch.pending)} of"
                              f" {len(messages)} alert events within {timeout:.0f} s")
        if batch.error is not None:
            raise OutboxError(batch.error)

    def _call(self, fn) -> bool:
        """Run fn on the loop thread; False if the loop has ended."""
        with self._lock:
            if self._loop_ended:
                return False
            self._ioloop.add_callback_threadsafe(fn)
            return True

    # -- on the loop thread ---------------------------------------------------

    def _run(self) -> None:
        try:
            self._ioloop.start()
        except Exception:
            log.exception("the outbox's AMQP loop failed")
        finally:
            self._ready.clear()
            with self._lock:
                self._loop_ended = True
                self._ioloop.close()  # its wake-up sockets

    def _params(self) -> pika.URLParameters:
        url = self._urls[self._index % len(self._urls)]
        p = pika.URLParameters(url)
        if "@" not in url:
            p.credentials = pika.PlainCredentials(self._username, self._password)
        p.heartbeat = _HEARTBEAT
        p.connection_attempts = 1
        p.socket_timeout = 5
        p.blocked_connection_timeout = _BLOCKED_S
        p.client_properties = {"connection_name": self._name}
        self.where = f"amqp://{p.host}:{p.port}"
        return p

    def _open(self) -> None:
        self._timer = None
        if self._closing:
            return
        self._conn = pika.SelectConnection(
            self._params(),
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_failed,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )

    def _on_channel(self, ch) -> None:
        ch.add_on_close_callback(self._on_channel_closed)
        ch.confirm_delivery(self._on_confirm, callback=lambda _: self._on_confirming(ch))

    def _on_confirming(self, ch) -> None:
        self._channel, self._seq = ch, 0
        self._backoff.reset()
        log.info("connected to the broker at %s", self.where)
        self._ready.set()

    def _send(self, batch: _Batch) -> None:
        ch = self._channel
        if ch is None or not ch.is_open:
            batch.fail(f"not connected to the broker ({self.where})")
            return
        self._batch = batch
        try:
            for topic, body in batch.messages:
                ch.basic_publish(names.MQTT_EXCHANGE, names.routing_key(topic), body,
                                 _PERSISTENT)
                self._seq += 1
                batch.pending.add(self._seq)
        except AMQPError as exc:
            batch.fail(f"cannot publish to {self.where}: {exc!r}")
        if not batch.pending:
            batch.done.set()

    def _on_confirm(self, frame) -> None:
        batch, m = self._batch, frame.method
        if batch is None:
            return  # a batch given up on: its events go out again with the next
        tags = ({t for t in batch.pending if t <= m.delivery_tag} if m.multiple
                else {m.delivery_tag} & batch.pending)
        batch.pending -= tags
        if tags and isinstance(m, pika.spec.Basic.Nack):
            batch.fail(f"the broker refused {len(tags)} alert events")
        elif not batch.pending:
            batch.done.set()
        if batch.done.is_set():
            self._batch = None

    def _forget(self, batch: _Batch) -> None:
        if self._batch is batch:
            self._batch = None

    def _on_channel_closed(self, ch, reason) -> None:
        self._lost(f"the broker closed the channel: {reason!r}")
        if not self._closing and ch.connection.is_open:
            ch.connection.close()  # a new connection, a new channel

    def _lost(self, why: str) -> None:
        self._channel = None
        self._ready.clear()
        if self._batch is not None:
            self._batch.fail(f"{why} before every confirm")
            self._batch = None

    def _on_failed(self, conn, exc) -> None:
        self._conn = None
        self._retry(f"cannot connect to {self.where}: {exc!r}")

    def _on_closed(self, conn, exc) -> None:
        self._conn = None
        self._lost(f"connection to {self.where} lost: {exc!r}")
        self._retry(f"connection to {self.where} lost: {exc!r}")

    def _retry(self, why: str) -> None:
        if self._closing:
            self._ioloop.stop()
            return
        first = not self._backoff.failing
        delay = self._backoff.next_delay()
        self._index += 1
        # Once per outage at warning; the attempts after it at debug.
        (log.warning if first else log.debug)(
            "%s; trying %s in %.1f s", why,
            self._urls[self._index % len(self._urls)].split("@")[-1], delay)
        self._timer = self._ioloop.call_later(delay, self._open)

    def _shutdown(self) -> None:
        self._closing = True
        self._ready.clear()
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
            self._timer = None
        conn = self._conn
        if conn is None or conn.is_closed:
            self._ioloop.stop()
            return
        self._ioloop.call_later(_STOP_S, self._ioloop.stop)  # whatever the node does
        if not conn.is_closing:
            try:
                conn.close()
            except AMQPError:
                self._ioloop.stop()
