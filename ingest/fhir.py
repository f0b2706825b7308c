"""FHIR R4 Observation / Bundle (vital-signs profile) → our raw readings
format, so that one validator judges both; pure."""

from __future__ import annotations

from typing import Any

from ingest.jsontext import Ambiguous
from ward.domain import (
    BOOLEAN,
    BP_PANEL_LOINC,
    LOINC_SYSTEM,
    LOINC_TO_TYPE,
    SNOMED_SYSTEM,
    SNOMED_TO_TYPE,
    TYPES,
    UCUM_SYSTEM,
)
from ward.news2_chart import ACVPU, ACVPU_SNOMED


class FhirError(ValueError):
    """The document is not an Observation or Bundle of them we can read."""


LOINC = LOINC_SYSTEM
SNOMED = SNOMED_SYSTEM
BP_PANEL = BP_PANEL_LOINC
# ACVPU as SNOMED CT (news2.md, "Coding when data leaves as FHIR").
SNOMED_ACVPU = dict(zip(ACVPU_SNOMED, ACVPU, strict=True))
# Air or oxygen: a boolean, or a flow when it comes as a quantity.
_BOOLEAN_TYPES = frozenset(str(t) for t, info in TYPES.items() if info.kind == BOOLEAN)
_REFUSED_STATUS = {"entered-in-error", "cancelled"}


def to_raw_readings(doc: dict[str, Any]) -> list[Any]:
    """The raw readings of an Observation or a Bundle of them.  An
    Observation with a key given twice anywhere in it becomes the `Ambiguous`
    object found, which the decoder refuses as that reading."""
    kind = doc.get("resourceType")
    if kind == "Observation":
        return _observation(doc)
    if kind == "Bundle":
        entries = doc.get("entry")
        if not isinstance(entries, list) or not entries:
            raise FhirError("Bundle has no entries")
        raw: list[Any] = []
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "Observation":
                raw.extend(_observation(resource))
            else:
                raw.append({"_refused": "Bundle entry is not an Observation"})
        return raw
    raise FhirError(f"resourceType {kind!r} is not Observation or Bundle")


def _ambiguous_in(value: Any) -> Ambiguous | None:
    """The first object with a duplicate key in `value` (an Observation: a
    small tree, walked only for FHIR messages)."""
    if type(value) is Ambiguous:
        return value
    children = value.values() if isinstance(value, dict) else value if isinstance(
        value, list) else ()
    for child in children:
        if isinstance(child, dict | list) and (found := _ambiguous_in(child)) is not None:
            return found
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in _list(concept.get("coding")) if isinstance(c, dict)]


def _codes(concept: Any, system: str) -> list[str]:
    return [
        code
        for c in _codings(concept)
        if c.get("system") == system and (code := _text(c.get("code"))) is not None
    ]


def _loinc_codes(concept: Any) -> list[str]:
    return _codes(concept, LOINC)


def _type_of(concept: Any) -> str | None:
    """The reading type a concept codes: by LOINC first, then by SNOMED CT (the
    types that have a SNOMED code, ward/domain.py)."""
    codes = _loinc_codes(concept)
    for code in codes:
        if code in LOINC_TO_TYPE:
            return str(LOINC_TO_TYPE[code])
    for code in _codes(concept, SNOMED):
        if code in SNOMED_TO_TYPE:
            return str(SNOMED_TO_TYPE[code])
    return f"loinc:{codes[0]}" if codes else None


def _time(obs: dict[str, Any]) -> Any:
    if "effectiveDateTime" in obs:
        return obs["effectiveDateTime"]
    if "effectiveInstant" in obs:
        return obs["effectiveInstant"]
    period = obs.get("effectivePeriod")
    if isinstance(period, dict):
        return period.get("start")
    return None


def _observation(obs: dict[str, Any]) -> list[Any]:
    """One Observation → one raw reading each for itself or its components."""
    ambiguous = _ambiguous_in(obs)
    if ambiguous is not None:
        return [ambiguous]
    time = _time(obs)
    if _text(obs.get("status")) in _REFUSED_STATUS:
        return [
            {
                "type": _type_of(obs.get("code")),
                "time": time,
                "value": None,
                "_refused": f"Observation status is {obs['status']}",
            }
        ]
    if BP_PANEL in _loinc_codes(obs.get("code")):
        out = []
        for comp in _list(obs.get("component")):
            if isinstance(comp, dict) and not _absent(comp):
                out.append(_valued(_type_of(comp.get("code")), time, comp))
        return out or [{"type": "blood_pressure_panel", "time": time, "value": None}]
    return [_valued(_type_of(obs.get("code")), time, obs)]


def _absent(component: dict[str, Any]) -> bool:
    """A component that says it has no value (a panel with one reading of the
    two, as the ward itself sends): no reading, and nothing to refuse."""
    return "dataAbsentReason" in component and not any(
        key.startswith("value") for key in component)


def _valued(type_name: str | None, time: Any, holder: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {"type": type_name, "time": time}
    if "valueQuantity" in holder and isinstance(holder["valueQuantity"], dict):
        q = holder["valueQuantity"]
        raw["value"] = q.get("value")
        unit = q.get("code") if q.get("system") == UCUM_SYSTEM else None
        raw["unit"] = unit or q.get("code") or q.get("unit")
        if type_name in _BOOLEAN_TYPES and raw["unit"] is None:
            raw["unit"] = "L/min"  # a quantity of oxygen is a flow
    elif "valueCodeableConcept" in holder:
        raw["value"] = _acvpu(holder["valueCodeableConcept"])
    elif "valueString" in holder:
        raw["value"] = holder["valueString"]
    elif "valueBoolean" in holder:
        raw["value"] = holder["valueBoolean"]
    else:
        raw["value"] = None
    return raw


def _acvpu(concept: Any) -> Any:
    if not isinstance(concept, dict):
        return concept
    for c in _codings(concept):
        code = _text(c.get("code"))
        if c.get("system") == SNOMED and code in SNOMED_ACVPU:
            return SNOMED_ACVPU[code]
        if code in ACVPU:
            return code
    return concept.get("text")
