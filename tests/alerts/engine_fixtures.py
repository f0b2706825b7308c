"""Helpers of the alerts engine's database tests: patients on a ward of the test's
own, readings written the way ingest writes them, an engine on its own connection."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from alerts.engine import Engine
from ward import broker_names, broker_users, db, devices
from ward.broker_names import mqtt_protocol
from ward.domain import alerts_topic
from ward.settings import Settings

NORMAL = {"respiratory_rate": 16, "spo2": 97, "on_oxygen": 0, "systolic_bp": 120,
          "heart_rate": 70, "consciousness": 0, "temperature": 37.0}
HIGH = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": 1}  # 3 + 2 + 2 = 7: high


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def base_time() -> datetime:
    """A round 'now' for a test; the engine's clock is this plus what the test says."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def admit(settings: Settings, ward: str, n: int = 1, *, kind: str = "generic",
          admitted: datetime | None = None) -> list[tuple[str, str]]:
    """n fresh patients with one device each: [(patient_id, device_id)]."""
    pairs = [(unique("pat"), unique("dev")) for _ in range(n)]
    admitted = admitted or datetime.now(UTC) - timedelta(days=2)
    with db.connect(settings) as conn:
        devices.register_devices(conn, [devices.NewDevice(d, p, ward, kind) for p, d in pairs],
                                 valid_from=admitted)
    return pairs


def send(conn: psycopg.Connection, patient: str, device: str, t: datetime, **changes: float,
         ) -> None:
    """A full set at ``t`` (NORMAL with ``changes``; None drops a parameter), stored as
    ingest stores it: readings, queue row and NOTIFY in one transaction."""
    values = {k: v for k, v in {**NORMAL, **changes}.items() if v is not None}
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO observations (time, patient_id, device_id, type, value)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(t, patient, device, k, float(v)) for k, v in values.items()])
        conn.execute(
            "INSERT INTO score_queue (patient_id, since) VALUES (%s, %s) ON CONFLICT (patient_id)"
            " DO UPDATE SET since = least(score_queue.since, EXCLUDED.since),"
            " enqueued_at = clock_timestamp()", (patient, t))
        conn.execute("NOTIFY new_observations")
        conn.execute("UPDATE devices SET last_seen = greatest(last_seen, %s) WHERE device_id = %s",
                     (t, device))


def engine(settings: Settings, ward: str, **kw) -> Engine:
    conn = db.connect(settings, autocommit=True)
    kw.setdefault("engine_id", unique("engine"))
    kw.setdefault("freshness", timedelta(hours=12))
    return Engine(conn, wards=[ward], **kw)


def alerts_of(conn: psycopg.Connection, patient: str, *, live: bool = True) -> list[tuple]:
    return conn.execute(
        "SELECT alert_id, kind, severity, state, reason, device_id FROM alerts"
        " WHERE patient_id = %s" + (" AND state <> 'resolved'" if live else "")
        + " ORDER BY alert_id", (patient,)).fetchall()


def events_of(conn: psycopg.Connection, patient: str) -> list[tuple]:
    return conn.execute(
        "SELECT a.kind, e.event, e.severity, e.actor, e.reason FROM alert_events e"
        " JOIN alerts a USING (alert_id) WHERE a.patient_id = %s ORDER BY e.event_id",
        (patient,)).fetchall()


def scores_of(conn: psycopg.Connection, patient: str) -> list[tuple]:
    return conn.execute(
        "SELECT time, total, band, complete, missing, sub_scores, inputs, spo2_scale,"
        " overridden, overridden_parameters FROM scores WHERE patient_id = %s ORDER BY time",
        (patient,)).fetchall()


class Subscriber:
    """Collects the JSON events published on a ward's alerts topic."""

    def __init__(self, settings, ward: str) -> None:
        self.events: list[dict] = []
        self._ready = threading.Event()
        alerts = broker_users.credentials(settings, broker_names.ALERTS)  # may read alerts
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=alerts.client_id(unique("sub")),
                                  protocol=mqtt_protocol(settings))
        self.client.username_pw_set(alerts.username, alerts.password)
        self.client.on_connect = lambda c, *a: c.subscribe(alerts_topic(ward), qos=1)
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = lambda c, u, m: self.events.append(json.loads(m.payload))
        self.client.connect(settings.mqtt_host, settings.mqtt_port)
        self.client.loop_start()
        assert self._ready.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

