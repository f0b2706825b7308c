"""Wards and the ward summary: every admitted patient, highest risk first."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from api import queries, schemas, views
from api.deps import Conn, CurrentUser

router = APIRouter(prefix="/api/v1/wards", tags=["wards"])


@router.get("", response_model=list[schemas.WardOut])
def list_wards(user: CurrentUser, conn: Conn) -> list[queries.WardRow]:
    return queries.list_wards(conn)


@router.get("/{ward_id}/summary", response_model=schemas.WardSummary,
            responses={404: {"description": "No such ward"}})
def ward_summary(ward_id: str, user: CurrentUser, conn: Conn) -> Response:
    """Each admitted patient's latest NEWS2 score (with the values and
    sub-scores that made it, and what is missing), their latest reading and
    their live alerts; highest band first, then highest total."""
    ward = queries.get_ward(conn, ward_id)
    rows = queries.ward_summary(conn, ward_id)
    summary = views.ward_summary(ward.ward_id, ward.name, rows, datetime.now(UTC))
    # Built and checked by the model already: serialise it once, here,
    # rather than have FastAPI validate 500 rows a second time.
    return Response(summary.model_dump_json(), media_type="application/json")
