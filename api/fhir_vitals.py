"""Readings as FHIR R4 Observations that follow the vital-signs profile; pure.

Every code comes from the reading's row of ward/domain.py (and the ACVPU answers
from ward/news2_chart.py), so a new reading type leaves as FHIR with no line here.
What the profile asks and how the ward meets it (docs/api.md, "FHIR R4"):

* a reading whose LOINC code has a profile of its own (heart rate, respiratory
  rate, oxygen saturation, body temperature, body weight) claims it in
  ``meta.profile``; any other quantity claims the base ``vitalsigns`` profile;
* blood pressure is ONE panel (LOINC 85354-9) whose components are the systolic
  (8480-6) and diastolic (8462-4) readings of the same device at the same time.
  A reading without its partner (NEWS2 needs only the systolic) is the panel with
  the other component's value absent (``dataAbsentReason`` unknown), as the ``bp``
  profile, which requires both components, allows;
* the R4 profile allows only a Quantity value, so the two coded readings
  (consciousness as ACVPU, air or oxygen as a boolean) carry the ``exam``
  category and claim no profile rather than one they cannot meet.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from ward.domain import (
    BOOLEAN,
    BP_COMPONENTS,
    BP_PANEL_DISPLAY,
    BP_PANEL_LOINC,
    CODE,
    LOINC_SYSTEM,
    QUANTITY,
    SNOMED_SYSTEM,
    TYPES,
    UCUM_SYSTEM,
    ReadingType,
    TypeInfo,
)
from ward.news2_chart import ACVPU, ACVPU_DISPLAY, ACVPU_SNOMED

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
PATIENT_SYSTEM = "urn:vward:patient"
DEVICE_SYSTEM = "urn:vward:device"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PROFILE_BASE = "http://hl7.org/fhir/StructureDefinition/"
VITAL_SIGNS_PROFILE = PROFILE_BASE + "vitalsigns"
# The R4 vital-signs profiles, by the LOINC code each one fixes (FHIR R4
# observation-vitalsigns.html); a reading coded with none of them claims the base.
PROFILE_BY_LOINC: dict[str, str] = {
    "9279-1": PROFILE_BASE + "resprate",
    "8867-4": PROFILE_BASE + "heartrate",
    "2708-6": PROFILE_BASE + "oxygensat",
    "8310-5": PROFILE_BASE + "bodytemp",
    "29463-7": PROFILE_BASE + "bodyweight",
    BP_PANEL_LOINC: PROFILE_BASE + "bp",
}
# The partner of a blood-pressure reading has no value: "expected to exist but
# not known" (the device sent only one of the two).
ABSENT_UNKNOWN = {"coding": [{"system": DATA_ABSENT_SYSTEM, "code": "unknown",
                              "display": "Unknown"}], "text": "not sent with this reading"}
_BP = frozenset(BP_COMPONENTS)


class Row(Protocol):
    """A stored reading as the search reads it (api/series.py's ObservationRow)."""

    @property
    def time(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def device_id(self) -> str: ...


def resource_id(*parts: Any) -> str:
    """A stable resource id (FHIR ids allow [A-Za-z0-9.-]{1,64}; ours have '_')."""
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def instant(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CATEGORY_SYSTEM, "code": code, "display": display}]}]


def code_of(info: TypeInfo) -> dict[str, Any]:
    """The CodeableConcept of a reading type: its LOINC codes (unless it keeps only
    a SNOMED CT one), then its SNOMED CT code."""
    coding: list[dict[str, Any]] = []
    if info.fhir_loinc:
        coding.append({"system": LOINC_SYSTEM, "code": info.loinc, "display": info.display})
        coding += [{"system": LOINC_SYSTEM, "code": c, "display": d}
                   for c, d in info.also_loinc]
    if info.snomed:
        coding.append({"system": SNOMED_SYSTEM, "code": info.snomed,
                       "display": info.snomed_display or info.display})
    return {"coding": coding, "text": info.display}


def profile_of(info: TypeInfo) -> str | None:
    """The vital-signs profile a reading of this type meets, if any."""
    if info.kind != QUANTITY or not info.fhir_loinc:
        return None
    for code in (info.loinc, *(c for c, _ in info.also_loinc)):
        if code in PROFILE_BY_LOINC:
            return PROFILE_BY_LOINC[code]
    return VITAL_SIGNS_PROFILE


def _quantity(info: TypeInfo, value: float) -> dict[str, Any]:
    return {"value": value, "unit": info.unit_text or info.unit, "system": UCUM_SYSTEM,
            "code": info.unit}


def _observation(rid: str, patient_id: str, time: datetime, device_id: str,
                 code: dict[str, Any], profile: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Observation", "id": rid}
    if profile:
        out["meta"] = {"profile": [profile]}
    out |= {
        "status": "final",
        "category": (category("vital-signs", "Vital Signs") if profile
                     else category("exam", "Exam")),
        "code": code,
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": instant(time),
        "device": {"identifier": {"system": DEVICE_SYSTEM, "value": device_id}},
    }
    return out


def vital_sign(patient_id: str, time: datetime, type_: str, value: float,
               device_id: str) -> dict[str, Any]:
    """One reading as an Observation of its own (blood pressure: see
    ``blood_pressure``)."""
    reading_type = ReadingType(type_)
    if reading_type in _BP:
        return blood_pressure(patient_id, time, device_id, {reading_type: value})
    info = TYPES[reading_type]
    out = _observation(resource_id("obs", device_id, type_, time.isoformat()), patient_id,
                       time, device_id, code_of(info), profile_of(info))
    if info.kind == CODE:  # consciousness, an ACVPU index
        i = int(value)
        out["valueCodeableConcept"] = {
            "coding": [{"system": SNOMED_SYSTEM, "code": ACVPU_SNOMED[i],
                        "display": ACVPU_DISPLAY[i]}],
            "text": ACVPU[i]}
    elif info.kind == BOOLEAN:
        # Stored as on (1) or off (0), not as a flow: a boolean says only that.
        out["valueBoolean"] = value >= 0.5
    else:
        out["valueQuantity"] = _quantity(info, value)
    return out


def blood_pressure(patient_id: str, time: datetime, device_id: str,
                   values: dict[ReadingType, float]) -> dict[str, Any]:
    """The 85354-9 panel of one device's blood pressure at one time; a component
    whose reading is missing has ``dataAbsentReason`` unknown and no value."""
    code = {"coding": [{"system": LOINC_SYSTEM, "code": BP_PANEL_LOINC,
                        "display": BP_PANEL_DISPLAY}], "text": "Blood pressure"}
    out = _observation(resource_id("bp", device_id, time.isoformat()), patient_id, time,
                       device_id, code, PROFILE_BY_LOINC[BP_PANEL_LOINC])
    components = []
    for reading_type in BP_COMPONENTS:
        info = TYPES[reading_type]
        component: dict[str, Any] = {"code": code_of(info)}
        if reading_type in values:
            component["valueQuantity"] = _quantity(info, values[reading_type])
        else:
            component["dataAbsentReason"] = ABSENT_UNKNOWN
        components.append(component)
    out["component"] = components
    return out


def vital_signs(patient_id: str, rows: Iterable[Row]) -> Iterator[tuple[datetime, dict]]:
    """(time, Observation) of each reading, in the rows' order (by time, either
    way): the systolic and diastolic readings of one device at one time become one
    panel, at the place of the first of them."""
    for time, group in itertools.groupby(rows, key=lambda r: r.time):
        pending: list[Row | str] = []  # a row, or the device whose panel goes here
        panels: dict[str, dict[ReadingType, float]] = {}
        for row in group:
            reading_type = ReadingType(row.type)
            if reading_type not in _BP:
                pending.append(row)
                continue
            if row.device_id not in panels:
                panels[row.device_id] = {}
                pending.append(row.device_id)
            panels[row.device_id][reading_type] = row.value
        for item in pending:
            if isinstance(item, str):
                yield time, blood_pressure(patient_id, time, item, panels[item])
            else:
                yield time, vital_sign(patient_id, time, item.type, item.value,
                                       item.device_id)
