"""HTTP ingestion: a device posts the same readings message it would
publish on MQTT, with its own bearer token, and gets the same judgement."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import AppSettings, Conn, CurrentDevice
from api.device_schemas import IngestResult
from api.ingestion import Outcome

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/devices", tags=["ingestion"])

_EXAMPLE = {"id": "5f2c-0042", "readings": [
    {"time": "2026-11-23T08:00:00Z", "type": "heart_rate", "value": 72, "unit": "/min"},
    {"time": "2026-11-23T08:00:00Z", "type": "spo2", "value": 96, "unit": "%"},
    {"time": "2026-11-23T08:00:00Z", "type": "on_oxygen", "value": False}]}

_REFUSED = {"model": IngestResult}


def _body(outcome: Outcome) -> IngestResult:
    return IngestResult(id=outcome.message_id, accepted=outcome.accepted,
                        stored=outcome.stored, duplicates=outcome.duplicates,
                        refused=list(outcome.refused), detail=outcome.detail)  # type: ignore[arg-type]


async def _read_capped(request: Request, cap: int) -> bytes | None:
    """The body, or None past `cap` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/{device_id}/readings", name="ingest_readings", response_model=IngestResult,
    responses={400: _REFUSED | {"description": "Unreadable message (malformed JSON, bad"
                                               " structure): nothing stored"},
               403: {"description": "Not this device's token"},
               413: _REFUSED | {"description": "Message too large: nothing stored"},
               422: _REFUSED | {"description": "Every reading refused: nothing stored"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object"}, "example": _EXAMPLE},
        "application/fhir+json": {"schema": {"type": "object"},
                                  "description": "An R4 Observation or Bundle of them"}}}})
async def ingest_readings(device_id: str, request: Request, device: CurrentDevice, conn: Conn,
                          cfg: AppSettings):
    """A readings message (design.md's JSON, or a FHIR R4 Observation or
    Bundle), judged by ingest's own decoder and stored by its own store:
    the same checks, reason codes and dedup as MQTT.  A partially bad
    message keeps its good readings (200, with what was refused); a refused
    message is kept whole in rejected_messages, as on MQTT."""
    if device.device_id != device_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this token is device {device.device_id}'s: it may send only that"
                            " device's readings")
    # Past four times the limit the broker too drops a message unseen
    # (ward/mosquitto.py, message_size_limit); below it, decode refuses and keeps it.
    cap = max(cfg.max_payload_bytes * 4, 1024 * 1024)
    payload = await _read_capped(request, cap)
    if payload is None:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"message exceeds {cap} bytes; the limit is"
                            f" {cfg.max_payload_bytes} bytes")
    ingestor = request.app.state.ingestor
    received_at = datetime.now(UTC)
    try:
        outcome = await run_in_threadpool(ingestor.ingest, conn, device_id, payload, received_at)
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise  # the database is away: 500, nothing acked, the device sends again
    except Exception as exc:
        log.exception("HTTP readings of %s could not be processed; kept as internal_error",
                      device_id)
        await run_in_threadpool(ingestor.keep_failed, conn, device_id, payload, received_at, exc)
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR,
                            "the ward could not process this message; it is kept for the"
                            " developers") from exc
    body = _body(outcome)
    if outcome.status == 200:
        return body
    return JSONResponse(body.model_dump(mode="json"), status_code=outcome.status)
