"""HTTP ingestion: a readings message posted by a device goes through the
very decoder, batch preparation and store that the MQTT path uses.

Why this module imports ingest/ (design.md has each stage import only
ward/): ingest is "the only writer of observations", and its public
functions are the one judge of what a reading is.  Calling them
(`ingest.pipeline.receive` and `prepare_batch`, pure; `ingest.store.write_batch`,
the psycopg edge) gives HTTP the same validation, the same reason codes and
texts, and the same write path: dedup of retransmissions, the score_queue
row and NOTIFY in the readings' transaction, last_seen, and refused messages
kept whole in rejected_messages.  A copy would drift; moving the pure
decoder into ward/ would be the cleaner home for it, and is noted for the
lead."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import psycopg

from ingest import decode, pipeline, store
from ingest.assignments import AssignmentIndex
from ingest.rows import Batch
from ward.settings import Settings


@dataclass(frozen=True, slots=True)
class Refused:
    index: int | None
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the device is told: the MQTT rejections document (id, accepted,
    refused), with the stored/duplicate split and an HTTP status."""

    status: int
    message_id: str | None
    accepted: int
    stored: int
    duplicates: int
    refused: tuple[Refused, ...]

    @property
    def detail(self) -> str:
        if self.status == 200:
            return "stored" if not self.refused else "stored, some readings refused"
        return "; ".join(r.reason for r in self.refused)


def limits(settings: Settings) -> decode.Limits:
    """The same limits as `vward ingest` (ingest/service.py)."""
    return decode.Limits(max_payload_bytes=settings.max_payload_bytes,
                         max_future=timedelta(seconds=settings.max_future_seconds),
                         max_age=timedelta(days=settings.max_age_days))


def http_topic(device_id: str) -> str:
    """The `topic` a refused HTTP message is kept under in rejected_messages,
    so that a device maker can tell the two doors apart."""
    return f"http:/api/v1/devices/{device_id}/readings"


def status_for(decoded: decode.Decoded, accepted: int) -> int:
    """200 when at least one reading was accepted (partially bad messages keep
    their good readings, as on MQTT); otherwise why nothing was."""
    if decoded.whole_refused:
        codes = {r.code for r in decoded.refusals if r.index is None}
        return 413 if decode.OVERSIZED in codes else 400
    return 200 if accepted else 422


class Ingestor:
    """Holds the assignment cache across requests (checked against the
    database's assignment version inside each write, as ingest does)."""

    def __init__(self, settings: Settings) -> None:
        self.limits = limits(settings)
        self._assignments = AssignmentIndex([])

    def ingest(self, conn: psycopg.Connection, device_id: str, payload: bytes,
               received_at: datetime) -> Outcome:
        topic = f"{pipeline.TOPIC_PREFIX}{device_id}/readings"
        message = pipeline.receive(topic, payload, received_at, limits=self.limits)
        prepared = pipeline.prepare_batch([message])
        batch = prepared.batch()
        http = replace(batch, rejections=lambda unassigned: [
            replace(r, topic=http_topic(device_id)) for r in batch.rejections(unassigned)])
        written, self._assignments = store.write_batch(conn, http, self._assignments)
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
        return Outcome(status_for(decoded, accepted), decoded.message_id, accepted,
                       stored, accepted - stored, refused)

    def keep_failed(self, conn: psycopg.Connection, device_id: str, payload: bytes,
                    received_at: datetime, exc: BaseException) -> None:
        """A message that broke the ingestion: kept as internal_error, as on MQTT."""
        message = pipeline.Received(f"{pipeline.TOPIC_PREFIX}{device_id}/readings", payload,
                                    received_at)
        row = replace(pipeline.internal_error_row(message, exc), topic=http_topic(device_id))
        store.write_batch(conn, Batch([], [], {}, lambda _: [row]), self._assignments)
