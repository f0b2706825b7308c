"""HTTP ingestion: a readings message posted by a device goes through
ingest's public door (``ingest.DirectIngest``): the very decoder, batch
preparation and store that the MQTT path uses, so HTTP gets the same
validation, reason codes, dedup and write path.  What is HTTP's own lives
here: the HTTP status of an outcome, and the `topic` a refused message is
kept under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

import ingest
from ward.settings import Settings

Refused = ingest.Refused


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


def http_topic(device_id: str) -> str:
    """The `topic` a refused HTTP message is kept under in rejected_messages,
    so that a device maker can tell the two doors apart."""
    return f"http:/api/v1/devices/{device_id}/readings"


def status_for(done: ingest.Ingested) -> int:
    """200 when at least one reading was accepted (partially bad messages keep
    their good readings, as on MQTT); otherwise why nothing was."""
    if done.whole_refused:
        return 413 if done.oversized else 400
    return 200 if done.accepted else 422


class Ingestor:
    """One per app: ingest's door, with its assignment cache across requests."""

    def __init__(self, settings: Settings) -> None:
        self._door = ingest.DirectIngest(ingest.limits(settings))

    def ingest(self, conn: psycopg.Connection, device_id: str, payload: bytes,
               received_at: datetime) -> Outcome:
        done = self._door.readings(conn, device_id, payload, received_at,
                                   kept_as=http_topic(device_id))
        return Outcome(status_for(done), done.message_id, done.accepted, done.stored,
                       done.duplicates, done.refused)

    def keep_failed(self, conn: psycopg.Connection, device_id: str, payload: bytes,
                    received_at: datetime, exc: BaseException) -> None:
        """A message that broke the ingestion: kept as internal_error, as on MQTT."""
        self._door.keep_failed(conn, device_id, payload, received_at, exc,
                               kept_as=http_topic(device_id))
