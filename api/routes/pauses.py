"""Pauses of an alert kind's notifying for one patient (issue 13, item 5): any
signed-in clinician sets, reads and ends them, through ward/pause_records.py as
the CLI and the dashboard do.  The alert still opens and shows; only notifying
stops, never for an emergency, for at most 24 h, with a reason, on the record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from api import queries
from api.deps import Conn, CurrentUser, ReadLog
from api.pause_schemas import PauseOut, PauseSet
from ward import durations, pause_records
from ward.pauses import Pause, PauseRefused

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such patient"}}
_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"description": "A pause that may not be set: an emergency, longer than 24 h,"
                         " no reason, a kind that is never paused"}}


@router.get("/{patient_id}/pauses", response_model=list[PauseOut], responses=_NOT_FOUND)
def list_pauses(patient_id: str, user: CurrentUser, conn: Conn, read: ReadLog,
                all_: Annotated[bool, Query(alias="all", description="Every pause, latest"
                                            " first, ended ones too (the record)")] = False
                ) -> list[Pause]:
    """The patient's pauses in force (soonest end first), or all of them."""
    queries.get_patient(conn, patient_id)
    read(patient_id, "pauses")
    if all_:
        return pause_records.history(conn, patient_id)
    return pause_records.in_force(conn, [patient_id], datetime.now(UTC))


@router.post("/{patient_id}/pauses", response_model=PauseOut,
             status_code=status.HTTP_201_CREATED, responses=_NOT_FOUND | _REFUSED)
def set_pause(patient_id: str, body: PauseSet, user: CurrentUser, conn: Conn) -> Pause:
    """Stop notifying `kind` for this patient from now for `duration` (at most 24 h), with
    the clinical reason; replaces a pause of the same kind in force.  The alert still
    opens and shows on the dashboard, labelled paused; an emergency is always notified."""
    queries.get_patient(conn, patient_id)
    try:
        length = durations.parse(body.duration)
    except ValueError as exc:
        raise PauseRefused(str(exc)) from None
    return pause_records.set_pause(conn, patient_id, body.kind, length, by=user.name,
                                   reason=body.reason, now=datetime.now(UTC))


@router.delete("/{patient_id}/pauses/{pause_id:int}", status_code=status.HTTP_204_NO_CONTENT,
               responses=_NOT_FOUND)
def end_pause(patient_id: str, pause_id: int, user: CurrentUser, conn: Conn,
              reason: Annotated[str, Query(description="Why it ends early")] = "") -> None:
    """End a pause now: the kind is notified again from now."""
    now = datetime.now(UTC)
    if not any(p.pause_id == pause_id for p in pause_records.in_force(conn, [patient_id], now)):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"patient {patient_id} has no pause {pause_id} in force")
    pause_records.end_pause(conn, pause_id, by=user.name, now=now, reason=reason)
