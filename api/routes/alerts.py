"""Alerts: list, read with their audit trail, acknowledge and resolve
(through the alerts stage's clinician actions, recorded as by the signed-in
user)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

import alerts
from api import queries, schemas
from api.deps import Conn, CurrentUser, ReadLog
from ward.records import AlertRow

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

_ACTION: dict[int | str, dict[str, Any]] = {404: {"description": "No such alert"},
           409: {"description": "Already acknowledged or resolved"}}


@router.get("", response_model=list[schemas.AlertOut])
def list_alerts(
    user: CurrentUser, conn: Conn, read: ReadLog,
    ward: str | None = None, patient: str | None = None,
    state: Annotated[Literal["live", "open", "acknowledged", "resolved", "all"],
                     Query(description="live: open or acknowledged")] = "live",
    category: Literal["clinical", "technical"] | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[AlertRow]:
    """Newest first.  With `patient`, a read of that patient's record (audited)."""
    if patient is not None:
        read(patient, "alerts")
    return queries.list_alerts(conn, ward_id=ward, patient_id=patient, state=state,
                               category=category, limit=limit)


@router.get("/{alert_id}", response_model=schemas.AlertWithEvents,
            responses={404: {"description": "No such alert"}})
def get_alert(alert_id: int, user: CurrentUser, conn: Conn,
              read: ReadLog) -> schemas.AlertWithEvents:
    alert, events = queries.get_alert(conn, alert_id)
    read(alert.patient_id, "alert")
    return schemas.AlertWithEvents(
        **schemas.AlertOut.model_validate(alert).model_dump(),
        events=[schemas.AlertEventOut.model_validate(e) for e in events])


@router.post("/{alert_id}/acknowledge", response_model=schemas.AlertOut, responses=_ACTION)
def acknowledge(alert_id: int, body: schemas.Acknowledge, user: CurrentUser,
                conn: Conn) -> AlertRow:
    """The signed-in clinician has seen the alert: recorded with what they
    did and whether it changed the patient's management."""
    queries.require_alert(conn, alert_id)
    return alerts.acknowledge(conn, alert_id, by=user.name, now=datetime.now(UTC), via="api",
                              note=body.note, action=body.action,
                              changed_management=body.changed_management)


@router.post("/{alert_id}/resolve", response_model=schemas.AlertOut, responses=_ACTION)
def resolve(alert_id: int, body: schemas.Resolve, user: CurrentUser,
            conn: Conn) -> AlertRow:
    """Close the alert by hand; should its condition still hold, the alerts
    engine opens a new one at its next scoring."""
    queries.require_alert(conn, alert_id)
    return alerts.resolve(conn, alert_id, by=user.name, now=datetime.now(UTC), note=body.note)
