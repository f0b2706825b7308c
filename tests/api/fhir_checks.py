"""What the FHIR tests check a resource against: both libraries' models, and the
R4 vital-signs profile rule by rule (the models check structure, not profiles).
Not a test module: the FHIR tests import it by name, as they do api_fixtures."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from api import fhir_vitals
from ward.domain import LOINC_SYSTEM as LOINC
from ward.domain import UCUM_SYSTEM as UCUM

CATEGORY = fhir_vitals.CATEGORY_SYSTEM
VS = "http://hl7.org/fhir/StructureDefinition/"
# The R4 vital-signs profiles (hl7.org/fhir/R4/observation-vitalsigns.html): the
# LOINC code each requires and the UCUM codes its valueQuantity may take.
PROFILE_RULES: dict[str, tuple[str, set[str]]] = {
    VS + "resprate": ("9279-1", {"/min"}),
    VS + "heartrate": ("8867-4", {"/min"}),
    VS + "oxygensat": ("2708-6", {"%"}),
    VS + "bodytemp": ("8310-5", {"Cel", "[degF]"}),
    VS + "bodyweight": ("29463-7", {"kg", "g", "[lb_av]"}),
    VS + "bp": ("85354-9", set()),
}


def validate(resource: dict[str, Any]) -> None:
    """Raises unless both libraries take the resource as valid FHIR."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    FHIRElementFactory.instantiate(resource["resourceType"], resource)  # strict


def codes(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c.get("system") == system]


def vital_signs_problems(obs: dict[str, Any]) -> list[str]:
    """What an Observation claiming a vital-signs profile breaks of it."""
    problems = []
    if not any(c.get("system") == CATEGORY and c.get("code") == "vital-signs"
               for cat in obs.get("category", []) for c in cat.get("coding", [])):
        problems.append("no vital-signs category")
    if not obs.get("subject", {}).get("reference", "").startswith("Patient/"):
        problems.append("subject is not a Patient")
    if "effectiveDateTime" not in obs:
        problems.append("no effectiveDateTime")
    values = [k for k in obs if k.startswith("value")]
    if values not in ([], ["valueQuantity"]):
        problems.append(f"value[x] is {values}, the profile allows Quantity only")
    if not values and "dataAbsentReason" not in obs and "component" not in obs:
        problems.append("vs-2: no value, no dataAbsentReason, no component")
    for holder in [obs, *obs.get("component", [])]:
        q = holder.get("valueQuantity")
        if holder is not obs and q is None and "dataAbsentReason" not in holder:
            problems.append("vs-3: a component with neither value nor dataAbsentReason")
        if q is not None and not ({"value", "unit", "system", "code"} <= q.keys()
                                  and q["system"] == UCUM):
            problems.append(f"not a UCUM quantity: {q}")
    for profile in obs.get("meta", {}).get("profile", []):
        if profile == VS + "vitalsigns":
            continue
        loinc, units = PROFILE_RULES[profile]
        if loinc not in codes(obs["code"], LOINC):
            problems.append(f"{profile} requires LOINC {loinc}")
        if units and obs.get("valueQuantity", {}).get("code") not in units:
            problems.append(f"{profile} requires a unit of {units}")
        if profile == VS + "bp":
            parts = sorted(c for comp in obs.get("component", [])
                           for c in codes(comp["code"], LOINC))
            if parts != ["8462-4", "8480-6"]:
                problems.append(f"bp requires one systolic and one diastolic, has {parts}")
            problems += [f"bp component in {comp['valueQuantity']['code']}"
                         for comp in obs["component"]
                         if "valueQuantity" in comp and comp["valueQuantity"]["code"] != "mm[Hg]"]
            if "valueQuantity" in obs:
                problems.append("bp: the panel has no value of its own")
    return problems


