"""The shapes of a patient's record for their GP: the NHS number a summary is
filed under, a clinician's discharge and what it made (api/routes/patients.py;
the rest of the HTTP edge's shapes are api/schemas.py's)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.inputs import StrictIn as _In
from api.schemas import PatientOut


class NhsNumberSet(_In):
    nhs_number: str = Field(max_length=20, description="10 digits with a valid check digit;"
                                                       " spaces allowed")


class Discharge(_In):
    summary: str = Field(
        min_length=1, max_length=20_000,
        description="The discharging clinician's summary for the GP (what happened, what to"
                    " watch for, follow-up); required, not blank. It goes into the discharge"
                    " document (FHIR and PDF), made once now and kept unchanged")
    admission_reason: str | None = Field(
        None, max_length=500, description="The reason for admission to the virtual ward, as"
                                          " the document should state it")
    note: str = Field("", description="Recorded on each alert this discharge resolves")
    outcome: Literal["home", "hospital", "died"] | None = Field(
        None, description="Where the patient went: home (their usual residence), hospital"
                          " (escalated to a hospital bed), died; left out: not recorded")


class Discharged(BaseModel):
    patient: PatientOut
    unassigned_devices: list[str]
    resolved_alerts: list[int]
    document: str = Field(description="The discharge summary as a FHIR document:"
                                      " /fhir/Bundle/{id}")
    pdf: str = Field(description="The same summary as a PDF: /api/v1/patients/{id}/"
                                 "discharge-summary.pdf")
