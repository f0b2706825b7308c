"""Capacity and flow (issue 14, item 5): a ward's capacity (admins set it,
clinicians read it), the month's flow tables as CSV, and a readmission to
hospital recorded after a discharge.  Records go through ward/flow_store.py, as
`vward ward capacity` and `vward patient readmitted` do."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api import flow_schemas as s
from api.deps import AdminUser, Conn, CurrentUser
from ward import flow, flow_store
from ward.rota import load_zone

router = APIRouter(prefix="/api/v1", tags=["flow"])

_Responses = dict[int | str, dict[str, Any]]
_NO_WARD: _Responses = {404: {"description": "No such ward"}}
_REFUSED: _Responses = {422: {"description": "Out of shape, or not a month, a table or a day"
                                             " that can be recorded (the reason says)"}}
_CSV: _Responses = {200: {"content": {"text/csv": {}},
                          "description": "The table as CSV, a header first"}}


def _capacity(conn, ward_id: str) -> s.Capacity:
    changes = flow_store.capacity_changes(conn, ward_id)
    today = flow.local_day(datetime.now(UTC), load_zone(conn, ward_id))
    return s.Capacity(ward_id=ward_id, beds_today=flow.capacity_by_day(changes, [today])[0],
                      changes=[s.CapacityOut.model_validate(c) for c in changes])


@router.get("/wards/{ward_id}/capacity", response_model=s.Capacity, responses=_NO_WARD)
def get_capacity(ward_id: str, user: CurrentUser, conn: Conn) -> s.Capacity:
    """The beds the ward runs today and every change of them, with who made it and when."""
    return _capacity(conn, ward_id)


@router.post("/wards/{ward_id}/capacity", response_model=s.Capacity,
             responses=_NO_WARD | _REFUSED)
def set_capacity(ward_id: str, body: s.CapacitySet, admin: AdminUser, conn: Conn) -> s.Capacity:
    """From `valid_from` (a day of the ward's calendar; today when left out) the
    ward runs `beds`.  Kept beside the earlier changes: a month's occupancy
    divides each day by the capacity in force that day.  Admin only."""
    now = datetime.now(UTC)
    valid_from = body.valid_from or flow.local_day(now, load_zone(conn, ward_id))
    flow_store.set_capacity(conn, ward_id, body.beds, valid_from=valid_from, by=admin.name,
                            reason=body.reason, now=now)
    return _capacity(conn, ward_id)


@router.get("/wards/{ward_id}/flow.csv", response_class=Response,
            responses=_CSV | _NO_WARD | _REFUSED)
def flow_csv(ward_id: str, user: CurrentUser, conn: Conn,
             month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$",
                                         description="The month, e.g. 2026-11, in the"
                                                     " ward's time zone")],
             table: s.FlowTable = "occupancy") -> Response:
    """One table of the month's flow as CSV: occupancy (each day's capacity,
    patients, occupied beds, occupancy %, admissions, discharges), admissions
    (with their source, step-up or step-down), discharges (length of stay,
    outcome, readmission within 30 days), los (stays per length in days) or
    capacity (the changes in force)."""
    m = flow_store.load_month(conn, ward_id, month, now=datetime.now(UTC))
    header, rows = flow.table(m, table, load_zone(conn, ward_id))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{ward_id}-{month}-{table}.csv"'})


@router.post("/patients/{patient_id}/readmission", response_model=s.Readmission,
             responses={404: {"description": "No such patient"},
                        409: {"description": "Still on the ward, or recorded already"},
                        **_REFUSED})
def record_readmission(patient_id: str, body: s.ReadmissionSet, user: CurrentUser,
                       conn: Conn) -> s.Readmission:
    """A discharged patient was admitted to hospital on `readmitted_on`, within
    30 days of their discharge (NHS England's readmission measure)."""
    flow_store.record_readmission(conn, patient_id, body.readmitted_on, by=user.name,
                                  now=datetime.now(UTC))
    return s.Readmission(patient_id=patient_id, readmitted_on=body.readmitted_on,
                         within_30_days=True, recorded_by=user.name)
