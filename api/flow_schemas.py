"""Capacity and flow's HTTP shapes (issue 14, item 5): request bodies and
response models, as api/schemas.py's for the rest."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from api.inputs import StrictIn as _In
from api.inputs import no_bool


def _day_text(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is ISO 8601 text, e.g. 2026-11-23")
    return value


# A day of the ward's calendar (wards.time_zone), as JSON text.
Day = Annotated[date, Strict(False), BeforeValidator(_day_text)]


class CapacitySet(_In):
    beds: Annotated[int, BeforeValidator(no_bool)] = Field(ge=0, le=100_000)
    valid_from: Day | None = Field(None, description="From this day of the ward's calendar;"
                                                     " left out: today")
    reason: str = Field("", max_length=500)


class CapacityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    valid_from: date
    beds: int
    set_by: str
    set_at: datetime
    reason: str


class Capacity(BaseModel):
    ward_id: str
    beds_today: int | None = Field(description="The capacity in force today; null: never set")
    changes: list[CapacityOut] = Field(description="Every change, in the order they take"
                                                   " effect")


class ReadmissionSet(_In):
    readmitted_on: Day = Field(description="The day the patient was admitted to hospital,"
                                           " at most 30 days after the discharge")


class Readmission(BaseModel):
    patient_id: str
    readmitted_on: date
    within_30_days: bool
    recorded_by: str


FlowTable = Literal["occupancy", "admissions", "discharges", "los", "capacity"]
