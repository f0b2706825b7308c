"""pika callbacks only: consume RabbitMQ's quorum queues, turn each delivery
into a `Received`, queue it, and ack it when the writer says it is committed;
publish the devices' rejections with publisher confirms (conventions.md §1,
§3; the AMQP twin of ingest/mqtt.py).

One thread runs pika's IOLoop with three connections, each kept open on any
node of `VWARD_AMQP_URLS` in turn: one consumes the readings and status, one
the unrouted messages, one publishes.  The publisher apart, because RabbitMQ
blocks a connection that publishes while a memory or disk alarm is raised, and
a blocked consumer could not ack: the queues that raised the alarm would never
drain.  The unrouted queue apart, because a quorum queue that elects no leader
after a node's restart holds its basic.consume, and with it the whole channel,
for 60 s and then closes the connection (RabbitMQ 3.10, measured): the
readings must never wait on it.  The writer thread reaches the loop only through
`add_callback_threadsafe`.

pika, not aio-pika: measured draining a 50,000-message backlog from a quorum
queue with batch acks on this 2-core machine, pika 22,000-43,000 messages/s,
aio-pika 3,000-7,500 (docs/ingest.md, "From the broker")."""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import pika
from pika.adapters.select_connection import IOLoop
from pika.exceptions import AMQPError

from ingest import decode
from ingest.acks import AckLedger
from ingest.amqp_link import FeedbackPublisher, Link, never_raises, parameters
from ingest.pipeline import FEEDBACK_MAX_BYTES, Received, receive, unreadable
from ward import broker_names as names

log = logging.getLogger(__name__)
# pika narrates every connection step at INFO; this module says what matters.
logging.getLogger("pika").setLevel(logging.WARNING)

# Deliveries in flight per queue (unacked: in the inbox, or in the batch being
# committed).  Measured (docs/ingest.md, "From the broker").
PREFETCH = 1000
# [s] a consume may wait before we start again on a new connection.  After a node's
# restart a quorum queue whose member is still recovering can hold a basic.consume
# until the broker gives up on it (60 s, INTERNAL_ERROR); a fresh one succeeds as soon
# as the member is up, and a reconnect costs only redeliveries (harmless).
_CONSUME_WAIT = 10.0
_TOPICS_HELD = 100_000  # routing key -> topic, cached (one per device and kind)
_DATA_QUEUES = (names.READINGS_QUEUE, names.STATUS_QUEUE)  # on the consumer connection
_UNROUTED_PREFETCH = 100  # unrouted messages are few: a device's mistakes


def _ack(ch, ledger: AckLedger, tags: list[int]) -> None:
    """Ack ``tags`` on ``ch``, the channel that delivered them, in as few frames
    as ``ledger`` allows (one multiple ack up to the highest tag below which
    all are done, the rest singly).  On the loop thread, for either consuming
    connection."""
    if ch is None or not ch.is_open:
        return  # that channel is gone: the broker has redelivered them
    plan = ledger.plan(tags)
    try:
        if plan.multiple is not None:
            ch.basic_ack(plan.multiple, multiple=True)
        for tag in plan.singles:
            ch.basic_ack(tag)
    except AMQPError as exc:
        log.warning("could not ack (%r); the broker will redeliver", exc)


class AmqpIngest:
    """Competing consumer of the ward's quorum queues, acking by hand."""

    def __init__(
        self,
        *,
        urls: list[str],
        username: str,
        password: str,
        client_id: str,
        inbox: queue.SimpleQueue[Received],
        prefetch: int,
        limits: decode.Limits,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("no AMQP URL to connect to")
        self._inbox, self._limits, self._prefetch = inbox, limits, prefetch
        self._on_state = on_state or (lambda s: None)
        self._ioloop = IOLoop()
        self._generation = 0
        self._channel = None
        self._ledger = AckLedger()
        self._queue_of: dict[str, str] = {}  # consumer tag -> queue
        self._topics: dict[str, str] = {}
        self._consuming: set[str | None] = set()  # queues whose consume-ok came
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-amqp", daemon=True)

        def params(url: str, role: str) -> pika.URLParameters:
            return parameters(url, username=username, password=password, name=f"{client_id} {role}")

        for url in urls:
            params(url, "check")  # a bad URL is refused now, not at its turn

        self._consumer = Link(
            "consumer",
            self._ioloop,
            urls,
            partial(params, role="consumer"),
            self._on_consumer_open,
            self._on_consumer_lost,
            self._on_link_done,
        )
        # The unrouted queue's consumer: its own connection, channel, tags and ledger;
        # its deliveries carry a negative generation so that acks find their channel.
        self._ugeneration = 0
        self._uchannel = None
        self._uledger = AckLedger()
        self._unrouted = Link(
            "unrouted",
            self._ioloop,
            urls,
            partial(params, role="unrouted"),
            self._on_unrouted_open,
            self._on_unrouted_lost,
            self._on_link_done,
        )
        self._feedback = FeedbackPublisher(
            self._ioloop, urls, partial(params, role="feedback"), self._on_link_done
        )
        self._links_open = 3

    # -- lifecycle (any thread) ---------------------------------------------

    def start(self) -> None:
        self._consumer.open()
        self._unrouted.open()
        self._feedback.link.open()
        self._thread.start()

    def stop(self, *, end_session: bool = False, timeout: float = 5.0) -> None:
        """Close both connections after the acks and publishes already asked
        for (the loop runs callbacks in order).  Unacked deliveries go back to
        their queues at once, for the other workers.  `end_session` is the MQTT
        edge's: a queue consumer has no session to end."""
        self._call(self._shutdown)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the broker connections did not close within %.0f s", timeout)

    def leave_group(self) -> None:
        """Stop consuming (`--retire`): nothing more is delivered here; what
        was delivered is still committed and acked on this channel."""
        self._call(self._cancel_consumers)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def generation(self) -> int:
        return self._generation

    # -- from the writer thread ---------------------------------------------

    def ack(self, messages: list[Received]) -> int:
        """Ack committed deliveries of the current channel; those of an
        earlier one were redelivered by the broker (and are deduplicated), and
        their tags may already name other deliveries, so they are skipped."""
        gen, ugen = self._generation, -self._ugeneration
        tags = [m.mid for m in messages if m.generation == gen]
        utags = [m.mid for m in messages if m.generation == ugen]
        if tags:
            self._call(partial(self._ack_now, gen, tags))
        if utags:
            self._call(partial(self._ack_unrouted, ugen, utags))
        return len(tags) + len(utags)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Send to MQTT subscribers of `topic` (a device's rejections)."""
        if len(payload) > FEEDBACK_MAX_BYTES:
            log.warning("not publishing %d bytes on %s: over the cap", len(payload), topic)
            return
        self._call(partial(self._feedback.send, names.routing_key(topic), payload))

    # -- on the loop thread ---------------------------------------------------

    def _call(self, fn: Callable[[], None]) -> None:
        self._ioloop.add_callback_threadsafe(fn)

    def _run(self) -> None:
        try:
            self._ioloop.start()
        except Exception:
            # Without its loop the worker would sit idle: stop it (flushing
            # and acking nothing more), for its supervisor to start again.
            log.exception("the AMQP loop failed; stopping the worker")
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            self._connected.clear()

    @never_raises
    def _shutdown(self) -> None:
        self._consumer.close()
        self._unrouted.close()
        self._feedback.link.close()
        self._ioloop.call_later(3.0, self._ioloop.stop)  # whatever a node does

    @never_raises
    def _on_link_done(self) -> None:
        self._links_open -= 1
        if self._links_open == 0:
            self._ioloop.stop()

    @never_raises
    def _on_consumer_open(self, conn) -> None:
        conn.channel(on_open_callback=self._on_channel)

    @never_raises
    def _on_channel(self, ch) -> None:
        self._generation += 1
        self._channel, self._ledger = ch, AckLedger()
        self._queue_of, self._consuming = {}, set()
        ch.add_on_close_callback(self._on_channel_closed)
        ch.add_on_cancel_callback(self._on_cancelled)
        ch.basic_qos(prefetch_count=self._prefetch, callback=lambda _: self._consume(ch))
        self._ioloop.call_later(_CONSUME_WAIT, partial(self._check_consuming, ch))

    def _consume(self, ch) -> None:
        for q in _DATA_QUEUES:
            tag = ch.basic_consume(q, self._on_message, callback=self._on_consume_ok)
            self._queue_of[tag] = q

    @never_raises
    def _on_consume_ok(self, frame) -> None:
        """Working once the readings flow; said in full once all three do (a
        quorum queue without a leader may keep its consume-ok waiting)."""
        queue_name = self._queue_of.get(frame.method.consumer_tag)
        self._consuming.add(queue_name)
        if queue_name == names.READINGS_QUEUE:
            self._consumer.good()
            self._connected.set()
            self._on_state("connected")
        if len(self._consuming) == len(_DATA_QUEUES):
            log.info(
                "connected to %s: consuming %s (prefetch %d)",
                self._consumer.where,
                ", ".join(_DATA_QUEUES),
                self._prefetch,
            )

    @never_raises
    def _check_consuming(self, ch) -> None:
        waiting = [q for q in _DATA_QUEUES if q not in self._consuming]
        if ch is self._channel and waiting:
            log.warning(
                "connected to %s, consuming %s; the broker has not let it consume %s for"
                " %.0f s (a quorum queue still recovering?): starting again",
                self._consumer.where,
                ", ".join(q for q in _DATA_QUEUES if q in self._consuming) or "nothing",
                ", ".join(waiting),
                _CONSUME_WAIT,
            )
            if ch.connection.is_open:
                ch.connection.close()

    @never_raises
    def _on_channel_closed(self, ch, reason) -> None:
        """The broker closed the channel (a queue missing, an ack it refused):
        start again on a new connection, so every delivery is redelivered."""
        self._channel = None
        if not self._consumer.closing and ch.connection.is_open:
            log.error("the broker closed the consuming channel: %s", reason)
            ch.connection.close()

    @never_raises
    def _on_cancelled(self, frame) -> None:
        log.warning("the broker cancelled a consumer (queue deleted?); reconnecting")
        if self._channel is not None and self._channel.connection.is_open:
            self._channel.connection.close()

    @never_raises
    def _on_consumer_lost(self) -> None:
        self._generation += 1
        self._channel = None
        self._connected.clear()
        self._on_state("disconnected")

    @never_raises
    def _cancel_consumers(self) -> None:
        ch = self._channel
        if ch is not None and ch.is_open:
            for tag in list(self._queue_of):
                ch.basic_cancel(tag)
        uch = self._uchannel
        if uch is not None and uch.is_open:
            for tag in list(uch.consumer_tags):
                uch.basic_cancel(tag)
        self._connected.clear()

    # -- the unrouted queue's connection ------------------------------------

    @never_raises
    def _on_unrouted_open(self, conn) -> None:
        conn.channel(on_open_callback=self._on_unrouted_channel)

    @never_raises
    def _on_unrouted_channel(self, ch) -> None:
        self._ugeneration += 1
        self._uchannel, self._uledger = ch, AckLedger()
        ch.add_on_close_callback(self._on_unrouted_channel_closed)

        def consumed(_frame) -> None:
            self._unrouted.good()
            log.info("connected to %s: consuming %s", self._unrouted.where,
                     names.UNROUTED_QUEUE)

        def consume(_frame) -> None:
            ch.basic_consume(names.UNROUTED_QUEUE, self._on_unrouted_message,
                             callback=consumed)

        ch.basic_qos(prefetch_count=_UNROUTED_PREFETCH, callback=consume)

    @never_raises
    def _on_unrouted_channel_closed(self, ch, reason) -> None:
        self._uchannel = None
        if not self._unrouted.closing and ch.connection.is_open:
            log.warning("the broker closed the unrouted queue's channel: %s", reason)
            ch.connection.close()

    @never_raises
    def _on_unrouted_lost(self) -> None:
        self._ugeneration += 1
        self._uchannel = None

    @never_raises
    def _ack_unrouted(self, ugen: int, tags: list[int]) -> None:
        if ugen == -self._ugeneration:
            _ack(self._uchannel, self._uledger, tags)

    def _on_unrouted_message(self, ch, method, properties, body: bytes) -> None:
        self._deliver(method, body, -self._ugeneration, unrouted=True)

    @never_raises
    def _ack_now(self, gen: int, tags: list[int]) -> None:
        if gen == self._generation:
            _ack(self._channel, self._ledger, tags)

    def _on_message(self, ch, method, properties, body: bytes) -> None:
        self._deliver(method, body, self._generation, unrouted=False)

    def _deliver(self, method, body: bytes, generation: int, *, unrouted: bool) -> None:
        topic: str | None = None
        try:
            topic = self._topics.get(method.routing_key)
            if topic is None:
                if len(self._topics) >= _TOPICS_HELD:
                    self._topics.clear()
                topic = self._topics[method.routing_key] = names.topic_of(method.routing_key)
            item = receive(
                topic,
                body,
                datetime.now(UTC),
                mid=method.delivery_tag,
                generation=generation,
                unrouted=unrouted,
                # Delivered before and not acked: the writer counts its attempts.
                redelivered=method.redelivered,
                limits=self._limits,
            )
        except Exception as exc:
            # Never left unacked to come back and fail again (issue 10): the
            # writer keeps it as an internal error and acks it.
            log.exception("a delivery on %s could not be read; kept as internal_error", topic)
            where = topic or str(getattr(method, "routing_key", "?"))
            item = unreadable(
                where, body, datetime.now(UTC), exc, mid=method.delivery_tag, generation=generation
            )
        self._inbox.put(item)  # the prefetch bounds what it holds
