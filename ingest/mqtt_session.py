"""The ingest worker's persistent MQTT session, made before any worker runs
(`VWARD_BROKER=mqtt`): `vward up` calls `ensure` once Mosquitto is up, so
that readings published while no worker is connected are queued for it
rather than answered "no matching subscribers" and dropped (MQTT keeps
messages only for subscriptions that exist).  The client is ingest/mqtt.py's,
with the worker's client id, user, session and subscriptions."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ingest.mqtt import new_client, session_properties, subscribe
from ward import broker_names, broker_users, db, health, heartbeats
from ward.domain import INGEST_SUBSCRIPTIONS
from ward.errors import ServiceError
from ward.settings import Settings

_ANSWER_S = 10  # [s] the broker has to answer CONNECT and SUBSCRIBE


@dataclass(slots=True)
class _Answer:
    """What the broker said, filled in by paho's callbacks."""

    done: threading.Event = field(default_factory=threading.Event)
    rc: Any = None
    granted: Any = None
    dropped: Any = None


def ensure(settings: Settings, *, broker_started: bool = True) -> str:
    """Make sure the first ingest worker's session and its shared subscription
    exist at the broker.  Returns a line for the operator.

    It subscribes whatever "session present" says: Mosquitto restores a
    session from its persistence file after a crash, but not its shared
    subscriptions (issue 9).  It connects with the worker's client id, which
    would push a connected worker off (a session takeover); so on a broker
    that was already running (`broker_started` false), where the subscription
    lives as long as the session, it leaves the session alone while the
    worker's heartbeat says it runs: the worker subscribes on every connect.
    A worker that takes the session over meanwhile ends our connection: the
    worker then holds the session and subscribes, which is as good."""
    worker = settings.ingest_client_id
    if not broker_started and _worker_running(settings):
        return f"ingest worker {worker} is running: its session is left to it"
    creds = broker_users.credentials(settings, broker_names.INGEST)
    # manual_ack (new_client): whatever the session holds is sent to us as soon
    # as we connect, and must stay unacked, for the worker.
    client = new_client(client_id=worker, username=creds.username, password=creds.password,
                        reconnect_on_failure=False)
    answer = _listen(client)
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10,
                       clean_start=False, properties=session_properties())
    except OSError as exc:
        raise ServiceError(
            f"cannot reach the broker at {settings.mqtt_host}:{settings.mqtt_port}: {exc}"
        ) from exc
    client.loop_start()
    try:
        if not answer.done.wait(_ANSWER_S):
            raise ServiceError("the broker did not answer while creating the ingest session")
        return _judge(answer, worker, creds.username)
    finally:
        client.disconnect()
        client.loop_stop()


def _listen(client: Any) -> _Answer:
    answer = _Answer()

    def on_connect(c, userdata, flags, reason_code, properties):
        answer.rc = reason_code
        if reason_code.is_failure:
            answer.done.set()
            return
        subscribe(c)

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        answer.granted = reason_codes
        answer.done.set()

    def on_disconnect(c, userdata, flags, reason_code, properties):
        if answer.dropped is None:
            answer.dropped = reason_code
        answer.done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_disconnect = on_disconnect
    return answer


def _judge(answer: _Answer, worker: str, username: str) -> str:
    if answer.rc is None:
        raise ServiceError("the broker closed the connection before answering it:"
                           f" {answer.dropped}")
    if answer.rc.is_failure:
        raise ServiceError(f"the broker refused the ward's ingest user {username}: {answer.rc}")
    if answer.granted is not None:
        refused = [str(g) for g in answer.granted if g.is_failure]
        if refused:
            raise ServiceError(f"the broker refused the ingest subscriptions: {', '.join(refused)}")
        return f"ingest session {worker} subscribed to {', '.join(INGEST_SUBSCRIPTIONS)}"
    # Dropped between CONNACK and SUBACK: a worker connecting with the same
    # client id takes the session over (Mosquitto closes the socket, which
    # paho reports as "Unspecified error", not as 0x8E).
    return f"ingest worker {worker} took its session over ({answer.dropped}): it subscribes itself"


def _worker_running(settings: Settings) -> bool:
    """Whether the worker named VWARD_INGEST_CLIENT_ID has a fresh heartbeat
    (ward/health.py's judgement), so may hold its session now."""
    try:
        with db.connect(settings) as conn:
            now, rows = heartbeats.read(conn)
    except psycopg.Error:
        return False
    return any(w.running for w in health.judge_ingest(rows, now)
               if w.row.instance_id == settings.ingest_client_id)
