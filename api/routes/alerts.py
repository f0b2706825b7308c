"""Alerts: list, read with their audit trail, acknowledge and resolve
(through the alerts stage's clinician actions, recorded as by the signed-in
user)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Query

import alerts
from api import queries, schemas
from api.auth import User
from api.deps import Conn, CurrentUser, ReadLog
from api.scope import Visible, check_patient
from ward import access
from ward.errors import NotFound
from ward.records import AlertRow

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

_ACTION: dict[int | str, dict[str, Any]] = {404: {"description": "No such alert"},
           409: {"description": "Already acknowledged or resolved"}}


@router.get("", response_model=list[schemas.AlertOut])
def list_alerts(
    user: CurrentUser, conn: Conn, read: ReadLog, visible: Visible,
    ward: str | None = None, patient: str | None = None,
    state: Annotated[Literal["live", "open", "acknowledged", "resolved", "all"],
                     Query(description="live: open or acknowledged")] = "live",
    category: Literal["clinical", "technical"] | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[AlertRow]:
    """Newest first, of the signed-in person's wards (an admin: every ward).  With
    `patient`, a read of that patient's record (audited)."""
    if patient is not None:
        read(patient, "alerts")
    return queries.list_alerts(conn, ward_id=ward, patient_id=patient, state=state,
                               category=category, limit=limit,
                               wards=access.as_filter(visible))


@router.get("/{alert_id}", response_model=schemas.AlertWithEvents,
            responses={404: {"description": "No such alert"}})
def get_alert(alert_id: int, user: CurrentUser, conn: Conn,
              read: ReadLog) -> schemas.AlertWithEvents:
    alert, events = queries.get_alert(conn, alert_id)
    _check(conn, user, alert_id, alert.patient_id)
    read(alert.patient_id, "alert")
    return schemas.AlertWithEvents(
        **schemas.AlertOut.model_validate(alert).model_dump(),
        events=[schemas.AlertEventOut.model_validate(e) for e in events])


@router.post("/{alert_id}/acknowledge", response_model=schemas.AlertOut, responses=_ACTION)
def acknowledge(alert_id: int, body: schemas.Acknowledge, user: CurrentUser,
                conn: Conn) -> AlertRow:
    """The signed-in clinician has seen the alert: recorded with what they
    did and whether it changed the patient's management."""
    _require(conn, user, alert_id)
    return alerts.acknowledge(conn, alert_id, by=user.name, now=datetime.now(UTC), via="api",
                              note=body.note, action=body.action,
                              changed_management=body.changed_management)


@router.post("/{alert_id}/resolve", response_model=schemas.AlertOut, responses=_ACTION)
def resolve(alert_id: int, body: schemas.Resolve, user: CurrentUser,
            conn: Conn) -> AlertRow:
    """Close the alert by hand; should its condition still hold, the alerts
    engine opens a new one at its next scoring."""
    _require(conn, user, alert_id)
    return alerts.resolve(conn, alert_id, by=user.name, now=datetime.now(UTC), note=body.note)


def _check(conn: psycopg.Connection, user: User, alert_id: int, patient_id: str) -> None:
    """An alert of a patient out of the person's wards is no alert to them: the
    same 404 as one that does not exist (api/scope.py)."""
    try:
        check_patient(conn, user, patient_id)
    except NotFound:
        raise NotFound(f"no alert {alert_id}") from None


def _require(conn: psycopg.Connection, user: User, alert_id: int) -> None:
    _check(conn, user, alert_id, queries.require_alert(conn, alert_id))
