"""Publish every alert event on MQTT, ``ward/v1/wards/{ward_id}/alerts``, QoS 1.

Every row of alert_events (the engine's, and a clinician's acknowledgements
and resolutions written by ward.clinical) goes out once, in (txid, event_id)
order; the watermark in ``alert_outbox`` moves in the same transaction as
the broker's acks are awaited.  Only events of transactions older than every
running transaction are taken, so one that commits late behind a higher
event_id is not skipped.  At least once: should the engine die after the
broker acked and before the watermark committed, those events go out again
(``event_id`` lets a subscriber drop the repeat).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from ward.domain import alerts_topic
from ward.settings import Settings

log = logging.getLogger("alerts.outbox")

_BATCH = 500  # events per publishing transaction
_ACK_TIMEOUT = 10.0  # [s] for the broker's PUBACKs

_PENDING = """
SELECT e.txid::text, e.event_id, e.alert_id, e.time, e.event, e.severity, e.state, e.actor,
       e.detail, e.reason, a.ward_id, a.patient_id, a.kind, a.category, a.device_id,
       a.reason, a.opened_at
FROM alert_events e JOIN alerts a ON a.alert_id = e.alert_id
WHERE (e.txid, e.event_id) > (%s::xid8, %s)
  AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.txid, e.event_id
LIMIT %s
"""


@dataclass(frozen=True, slots=True)
class EventRow:
    txid: str
    event_id: int
    alert_id: int
    time: datetime
    event: str
    severity: str
    state: str
    actor: str
    detail: dict[str, Any]
    reason: str
    ward_id: str
    patient_id: str
    kind: str
    category: str
    device_id: str
    alert_reason: str
    opened_at: datetime


def event_message(e: EventRow) -> tuple[str, bytes]:
    """The topic and JSON body of one alert event (docs/alerts.md, "Alert events on MQTT")."""
    body = {
        "event_id": e.event_id,
        "alert_id": e.alert_id,
        "event": e.event,
        "time": _iso(e.time),
        "ward_id": e.ward_id,
        "patient_id": e.patient_id,
        "kind": e.kind,
        "category": e.category,
        "device_id": e.device_id or None,
        "severity": e.severity,
        "state": e.state,
        "actor": e.actor,
        "reason": e.reason or e.alert_reason,
        "alert_reason": e.alert_reason,
        "opened_at": _iso(e.opened_at),
        "detail": e.detail,
    }
    return alerts_topic(e.ward_id), json.dumps(body, separators=(",", ":")).encode()


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class OutboxError(Exception):
    """The broker did not take an event; the watermark stays and the batch is retried."""


class Outbox:
    """A paho client that publishes pending events; the ward's service credentials."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"{settings.alerts_engine_id}-outbox",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(settings.mqtt_username, settings.mqtt_password)
        self.client.max_inflight_messages_set(_BATCH)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.connected = False

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = not reason_code.is_failure
        if reason_code.is_failure:
            log.error("the broker refused the alerts engine: %s", reason_code)
        else:
            log.info("connected to the broker at %s:%d", self.settings.mqtt_host,
                     self.settings.mqtt_port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def start(self) -> None:
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish_pending(self, conn: psycopg.Connection) -> int:
        """Publish what is pending, batch by batch; returns how many were published."""
        total = 0
        while self.connected:
            try:
                n = self._publish_batch(conn)
            except OutboxError as exc:
                log.warning("%s; will retry", exc)
                break
            total += n
            if n < _BATCH:
                break
        return total

    def _publish_batch(self, conn: psycopg.Connection) -> int:
        with conn.transaction():
            mark = conn.execute("SELECT txid::text, event_id FROM alert_outbox"
                                " FOR UPDATE SKIP LOCKED").fetchone()
            if mark is None:
                return 0  # another engine is publishing
            rows = [EventRow(*r) for r in conn.execute(_PENDING, (*mark, _BATCH)).fetchall()]
            if not rows:
                return 0
            infos = []
            for row in rows:
                topic, payload = event_message(row)
                info = self.client.publish(topic, payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    raise OutboxError(f"cannot publish event {row.event_id}: rc {info.rc}")
                infos.append(info)
            for row, info in zip(rows, infos, strict=True):
                try:
                    info.wait_for_publish(_ACK_TIMEOUT)
                except (RuntimeError, ValueError) as exc:
                    raise OutboxError(f"cannot publish event {row.event_id}: {exc}") from exc
                if not info.is_published():
                    raise OutboxError(f"the broker did not ack event {row.event_id}")
            last = rows[-1]
            conn.execute("UPDATE alert_outbox SET txid = %s::xid8, event_id = %s,"
                         " published = published + %s, published_at = clock_timestamp()",
                         (last.txid, last.event_id, len(rows)))
        return len(rows)
