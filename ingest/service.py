"""`vward ingest`: the broker thread queues (AMQP from RabbitMQ's quorum
queues, or MQTT), the writer (ingest/writer.py) batches, stores, commits, and
only then acks.  Here: which broker client, the worker's two threads, signals,
and retiring a worker; on SIGTERM it flushes, acks and exits."""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from ingest import decode
from ingest.mqtt import IngestClient
from ingest.pipeline import Received
from ingest.writer import Writer
from ward import broker_names, broker_users, redaction
from ward.settings import Settings

if TYPE_CHECKING:
    from ingest.amqp import AmqpIngest

    Edge = IngestClient | AmqpIngest
    Inbox = queue.Queue[Received] | queue.SimpleQueue[Received]

log = logging.getLogger("ingest")


def _retire(writer: Writer, client: Edge, stop: threading.Event) -> None:
    """Drain this worker's queued messages, leave the group, end the session
    (MQTT).  Over AMQP a worker leaving just stops consuming: what it holds
    unacked goes back to the queues for the others, so nothing is stranded."""
    if not client.wait_connected(30):
        log.error("cannot retire: the broker is unreachable")
        stop.set()
        return
    _wait_idle(writer, 2.0, stop)
    client.leave_group()
    _wait_idle(writer, 1.0, stop)
    if isinstance(client, IngestClient):
        log.info("retired: queue drained, left the shared subscription, session ended")
    else:
        log.info(
            "retired: stopped consuming and acked what was stored; a queue consumer holds"
            " no session, so nothing is stranded (the other workers take every message)"
        )
    writer.retired = True
    stop.set()


def _wait_idle(writer: Writer, quiet: float, stop: threading.Event) -> None:
    last = -1
    still_since = time.monotonic()
    while not stop.is_set():
        seen = writer.counts["messages"]
        if seen != last or not writer.inbox.empty():
            last, still_since = seen, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return
        time.sleep(0.1)


def _edge(settings: Settings, limits: decode.Limits) -> tuple[Edge, Inbox, str]:
    """The broker client of the configured broker, the inbox it fills, and
    where it connects.  Either broker's flow control bounds what the inbox
    holds: AMQP's prefetch, MQTT's Receive Maximum."""
    creds = broker_users.credentials(settings, broker_names.INGEST)
    if settings.broker == broker_names.RABBITMQ:
        from ingest.amqp import PREFETCH, AmqpIngest
        from ward.rabbitmq_config import amqp_urls

        urls = amqp_urls(settings)
        # Each of the three queues has a prefetch of its own (quorum queues
        # have no per-channel one): together they fit the inbox.
        prefetch = max(1, min(PREFETCH, settings.ingest_queue_size // len(broker_names.QUEUES)))
        # Unbounded in itself (the prefetch bounds it): a SimpleQueue costs the
        # two threads a fifth less CPU per message than a bounded Queue.
        simple: queue.SimpleQueue[Received] = queue.SimpleQueue()
        client: Edge = AmqpIngest(
            urls=urls,
            username=creds.username,
            password=creds.password,
            client_id=settings.ingest_client_id,
            inbox=simple,
            prefetch=prefetch,
            limits=limits,
        )
        return client, simple, "RabbitMQ " + ", ".join(u.split("@")[-1] for u in urls)
    # Receive Maximum below the inbox size: the broker never sends more than
    # we can hold, so the MQTT thread never blocks.
    receive_max = max(1, min(65535, settings.ingest_queue_size // 2))
    inbox: queue.Queue[Received] = queue.Queue(maxsize=settings.ingest_queue_size)
    client = IngestClient(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        username=creds.username,
        password=creds.password,
        client_id=settings.ingest_client_id,
        inbox=inbox,
        receive_maximum=receive_max,
        limits=limits,
    )
    return client, inbox, f"MQTT {settings.mqtt_host}:{settings.mqtt_port}"


def run(settings: Settings, *, retire: bool = False) -> int:
    limits = decode.Limits(
        max_payload_bytes=settings.max_payload_bytes,
        max_future=timedelta(seconds=settings.max_future_seconds),
        max_age=timedelta(days=settings.max_age_days),
    )
    client, inbox, where = _edge(settings, limits)
    stop = threading.Event()

    def _on_signal(signum, frame) -> None:
        log.info("signal %s: flushing and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    writer = Writer(settings, inbox, client, stop)
    writer.connection()  # wait for the database before taking any message
    log.info(
        "ingest worker %s: broker %s, database %s",
        settings.ingest_client_id,
        where,
        redaction.redact(settings.dsn),
    )
    client.start()
    thread = threading.Thread(target=writer.run, name="ingest-writer")
    thread.start()
    try:
        if retire:
            _retire(writer, client, stop)
        while thread.is_alive():
            thread.join(0.5)
    finally:
        stop.set()
        thread.join()
        client.stop(end_session=retire)
    log.info("ingest stopped")
    return 0
