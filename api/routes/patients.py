"""Admit, discharge, list and read patients; their scoring settings, set
through ward.clinical so that every door records them the same way."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from api import admission, discharge_schemas, discharge_store, queries, schemas, series, views
from api.deps import AdminUser, AppSettings, Conn, CurrentUser, ReadLog
from api.pause_schemas import PauseOut
from api.scope import Visible
from ward import access, clinical, devices, pause_records, times

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such patient"}}
# The schema names the parameters; the route refuses others itself, with the
# reason (SpO2 has scale 2 instead).
_RangeParameter = Annotated[str, Path(json_schema_extra={"enum": list(clinical.RANGE_PARAMETERS)})]
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The action does not apply (e.g. already discharged)"}}


@router.get("", response_model=list[schemas.PatientOut])
def list_patients(user: CurrentUser, conn: Conn, visible: Visible,
                  ward: Annotated[str | None, Query(description="Only this ward")] = None,
                  include_discharged: bool = False) -> list[queries.PatientRow]:
    """The patients of the signed-in person's wards (an admin: every ward)."""
    return queries.list_patients(conn, ward_id=ward, include_discharged=include_discharged,
                                 wards=access.as_filter(visible))


@router.post("", response_model=schemas.PatientOut, status_code=status.HTTP_201_CREATED,
             responses=_CONFLICT)
def admit(body: schemas.PatientAdmit, admin: AdminUser, conn: Conn,
          cfg: AppSettings) -> queries.PatientRow:
    """Admit a patient to a ward (the ward is created if new), now or at
    `admitted_at` (so that a device handed out then can be assigned from
    then).  Admin only."""
    now = datetime.now(UTC)
    if body.admitted_at is not None:
        now = times.backdated(body.admitted_at, now, what="admitted_at",
                              max_future=timedelta(seconds=cfg.max_future_seconds),
                              max_age=timedelta(days=cfg.max_age_days))
    admission.admit(conn, body.patient_id, body.ward_id, body.display_name, now=now,
                    source=body.source, nhs_number=body.nhs_number)
    return queries.get_patient(conn, body.patient_id)


@router.get("/{patient_id}", response_model=schemas.PatientDetail, responses=_NOT_FOUND)
def get_patient(patient_id: str, user: CurrentUser, conn: Conn,
                read: ReadLog) -> schemas.PatientDetail:
    """A patient, their devices, latest score, settings and alert pauses in force, and
    live alerts."""
    now = datetime.now(UTC)
    row = queries.get_patient(conn, patient_id)
    read(patient_id, "patient")
    latest = series.latest_score(conn, patient_id)
    return schemas.PatientDetail(
        **schemas.PatientOut.model_validate(row).model_dump(),
        latest_score=views.score_row(latest) if latest else None,
        settings=[schemas.SettingOut.model_validate(s)
                  for s in clinical.current_settings(conn, patient_id, now)],
        pauses=[PauseOut.model_validate(p)
                for p in pause_records.in_force(conn, [patient_id], now)],
        live_alerts=queries.live_alert_count(conn, patient_id))


@router.put("/{patient_id}/nhs-number", response_model=discharge_schemas.NhsNumberSet,
            responses=_NOT_FOUND | _CONFLICT)
def set_nhs_number(patient_id: str, body: discharge_schemas.NhsNumberSet, admin: AdminUser,
                   conn: Conn) -> discharge_schemas.NhsNumberSet:
    """Record an admitted patient's NHS number (10 digits with a valid check digit,
    else 422 saying why): their discharge summary is filed under it at the GP's.
    Admin only, as admission is."""
    return discharge_schemas.NhsNumberSet(nhs_number=devices.set_nhs_number(conn, patient_id,
                                                                  body.nhs_number))


@router.post("/{patient_id}/discharge", response_model=discharge_schemas.Discharged,
             responses=_NOT_FOUND | _CONFLICT)
def discharge(patient_id: str, body: discharge_schemas.Discharge, user: CurrentUser,
              conn: Conn) -> discharge_schemas.Discharged:
    """Discharge a patient with a summary for their GP: their devices are
    unassigned, their live alerts resolved (recorded as by this clinician), and
    the discharge summary made once and kept, as a FHIR document (`document`:
    /fhir/Bundle/{id}) and a PDF (`pdf`).  Clinician role: the summary is a
    clinician's (an admin is refused, 403)."""
    if user.role != "clinician":
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"a discharge summary is written by a clinician; {user.name} is"
                            f" an {user.role}")
    made = admission.discharge_with_summary(
        conn, patient_id, by=user.name, summary=body.summary, now=datetime.now(UTC),
        outcome=body.outcome, admission_reason=body.admission_reason, note=body.note)
    return discharge_schemas.Discharged(
        patient=schemas.PatientOut.model_validate(queries.get_patient(conn, patient_id)),
        unassigned_devices=made.unassigned_devices, resolved_alerts=made.resolved_alerts,
        document=made.path, pdf=f"/api/v1/patients/{patient_id}/discharge-summary.pdf")


@router.get("/{patient_id}/discharge-summary.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "The discharge summary as a PDF"},
                       404: {"description": "No such patient, or no discharge summary"}})
def discharge_summary_pdf(patient_id: str, user: CurrentUser, conn: Conn,
                          read: ReadLog) -> Response:
    """The patient's discharge summary as the PDF made at discharge (unchanged
    since)."""
    queries.get_patient(conn, patient_id)
    _, pdf = discharge_store.pdf_of(conn, patient_id)
    read(patient_id, "discharge summary")
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="discharge-summary-{patient_id}.pdf"'})


@router.get("/{patient_id}/settings", response_model=list[schemas.SettingOut],
            responses=_NOT_FOUND)
def current_settings(patient_id: str, user: CurrentUser, conn: Conn, read: ReadLog) -> list:
    queries.get_patient(conn, patient_id)
    read(patient_id, "settings")
    return clinical.current_settings(conn, patient_id, datetime.now(UTC))


@router.put("/{patient_id}/settings/spo2-scale", response_model=schemas.SettingOut,
            responses=_NOT_FOUND | _CONFLICT)
def set_spo2_scale(patient_id: str, body: schemas.Spo2ScaleSet, user: CurrentUser,
                   conn: Conn) -> clinical.SettingRow:
    """Score this patient's SpO2 on scale 1 or 2, with the clinical reason;
    replaces the current scale setting and rescores from now."""
    queries.get_patient(conn, patient_id)
    return clinical.set_spo2_scale(conn, patient_id, body.scale, by=user.name,
                                   reason=body.reason, now=datetime.now(UTC), until=body.until)


@router.put("/{patient_id}/settings/accepted-ranges/{parameter}",
            response_model=schemas.SettingOut, responses=_NOT_FOUND | _CONFLICT)
def set_accepted_range(patient_id: str, parameter: _RangeParameter,
                       body: schemas.AcceptedRangeSet, user: CurrentUser,
                       conn: Conn) -> clinical.SettingRow:
    """Values of `parameter` within [low, high] are this patient's normal: where
    the chart scores them 1 or 2 they count 0 in the adjusted score, which alerts
    follow (e.g. a resting heart rate of 100); the true NEWS2 is kept and shown
    beside it.  Never a range covering a value that scores 3, never SpO2 (scale 2
    is its only adjustment).  With the clinical reason; reviewed by `until`, at
    most 14 days ahead (the default)."""
    queries.get_patient(conn, patient_id)
    if not (math.isfinite(body.low) and math.isfinite(body.high)):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "low and high must be finite numbers")
    problem = clinical.accepted_range_problem(parameter, body.low, body.high)
    if problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    return clinical.set_accepted_range(conn, patient_id, parameter, body.low, body.high,
                                       by=user.name, reason=body.reason,
                                       now=datetime.now(UTC), until=body.until)


# `:int`: only a number is a setting's id, so that .../settings/spo2-scale is
# never this route (its `Allow` names PUT alone, as the schema does).
@router.delete("/{patient_id}/settings/{setting_id:int}",
               status_code=status.HTTP_204_NO_CONTENT,
               responses=_NOT_FOUND)
def end_setting(patient_id: str, setting_id: int, user: CurrentUser, conn: Conn) -> None:
    """End a setting now: the patient goes back to the standard chart."""
    now = datetime.now(UTC)
    if not any(s.setting_id == setting_id
               for s in clinical.current_settings(conn, patient_id, now)):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"patient {patient_id} has no current setting {setting_id}")
    clinical.end_setting(conn, setting_id, by=user.name, now=now)
