"""Publish every alert event to the topic ``ward/v1/wards/{ward_id}/alerts``.

Every row of alert_events (the engine's, and a clinician's acknowledgements
and resolutions written by ward.clinical) goes out once, in (txid, event_id)
order; the watermark in ``alert_outbox`` moves in the same transaction as
the broker's acks are awaited: RabbitMQ's publisher confirms (outbox_amqp.py,
AMQP to the MQTT plugin's exchange, persistent) or an MQTT broker's QoS 1
PUBACKs (outbox_mqtt.py).  MQTT subscribers of the topic get them either
way.  Only events of transactions older than every running transaction are
taken, so one that commits late behind a higher event_id is not skipped.
At least once: should the engine die after the broker acked and before the
watermark committed, those events go out again (``event_id`` lets a
subscriber drop the repeat).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg

from alerts.errors import OutboxError
from alerts.outbox_amqp import AmqpPublisher
from alerts.outbox_mqtt import MqttPublisher
from ward import broker_names as names
from ward import broker_users
from ward.records import AlertEventRow, select_list
from ward.settings import Settings
from ward.topics import alerts_topic

log = logging.getLogger("alerts.outbox")

_BATCH = 500  # events per publishing transaction
_ACK_TIMEOUT = 10.0  # [s] for the broker's confirms (or PUBACKs) of one batch

_PENDING = f"""
SELECT {select_list(AlertEventRow, "e")}, e.txid::text, a.ward_id, a.patient_id, a.kind,
       a.category, a.device_id, a.reason, a.opened_at
FROM alert_events e JOIN alerts a ON a.alert_id = e.alert_id
WHERE (e.txid, e.event_id) > (%s::xid8, %s)
  AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.txid, e.event_id
LIMIT %s
"""


@dataclass(frozen=True, slots=True)
class EventRow(AlertEventRow):
    """An event as it leaves: its row of ``alert_events``, its place in the
    outbox's order (``txid``) and what a subscriber needs of its alert."""

    txid: str
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


class Outbox:
    """Publishes pending events through the configured broker, with the
    ward's service credentials: over AMQP to RabbitMQ (publisher confirms),
    or over MQTT to any other broker (PUBACKs)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.publisher = _publisher(settings)

    @property
    def connected(self) -> bool:
        return self.publisher.connected

    @property
    def where(self) -> str:
        return self.publisher.where

    def start(self) -> None:
        self.publisher.start()

    def stop(self) -> None:
        self.publisher.stop()

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
            # Returns once the broker has taken every one (raises otherwise,
            # and the transaction rolls back with the watermark unmoved).
            self.publisher.publish([event_message(row) for row in rows], timeout=_ACK_TIMEOUT)
            last = rows[-1]
            conn.execute("UPDATE alert_outbox SET txid = %s::xid8, event_id = %s,"
                         " published = published + %s, published_at = clock_timestamp()",
                         (last.txid, last.event_id, len(rows)))
        return len(rows)


def _publisher(settings: Settings) -> AmqpPublisher | MqttPublisher:
    # The broker takes only a client id that begins with the user's name.
    creds = broker_users.credentials(settings, names.ALERTS)
    client_id = creds.client_id(f"{settings.alerts_engine_id}-outbox")
    if settings.broker == names.RABBITMQ:
        from ward.rabbitmq_config import amqp_urls

        return AmqpPublisher(amqp_urls(settings), username=creds.username,
                             password=creds.password, name=client_id)
    return MqttPublisher(host=settings.mqtt_host, port=settings.mqtt_port,
                         protocol=names.mqtt_protocol(settings), username=creds.username,
                         password=creds.password, client_id=client_id,
                         max_inflight=_BATCH)
