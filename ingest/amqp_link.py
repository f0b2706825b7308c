"""AMQP connections kept open on any node of a list, and the publisher of
the devices' rejections; pika callbacks only (ingest/amqp.py runs them on its
IOLoop thread)."""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import pika
from pika.exceptions import AMQPError

from ward import broker_names as names
from ward.errors import ConfigError
from ward.retry import BROKER, Backoff

log = logging.getLogger("ingest.amqp")

_HEARTBEAT = 10  # [s] AMQP heartbeat: a node whose machine vanished is left within ~2x
_FEEDBACK_HELD = 10_000  # rejections held while the publisher is away (oldest dropped)
_PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")


def never_raises(fn: Callable[..., Any]) -> Callable[..., Any]:
    """For pika callbacks: an exception that escaped one would end the IOLoop
    and with it every connection; it is logged instead."""

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("%s failed", fn.__qualname__)
            return None

    return guarded


def parameters(url: str, *, username: str, password: str, name: str) -> pika.URLParameters:
    """Connection parameters for `url`; the service user's credentials unless
    the URL carries its own.  A URL that is not one is refused by name."""
    try:
        if not url.startswith(("amqp://", "amqps://")):
            raise ValueError("not amqp:// or amqps://")
        p = pika.URLParameters(url)
    except (ValueError, IndexError) as exc:
        shown = url.split("@")[-1]
        raise ConfigError(f"VWARD_AMQP_URLS: {shown!r} is not an AMQP URL ({exc})") from None
    if "@" not in url:
        p.credentials = pika.PlainCredentials(username, password)
    p.heartbeat = _HEARTBEAT
    p.connection_attempts = 1
    p.socket_timeout = 5
    p.blocked_connection_timeout = 60
    p.client_properties = {"connection_name": name}
    return p


class Link:
    """One connection kept open, on each node in turn: `on_open(connection)`
    when it opens, `on_lost()` when it closes; the owner calls `good()` once
    it works, which resets the backoff."""

    def __init__(self, role, ioloop, urls, params, on_open, on_lost, on_done) -> None:
        self.role, self._ioloop, self._urls, self._params = role, ioloop, urls, params
        self._on_open, self._on_lost, self._on_done = on_open, on_lost, on_done
        self._index = 0
        # Between attempts, on the next node each time; reset by a connection
        # that got to work (`good`).
        self._backoff = Backoff(BROKER)
        self._conn: pika.SelectConnection | None = None
        self._timer = None
        self.closing = False
        self.where = ""

    @never_raises
    def open(self) -> None:
        self._timer = None
        params = self._params(self._urls[self._index % len(self._urls)])
        self.where = f"amqp://{params.host}:{params.port}"
        self._conn = pika.SelectConnection(
            params,
            on_open_callback=self._opened,
            on_open_error_callback=self._failed,
            on_close_callback=self._closed,
            custom_ioloop=self._ioloop,
        )

    def good(self) -> None:
        if self._backoff.failing:
            log.info("%s: broker reachable again at %s", self.role, self.where)
        self._backoff.reset()

    @never_raises
    def close(self) -> None:
        self.closing = True
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
            self._timer = None
        conn = self._conn
        if conn is None or conn.is_closed:
            self._on_done()
        elif not conn.is_closing:
            try:
                conn.close()
            except AMQPError:
                self._on_done()

    @never_raises
    def _opened(self, conn) -> None:
        self._on_open(conn)

    @never_raises
    def _failed(self, conn, exc) -> None:
        self._conn = None
        self._retry(f"cannot connect to {self.where}: {exc!r}")

    @never_raises
    def _closed(self, conn, exc) -> None:
        self._conn = None
        self._on_lost()
        self._retry(f"connection to {self.where} lost: {exc!r}")

    def _retry(self, why: str) -> None:
        if self.closing:
            self._on_done()
            return
        first = not self._backoff.failing
        delay = self._backoff.next_delay()
        self._index += 1
        # Once per outage at warning; the attempts after it at debug.
        (log.warning if first else log.debug)(
            "%s: %s; trying %s in %.1f s",
            self.role,
            why,
            self._urls[self._index % len(self._urls)].split("@")[-1],
            delay,
        )
        self._timer = self._ioloop.call_later(delay, self.open)


class FeedbackPublisher:
    """Publishes to MQTT_EXCHANGE, persistent, in confirm mode: a message not
    confirmed when its connection dies is published again on the next one."""

    def __init__(self, ioloop, urls, params, on_done) -> None:
        self.link = Link("feedback", ioloop, urls, params, self._on_open, self._on_lost, on_done)
        self._channel = None
        self._held: deque[tuple[str, bytes]] = deque()
        self._unconfirmed: OrderedDict[int, tuple[str, bytes]] = OrderedDict()
        self._seq = 0
        self._dropped = 0

    @never_raises
    def send(self, key: str, payload: bytes) -> None:
        if len(self._held) >= _FEEDBACK_HELD:
            self._held.popleft()
            self._dropped += 1
            if self._dropped in (1, 100) or self._dropped % 10_000 == 0:
                log.warning("%d rejections not told to devices (broker away)", self._dropped)
        self._held.append((key, payload))
        self._drain()

    @never_raises
    def _on_open(self, conn) -> None:
        conn.channel(on_open_callback=self._on_channel)

    @never_raises
    def _on_channel(self, ch) -> None:
        ch.add_on_close_callback(self._on_channel_closed)
        ch.confirm_delivery(self._on_confirm, callback=lambda _: self._ready(ch))

    @never_raises
    def _on_channel_closed(self, ch, reason) -> None:
        """Closed by the broker (the exchange missing?): start again on a new
        connection, so that what is held is published there."""
        if not self.link.closing and ch.connection.is_open:
            log.error("the broker closed the feedback channel: %s", reason)
            ch.connection.close()

    @never_raises
    def _ready(self, ch) -> None:
        self._channel, self._seq = ch, 0
        self.link.good()
        self._drain()

    def _drain(self) -> None:
        ch = self._channel
        while self._held and ch is not None and ch.is_open:
            key, payload = self._held.popleft()
            try:
                ch.basic_publish(names.MQTT_EXCHANGE, key, payload, _PERSISTENT)
            except AMQPError:
                self._held.appendleft((key, payload))
                return
            self._seq += 1
            self._unconfirmed[self._seq] = (key, payload)

    @never_raises
    def _on_confirm(self, frame) -> None:
        m = frame.method
        tags = (
            [t for t in self._unconfirmed if t <= m.delivery_tag]
            if m.multiple
            else [m.delivery_tag]
        )
        for t in tags:
            item = self._unconfirmed.pop(t, None)
            if item is not None and isinstance(m, pika.spec.Basic.Nack):
                log.warning("the broker refused a rejection on %s", names.topic_of(item[0]))

    @never_raises
    def _on_lost(self) -> None:
        self._channel = None
        self._held.extendleft(reversed(self._unconfirmed.values()))
        self._unconfirmed.clear()
