"""Our rows as FHIR R4 resources, and FHIR search parameters as our query;
pure.  Vital signs are api/fhir_vitals.py's (the vital-signs profile, blood
pressure as one panel); NEWS2 totals carry SNOMED CT 1104051000000101 with
their sub-scores as components (news2.md, "Coding when data leaves as FHIR").

The SNOMED NEWS2 total is always the true NEWS2 (RCP chart, no per-patient
adjustment).  Where a clinician's accepted range changed a sub-score, the
adjusted score leaves as an Observation of its own, coded only in our local
system (``ADJUSTED_SYSTEM``) and named "not NEWS2", derived from the true one,
so that nobody reading the record can mistake it for NEWS2."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api.fhir_vitals import DEVICE_SYSTEM as DEVICE_SYSTEM
from api.fhir_vitals import PATIENT_SYSTEM, category
from api.fhir_vitals import PROFILE_BY_LOINC as PROFILE_BY_LOINC
from api.fhir_vitals import VITAL_SIGNS_PROFILE as VITAL_SIGNS_PROFILE
from api.fhir_vitals import instant as _instant
from api.fhir_vitals import resource_id as _id
from api.fhir_vitals import vital_sign as vital_sign
from api.fhir_vitals import vital_signs as vital_signs
from ward.domain import (
    BP_COMPONENTS,
    BP_PANEL_LOINC,
    LOINC_SYSTEM,
    LOINC_TO_TYPE,
    SNOMED_SYSTEM,
    SNOMED_TO_TYPE,
    TYPES,
    UCUM_SYSTEM,
)
from ward.news2_chart import NEWS2_TOTAL_SNOMED, SUBSCORE_SNOMED

LOINC = LOINC_SYSTEM
SNOMED = SNOMED_SYSTEM
UCUM = UCUM_SYSTEM

NEWS2_TOTAL = NEWS2_TOTAL_SNOMED
# The adjusted score: a local code, never SNOMED's (it is not NEWS2).
ADJUSTED_SYSTEM = "urn:vward:score"
NEWS2_ADJUSTED = "news2-adjusted"
NEWS2_ADJUSTED_TEXT = "NEWS2 adjusted by patient-specific accepted ranges (not NEWS2)"
# news2.md: sub-score codes, per NEWS2 parameter (SpO2 by scale).
NEWS2_SUBSCORE = SUBSCORE_SNOMED
LOINC_TYPES = LOINC_TO_TYPE


class SearchError(ValueError):
    """A search parameter we cannot read."""


def patient(patient_id: str, ward_id: str, display_name: str | None,
            discharged_at: datetime | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": PATIENT_SYSTEM, "value": patient_id}],
        "active": discharged_at is None,
    }
    if display_name:
        out["name"] = [{"text": display_name}]
    out["extension"] = [{"url": "urn:vward:ward", "valueString": ward_id}]
    return out


def news2_score(patient_id: str, time: datetime, total: int, band: str, complete: bool,
                missing: list[str], sub_scores: Iterable[int], parameters: tuple[str, ...],
                spo2_scale: int, *, adjusted_total: int | None = None,
                adjusted_band: str | None = None, overridden_parameters: Iterable[str] = (),
                stale: Iterable[str] = ()) -> dict[str, Any]:
    """The true NEWS2 total (``total``, ``sub_scores``: never adjusted) as an
    Observation; its notes say what is missing or stale and point to the adjusted
    score when there is one (``news2_adjusted``)."""
    components = []
    for name, points in zip(parameters, sub_scores, strict=True):
        if points < 0:  # parameter missing from this score
            continue
        key = f"spo2:{spo2_scale}" if name == "spo2" else name
        components.append({
            "code": {"coding": [{"system": SNOMED, "code": NEWS2_SUBSCORE[key]}], "text": name},
            "valueQuantity": _score_quantity(points)})
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id("news2", patient_id, time.isoformat()),
        "status": "final",
        "category": category("survey", "Survey"),
        "code": {"coding": [{"system": SNOMED, "code": NEWS2_TOTAL,
                             "display": "National Early Warning Score 2 total score"}],
                 "text": "NEWS2"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": _instant(time),
        "valueQuantity": _score_quantity(total),
        "interpretation": [{"text": band}],
        "component": components,
    }
    notes = []
    if not complete:
        notes.append("incomplete set (a lower bound)"
                     + (": missing " + ", ".join(missing) if missing else ""))
    stale = list(stale)
    if stale:
        notes.append("measured longer ago than the monitoring interval allows (stale): "
                     + ", ".join(stale))
    if adjusted_total is not None:
        notes.append(f"a clinician's accepted range applies to"
                     f" {', '.join(overridden_parameters)}: the adjusted score"
                     f" ({adjusted_total}, {adjusted_band}) is Observation/"
                     f"{_id('news2-adjusted', patient_id, time.isoformat())}, which is not"
                     " NEWS2")
    if notes:
        out["note"] = [{"text": n} for n in notes]
    return out


def news2_adjusted(patient_id: str, time: datetime, adjusted_total: int, adjusted_band: str,
                   complete: bool, overridden_parameters: Iterable[str]) -> dict[str, Any]:
    """The score after a clinician's accepted ranges (what the ward's alerts follow), as
    an Observation of its own: a local code only, the words "not NEWS2", derived from
    the true NEWS2 Observation of the same instant."""
    overridden = ", ".join(overridden_parameters)
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id("news2-adjusted", patient_id, time.isoformat()),
        "status": "final",
        "category": category("survey", "Survey"),
        "code": {"coding": [{"system": ADJUSTED_SYSTEM, "code": NEWS2_ADJUSTED,
                             "display": NEWS2_ADJUSTED_TEXT}],
                 "text": NEWS2_ADJUSTED_TEXT},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": _instant(time),
        "valueQuantity": _score_quantity(adjusted_total),
        "interpretation": [{"text": adjusted_band}],
        "derivedFrom": [{"reference": f"Observation/{_id('news2', patient_id, time.isoformat())}",
                         "display": "NEWS2 total (true score)"}],
        "note": [{"text": f"Not NEWS2: the NEWS2 total with the sub-scores of {overridden}"
                          " counted 0 within the patient's accepted range, set by a clinician."
                          + ("" if complete else " Incomplete set (a lower bound).")}],
    }
    return out


def _score_quantity(points: int) -> dict[str, Any]:
    return {"value": points, "unit": "{score}", "system": UCUM, "code": "{score}"}


def bundle(entries: list[dict[str, Any]], base_url: str, self_url: str,
           next_url: str | None, total: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        out["total"] = total
    out["link"] = [{"relation": "self", "url": self_url}]
    if next_url:
        out["link"].append({"relation": "next", "url": next_url})
    out["entry"] = [{"fullUrl": f"{base_url}/{e['resourceType']}/{e['id']}", "resource": e,
                     "search": {"mode": "match"}} for e in entries]
    return out


def operation_outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


# ---------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class Codes:
    """What `code=` asks for: reading types, whether NEWS2 totals, whether
    adjusted scores."""

    types: tuple[str, ...]
    news2: bool
    adjusted: bool = False


def parse_codes(values: list[str] | None) -> Codes:
    """`code=8867-4`, `code=http://loinc.org|8867-4,http://snomed.info/sct|1104051000000101`,
    `code=urn:vward:score|news2-adjusted`.  No code: every vital sign, the NEWS2
    totals and the adjusted scores.  An unknown code matches nothing (FHIR search
    semantics), it is no error."""
    if not values:
        return Codes(tuple(str(t) for t in TYPES), True, True)
    types: list[str] = []
    news2 = adjusted = False
    for token in (v for value in values for v in value.split(",") if v):
        system, _, code = token.rpartition("|")
        if system in ("", SNOMED) and code == NEWS2_TOTAL:
            news2 = True
        elif system in ("", ADJUSTED_SYSTEM) and code == NEWS2_ADJUSTED:
            adjusted = True
        elif system in ("", LOINC) and code in LOINC_TYPES:
            types.append(str(LOINC_TYPES[code]))
        elif system in ("", SNOMED) and code in SNOMED_TO_TYPE:
            types.append(str(SNOMED_TO_TYPE[code]))
        elif system in ("", LOINC) and code == BP_PANEL_LOINC:
            types += [str(t) for t in BP_COMPONENTS]
    if any(t in types for t in BP_COMPONENTS):
        # Blood pressure leaves as panels: either half's code finds the panels.
        types += [str(t) for t in BP_COMPONENTS]
    return Codes(tuple(dict.fromkeys(types)), news2, adjusted)


def parse_patient(value: str) -> str:
    ref = value.removeprefix("Patient/")
    if not ref or "/" in ref:
        raise SearchError(f"patient={value!r}: give a patient id or Patient/id")
    return ref


_DATE = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4}(-\d{2}(-\d{2})?)?)(T[0-9:.]+)?"
                   r"(Z|[+-]\d{2}:\d{2})?$")


def _range(day: str, clock: str | None, zone: str | None) -> tuple[datetime, datetime]:
    """The instants a FHIR date value covers, [low, high), at its precision."""
    tz = UTC if zone in (None, "Z") else datetime.strptime(zone, "%z").tzinfo
    if clock is None:
        parts = [int(p) for p in day.split("-")]
        if len(parts) == 1:
            low = datetime(parts[0], 1, 1, tzinfo=tz)
            return low, datetime(parts[0] + 1, 1, 1, tzinfo=tz)
        if len(parts) == 2:
            low = datetime(parts[0], parts[1], 1, tzinfo=tz)
            y, m = (parts[0] + 1, 1) if parts[1] == 12 else (parts[0], parts[1] + 1)
            return low, datetime(y, m, 1, tzinfo=tz)
        low = datetime(parts[0], parts[1], parts[2], tzinfo=tz)
        return low, low + timedelta(days=1)
    low = datetime.fromisoformat(day + clock).replace(tzinfo=tz)
    step = (timedelta(microseconds=1) if "." in clock
            else timedelta(seconds=1) if clock.count(":") == 2 else timedelta(minutes=1))
    return low, low + step


def parse_dates(values: list[str] | None, *, default_start: datetime,
                default_end: datetime) -> tuple[datetime, datetime]:
    """`date=ge2026-11-23&date=lt2026-11-24T08:00:00Z` → [start, end)."""
    start, end = default_start, default_end
    explicit_start = explicit_end = False
    for value in values or []:
        m = _DATE.match(value)
        if m is None:
            raise SearchError(f"date={value!r} is not a FHIR date (e.g. ge2026-11-23T08:00:00Z)")
        prefix, day, _, _, clock, zone = m.groups()
        try:
            low, high = _range(day, clock, zone)
        except ValueError as exc:
            raise SearchError(f"date={value!r}: {exc}") from None
        prefix = prefix or "eq"
        bounds = {"ge": (low, None), "gt": (high, None), "sa": (high, None),
                  "lt": (None, low), "le": (None, high), "eb": (None, low),
                  "eq": (low, high)}.get(prefix)
        if bounds is None:
            raise SearchError(f"date prefix {prefix!r} is not supported (use eq, ge, gt, le, lt)")
        lo, hi = bounds
        if lo is not None:
            start = lo if not explicit_start else max(start, lo)
            explicit_start = True
        if hi is not None:
            end = hi if not explicit_end else min(end, hi)
            explicit_end = True
    return start, end
