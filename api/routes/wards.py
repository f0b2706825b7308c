"""Wards and the ward summary: every admitted patient, highest risk first."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from api import queries, schemas, views
from api.deps import AdminUser, Conn, CurrentUser
from api.protocol_schemas import ProtocolSet
from api.scope import Visible
from ward import access, protocol_store

router = APIRouter(prefix="/api/v1/wards", tags=["wards"])


@router.get("", response_model=list[schemas.WardOut])
def list_wards(user: CurrentUser, conn: Conn, visible: Visible) -> list[queries.WardRow]:
    """The signed-in person's wards (an admin: every ward)."""
    return queries.list_wards(conn, access.as_filter(visible))


@router.get("/{ward_id}/summary", response_model=schemas.WardSummary,
            responses={404: {"description": "No such ward"}})
def ward_summary(ward_id: str, user: CurrentUser, conn: Conn) -> Response:
    """Each admitted patient's latest NEWS2 score (the true NEWS2, the adjusted
    score beside it where a clinician set one, each value with its measurement
    time, age and staleness, and what is missing), their latest complete set and
    whether it is overdue, their latest reading and their live alerts.  Highest
    effective band first (never better than the data: an incomplete score shows
    the band held since the last complete set), then highest total."""
    now = datetime.now(UTC)
    ward = queries.get_ward(conn, ward_id)
    rows = queries.ward_summary(conn, ward_id, now)
    summary = views.ward_summary(ward.ward_id, ward.name, rows, now)
    # Built and checked by the model already: serialise it once, here,
    # rather than have FastAPI validate 500 rows a second time.
    return Response(summary.model_dump_json(), media_type="application/json")


@router.patch("/{ward_id}", response_model=schemas.WardOut,
              responses={404: {"description": "No such ward"},
                         422: {"description": "Not a protocol the ward can run"}})
def set_ward_protocol(ward_id: str, body: ProtocolSet, admin: AdminUser,
                      conn: Conn) -> queries.WardRow:
    """The protocol the ward runs from now on (docs/alerts.md, "Ward protocols"):
    its patients are judged by it at their next reading and at the engine's next
    tick, and by NEWS2 as on every ward.  Admin only."""
    protocol_store.set_protocol(conn, ward_id, body.protocol, by=admin.name)
    return queries.get_ward(conn, ward_id)
