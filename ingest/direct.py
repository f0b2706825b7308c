"""A message handed to ingest directly rather than through the broker: a device's
readings posted over HTTP (api/), the sample ward's day of readings and its
devices' status (dashboard/sample.py).  It goes through the very decoder, batch preparation
and store that a broker message does: the same validation, reason codes and
texts, dedup of retransmissions, the score queue and its NOTIFY in the
readings' transaction, last_seen, and refused messages kept whole in
rejected_messages (under ``kept_as``, so that a device maker can tell the
doors apart).  ingest is the only writer of observations; this is its one
public door for other stages (re-exported by ingest/__init__.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import psycopg

from ingest import decode, pipeline, store
from ingest.assignments import AssignmentIndex
from ingest.rows import Batch, Written
from ward import topics
from ward.settings import Settings


@dataclass(frozen=True, slots=True)
class Refused:
    """One refusal as the device is told it: the reading's index (None: the message)."""

    index: int | None
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ingested:
    """What became of one message: ``accepted`` readings (assigned and valid), of
    which ``stored`` new or corrected and ``duplicates`` stored before; what was
    refused, and whether the whole message was (``oversized`` if for its size)."""

    message_id: str | None
    accepted: int
    stored: int
    duplicates: int
    refused: tuple[Refused, ...]
    whole_refused: bool
    oversized: bool


def limits(settings: Settings) -> decode.Limits:
    """The same limits as `vward ingest` (ingest/service.py)."""
    return decode.Limits(max_payload_bytes=settings.max_payload_bytes,
                         max_future=timedelta(seconds=settings.max_future_seconds),
                         max_age=timedelta(days=settings.max_age_days))


def prepare_connection(conn: psycopg.Connection) -> None:
    """Once per connection that ingests: the store's staging table."""
    store.prepare(conn)


class DirectIngest:
    """Holds the assignment cache across messages (checked against the database's
    assignment version inside each write, as the broker's writer does)."""

    def __init__(self, message_limits: decode.Limits) -> None:
        self.limits = message_limits
        self._assignments = AssignmentIndex([])

    def readings(self, conn: psycopg.Connection, device_id: str, payload: bytes,
                 received_at: datetime, *, kept_as: str) -> Ingested:
        """Judge and store one readings message of ``device_id`` (design.md's JSON,
        or FHIR R4), in one transaction on ``conn``."""
        message, prepared, written = self._write(
            conn, topics.readings_topic(device_id), payload, received_at, kept_as)
        decoded = message.decoded
        assert decoded is not None
        accepted = len(decoded.readings) - len(written.unassigned)
        refused: tuple[Refused, ...] = ()
        if prepared.feedback:
            body = json.loads(prepared.feedback[0].payload)
            refused = tuple(Refused(r["index"], r["code"], r["reason"]) for r in body["refused"])
        # A correction (a stored reading's new value) counts as stored: the
        # device's value is now the ward's; duplicates changed nothing.
        stored = written.stored + written.corrected
        oversized = any(r.code == decode.OVERSIZED for r in decoded.refusals if r.index is None)
        return Ingested(decoded.message_id, accepted, stored, accepted - stored, refused,
                        decoded.whole_refused, oversized)

    def status(self, conn: psycopg.Connection, device_id: str, payload: bytes,
               received_at: datetime, *, kept_as: str) -> bool:
        """Judge and store one status message of ``device_id`` (online, battery,
        firmware, signal), at ``received_at``; False if refused (kept as a refused
        readings message is)."""
        _, prepared, _ = self._write(
            conn, topics.status_topic(device_id), payload, received_at, kept_as)
        return not prepared.refused_feedback

    def _write(self, conn: psycopg.Connection, topic: str, payload: bytes,
               received_at: datetime, kept_as: str,
               ) -> tuple[pipeline.Received, pipeline.Prepared, Written]:
        """One message as the broker's writer takes it (received on ``topic``,
        a batch of one, stored), its refusals kept under ``kept_as``."""
        message = pipeline.receive(topic, payload, received_at, limits=self.limits)
        prepared = pipeline.prepare_batch([message])
        batch = prepared.batch()
        kept = replace(batch, rejections=lambda unassigned: [
            replace(r, topic=kept_as) for r in batch.rejections(unassigned)])
        written, self._assignments = store.write_batch(conn, kept, self._assignments)
        return message, prepared, written

    def keep_failed(self, conn: psycopg.Connection, device_id: str, payload: bytes,
                    received_at: datetime, exc: BaseException, *, kept_as: str) -> None:
        """A message that broke the ingestion: kept as internal_error, as on MQTT."""
        message = pipeline.Received(topics.readings_topic(device_id), payload, received_at)
        row = replace(pipeline.internal_error_row(message, exc), topic=kept_as)
        store.write_batch(conn, Batch([], [], {}, lambda _: [row]), self._assignments)
