"""`vward bench ingest`: ingest throughput through the configured broker,
beside the raw COPY rate into the same hypertable and that broker's raw rate
to one consumer, all measured in the same run on services of its own.

The consumer is measured, not the publisher: messages are queued at the
broker first (in RabbitMQ's readings queue, or for a persistent MQTT
session), then the consumer is started and timed until it has taken them
all.  RabbitMQ's raw rate is an AMQP consumer (pika, ingest's prefetch)
draining the readings queue with batch acks and no database; Mosquitto's a
paho subscriber."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest import mqtt_session
from ward import broker_names, broker_users, db, devices, scratch
from ward.broker import write_credentials
from ward.broker_names import is_service_user, mqtt_protocol
from ward.settings import Settings
from ward.topics import readings_topic, rejections_topic


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _payloads(n_messages: int, per_message: int, start: datetime, tag: str) -> list[bytes]:
    out = []
    k = 0
    for m in range(n_messages):
        readings = []
        for _ in range(per_message):
            t = start + timedelta(milliseconds=k)
            readings.append(
                {"time": _iso(t), "type": "heart_rate", "value": 60 + k % 40, "unit": "/min"}
            )
            k += 1
        out.append(json.dumps({"id": f"{tag}-{m}", "readings": readings}).encode())
    return out


def _publish_all(
    settings: Settings,
    device_id: str,
    password: str,
    payloads: list[bytes],
    topic: str | None = None,
) -> None:
    """Publish QoS 1, in the MQTT version the configured broker speaks, and
    wait until the broker has acked every message."""
    # A device's client id is its id; a service user's begins with its name.
    client_id = f"{device_id}-bench-pub" if is_service_user(device_id) else device_id
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=mqtt_protocol(settings))
    c.username_pw_set(device_id, password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(settings.mqtt_host, settings.mqtt_port)
    c.loop_start()
    topic = topic or readings_topic(device_id)
    infos = [c.publish(topic, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def raw_copy_rate(settings: Settings, n: int) -> float:
    """Rows/s of COPY straight into the observations hypertable."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [
        (
            start + timedelta(milliseconds=i),
            "bench-copy",
            "bench-copy-dev",
            "heart_rate",
            60.0 + i % 40,
            start,
        )
        for i in range(n)
    ]
    with psycopg.connect(settings.dsn) as conn:
        t0 = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY observations (time, patient_id, device_id, type, value, received_at)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["timestamptz", "text", "text", "text", "float8", "timestamptz"])
            for r in rows:
                copy.write_row(r)
        conn.commit()
        elapsed = time.perf_counter() - t0
        conn.execute("DELETE FROM observations WHERE device_id = 'bench-copy-dev'")
        conn.commit()
    return n / elapsed


def raw_broker_rate(settings: Settings, device_id: str, password: str, n: int) -> float:
    """Messages/s from the broker to one persistent QoS 1 subscriber (paho),
    for messages already queued at the broker.  The topic is one that the
    ingest workers' session does not receive (a device's rejections, sent by
    the ingest user, read by the device), so it measures the broker and a
    plain paho consumer alone."""
    topic = rejections_topic(device_id)
    ingest = broker_users.credentials(settings, broker_names.INGEST)
    got = threading.Event()
    count = [0]
    first = [0.0]

    def on_message(c, u, msg):
        if count[0] == 0:
            first[0] = time.perf_counter()
        count[0] += 1
        if count[0] >= n:
            got.set()

    def make() -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(device_id, password)
        return c

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    sub = make()
    sub.connect(settings.mqtt_host, settings.mqtt_port, clean_start=True, properties=props)
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    time.sleep(0.5)
    sub.disconnect()
    sub.loop_stop()
    _publish_all(settings, ingest.username, ingest.password,
                 _payloads(n, 1, datetime.now(UTC), "raw"), topic=topic)
    sub = make()
    sub.on_message = on_message
    t0 = time.perf_counter()
    sub.connect(settings.mqtt_host, settings.mqtt_port, clean_start=False, properties=props)
    sub.loop_start()
    if not got.wait(300):
        raise RuntimeError(f"raw subscriber got {count[0]} of {n}")
    elapsed = time.perf_counter() - t0
    sub.disconnect()
    sub.loop_stop()
    return n / elapsed


def raw_amqp_rate(settings: Settings, device_id: str, password: str, n: int) -> float:
    """Messages/s from RabbitMQ's readings queue to one AMQP consumer that acks
    in batches (ingest's prefetch, half of it per ack) and stores nothing,
    from its first delivery to its last.  The messages are published by a
    device over MQTT first, as ingest's are."""
    import pika

    from ingest.amqp import PREFETCH
    from ingest.amqp_link import parameters
    from ward.rabbitmq_config import amqp_urls

    _publish_all(
        settings, device_id, password, _payloads(n, 1, datetime.now(UTC) - timedelta(days=2), "r")
    )
    ingest = broker_users.credentials(settings, broker_names.INGEST)
    conn = pika.BlockingConnection(
        parameters(
            amqp_urls(settings)[0],
            username=ingest.username,
            password=ingest.password,
            name="vward bench raw consumer",
        )
    )
    ch = conn.channel()
    ch.basic_qos(prefetch_count=PREFETCH)
    every = max(1, PREFETCH // 2)
    state = {"got": 0, "first": 0.0, "last": 0.0}

    def on_message(channel, method, properties, body) -> None:
        state["got"] += 1
        if state["got"] == 1:
            state["first"] = time.perf_counter()
        if state["got"] % every == 0 or state["got"] == n:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if state["got"] == n:
            state["last"] = time.perf_counter()
            channel.stop_consuming()

    ch.basic_consume(broker_names.READINGS_QUEUE, on_message)
    conn.call_later(300, ch.stop_consuming)
    ch.start_consuming()
    conn.close()
    if state["got"] < n:
        raise RuntimeError(f"raw consumer got {state['got']} of {n}")
    return (n - 1) / (state["last"] - state["first"])


def _count(conn: psycopg.Connection, device_id: str) -> int:
    return conn.execute(
        "SELECT count(*) FROM observations WHERE device_id = %s", (device_id,)
    ).fetchone()[0]


def _latest(conn: psycopg.Connection, device_id: str) -> datetime | None:
    """Newest stored time: an index probe, cheap enough to poll without
    stealing the CPU the benchmark measures."""
    return conn.execute(
        "SELECT max(time) FROM observations WHERE device_id = %s AND type = 'heart_rate'",
        (device_id,),
    ).fetchone()[0]


def ingest_rate(
    settings: Settings,
    device_id: str,
    password: str,
    n_messages: int,
    per_message: int,
    tag: str,
    verbose: bool = False,
) -> tuple[float, float]:
    """(readings/s, messages/s) of `vward ingest` draining a queued backlog."""
    start = datetime.now(UTC) - timedelta(days=1, hours=len(tag))
    payloads = _payloads(n_messages, per_message, start, tag)
    last = start + timedelta(milliseconds=n_messages * per_message - 1)
    _publish_all(settings, device_id, password, payloads)
    want = n_messages * per_message
    env = {**settings.as_env(), "PATH": "/usr/bin:/bin"}
    log = settings.home / f"bench-ingest-{tag}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ward.cli", "ingest"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        with psycopg.connect(settings.dsn, autocommit=True) as conn:
            before = _count(conn, device_id)
            deadline = time.monotonic() + 600
            while _count(conn, device_id) == before:
                if time.monotonic() > deadline:
                    raise RuntimeError("ingest stored nothing")
                time.sleep(0.01)
            t0, c0 = time.perf_counter(), _count(conn, device_id)
            while (_latest(conn, device_id) or start) < last:
                if time.monotonic() > deadline:
                    raise RuntimeError("ingest did not store the whole backlog")
                time.sleep(0.01)
            elapsed = time.perf_counter() - t0
            stored = _count(conn, device_id) - before
            if stored != want:
                raise RuntimeError(f"ingest stored {stored} of {want} readings")
    finally:
        proc.terminate()
        proc.wait(60)
        if verbose:
            print(log.read_text(), flush=True)
    done = before + want - c0
    return done / elapsed, done / per_message / elapsed


def run(
    quick: bool = False, verbose: bool = False, broker: str = broker_names.RABBITMQ
) -> dict[str, float]:
    n_single = 5_000 if quick else 30_000
    n_multi = 200 if quick else 4_000
    n_copy = 20_000 if quick else 200_000
    with scratch.running("vward-bench-", broker=broker,
                         ingest_session=mqtt_session.ensure) as settings:
        with db.connect(settings) as conn:
            pw = devices.register_devices(
                conn,
                [
                    devices.NewDevice("bench-dev-2", "bench-p2", "bench"),
                    devices.NewDevice("bench-dev-3", "bench-p3", "bench"),
                ],
                valid_from=datetime.now(UTC) - timedelta(days=3),
            )
            write_credentials(settings, devices.password_hashes(conn))
        time.sleep(0.3)
        out: dict[str, float] = {}
        print(f"raw COPY of {n_copy:,} rows ...", flush=True)
        out["copy_rows_s"] = raw_copy_rate(settings, n_copy)
        print(f"raw {settings.broker} → one consumer, {n_single:,} messages ...", flush=True)
        if settings.broker == broker_names.RABBITMQ:
            dev = "bench-dev-2"
            out["broker_msgs_s"] = raw_amqp_rate(settings, dev, pw[dev], n_single)
        else:
            dev = "bench-dev-3"
            out["broker_msgs_s"] = raw_broker_rate(settings, dev, pw[dev], n_single)
        print(f"ingest, {n_single:,} single-reading messages ...", flush=True)
        out["single_readings_s"], out["single_msgs_s"] = ingest_rate(
            settings, "bench-dev-2", pw["bench-dev-2"], n_single, 1, "s", verbose
        )
        print(f"ingest, {n_multi:,} messages of 50 readings ...", flush=True)
        out["multi_readings_s"], out["multi_msgs_s"] = ingest_rate(
            settings, "bench-dev-3", pw["bench-dev-3"], n_multi, 50, "mm", verbose
        )
        return out


def format_report(r: dict[str, float], broker: str = broker_names.RABBITMQ) -> str:
    raw = (
        "raw RabbitMQ → one AMQP consumer"
        if broker == broker_names.RABBITMQ
        else "raw broker → one subscriber"
    )
    return "\n".join(
        [
            "ingest benchmark (2-core machine figures vary run to run; ratios are within one run)",
            f"  raw COPY into observations        {r['copy_rows_s']:>10,.0f} rows/s",
            f"  {raw:<34}{r['broker_msgs_s']:>10,.0f} messages/s",
            f"  ingest, 1-reading messages        {r['single_msgs_s']:>10,.0f} messages/s"
            f"  = {r['single_readings_s']:,.0f} readings/s",
            f"  ingest, 50-reading messages       {r['multi_msgs_s']:>10,.0f} messages/s"
            f"  = {r['multi_readings_s']:,.0f} readings/s",
            f"  1-reading ingest / raw broker     {r['single_msgs_s'] / r['broker_msgs_s']:>10.0%}"
            "   (aim ≥ 70 %)",
            f"  50-reading ingest / raw COPY      {r['multi_readings_s'] / r['copy_rows_s']:>10.0%}"
            "   (aim ≥ 50 %)",
        ]
    )


def main(args, settings: Settings) -> int:
    result = run(quick=args.quick, verbose=args.verbose, broker=settings.broker)
    print(format_report(result, settings.broker))
    return 0
