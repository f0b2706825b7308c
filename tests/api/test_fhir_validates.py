"""Every FHIR resource the ward emits validates (issue 14, item 2): against the R4B
models of `fhir.resources` (the installed version ships R5, R4B and STU3, not R4)
and against `fhirclient`'s models, generated from FHIR 4.0.1; and the vital signs
follow the R4 vital-signs profile, checked here rule by rule from the spec.  One
case per reading type of ward/domain.py's table, so a new type is covered as soon
as it is a row; blood pressure's pairing; and each resource read back through
ingest's FHIR decoder as the readings it came from.  Pure: no services."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import fhir_checks
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir_checks import PROFILE_RULES, VS, validate, vital_signs_problems
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from pydantic import ValidationError

from api import fhir, fhir_vitals
from ingest import decode
from ward.domain import (
    BOOLEAN,
    BP_COMPONENTS,
    CODE,
    QUANTITY,
    TYPES,
    ReadingType,
)
from ward.news2_chart import ACVPU, ACVPU_SNOMED, PARAMETERS

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LOINC, SNOMED, UCUM = fhir.LOINC, fhir.SNOMED, fhir.UCUM
BP_PARTS = {"8480-6": ReadingType.SYSTOLIC_BP, "8462-4": ReadingType.DIASTOLIC_BP}
def _values(reading_type: ReadingType) -> list[float]:
    """Values of every shape a type takes: each ACVPU letter, on and off, a
    quantity in its plausible range."""
    info = TYPES[reading_type]
    if info.kind == CODE:
        return [float(i) for i in range(len(ACVPU))]
    if info.kind == BOOLEAN:
        return [0.0, 1.0]
    return [info.low, round((info.low + info.high) / 2, 1), info.high]


def _row(t: datetime, reading_type: ReadingType, value: float, device: str = "dev_1"):
    return SimpleNamespace(time=t, type=str(reading_type), value=value, device_id=device)


def _read_back(resources: list[dict[str, Any]]) -> list[tuple[datetime, str, float]]:
    doc = {"resourceType": "Bundle", "type": "collection",
           "entry": [{"resource": r} for r in resources]}
    decoded = decode.decode_message(json.dumps(doc).encode(), "dev_1",
                                    now=T0 + timedelta(minutes=5),
                                    limits=decode.Limits(max_age=timedelta(days=3650)))
    assert decoded.refusals == ()
    return sorted((r.time, str(r.type), r.value) for r in decoded.readings)


# ---------------------------------------------------------------- every reading type


@pytest.mark.parametrize("reading_type", list(TYPES), ids=str)
def test_every_reading_type_validates_and_follows_the_profile(reading_type):
    info = TYPES[reading_type]
    for value in _values(reading_type):
        obs = fhir.vital_sign("pat-1", T0, str(reading_type), value, "dev_1")
        validate(obs)
        assert obs["subject"] == {"reference": "Patient/pat-1"}
        assert obs["effectiveDateTime"] == "2026-11-20T08:00:00Z"
        assert obs["device"]["identifier"]["value"] == "dev_1"
        assert obs["status"] == "final"
        assert vital_signs_problems(obs) == [] or "meta" not in obs
        if reading_type in BP_COMPONENTS:  # a lone half: the panel, below
            assert obs["code"]["coding"][0]["code"] == "85354-9"
            continue
        codes = [*fhir_checks.codes(obs["code"], LOINC), *fhir_checks.codes(obs["code"], SNOMED)]
        if info.fhir_loinc:
            assert codes[0] == info.loinc
            assert [c for c, _ in info.also_loinc] == codes[1:1 + len(info.also_loinc)]
        else:
            assert info.loinc not in codes  # read on the way in, never written
        if info.snomed:
            assert info.snomed in fhir_checks.codes(obs["code"], SNOMED)
        if info.kind == QUANTITY:
            assert obs["meta"]["profile"] == [fhir_vitals.profile_of(info)]
            assert obs["valueQuantity"] == {"value": value, "unit": info.unit_text or info.unit,
                                            "system": UCUM, "code": info.unit}
        else:  # the R4 profile allows a Quantity only: no claim, category exam
            assert "meta" not in obs
            assert obs["category"][0]["coding"][0]["code"] == "exam"
        assert _read_back([obs]) == [(T0, str(reading_type), value)]


def test_every_profile_the_ward_claims_is_checked_here():
    claimed = {fhir_vitals.profile_of(info) for info in TYPES.values()} - {None}
    assert claimed | {VS + "bp"} <= {*PROFILE_RULES, VS + "vitalsigns"}
    assert {*PROFILE_RULES, VS + "vitalsigns"} >= set(fhir_vitals.PROFILE_BY_LOINC.values())


def test_spo2_carries_both_loinc_codes_and_the_oxygen_saturation_profile():
    obs = fhir.vital_sign("pat-1", T0, "spo2", 95.0, "dev_1")
    assert set(fhir_checks.codes(obs["code"], LOINC)) == {"2708-6", "59408-5"}
    assert obs["meta"]["profile"] == [VS + "oxygensat"]
    assert obs["valueQuantity"]["code"] == "%"


def test_oxygen_is_the_snomed_finding_patient_on_oxygen_as_a_boolean():
    for value, on in ((1.0, True), (0.0, False)):
        obs = fhir.vital_sign("pat-1", T0, "on_oxygen", value, "dev_1")
        assert obs["code"]["coding"] == [{"system": SNOMED, "code": "371825009",
                                          "display": "Patient on oxygen"}]
        assert obs["valueBoolean"] is on
        assert "valueQuantity" not in obs  # no flow rate of "true"


def test_acvpu_carries_the_snomed_scale_and_answer_codes():
    for i, letter in enumerate(ACVPU):
        obs = fhir.vital_sign("pat-1", T0, "consciousness", float(i), "dev_1")
        assert fhir_checks.codes(obs["code"], SNOMED) == ["1104441000000107"]
        assert fhir_checks.codes(obs["code"], LOINC) == ["67775-7"]
        assert fhir_checks.codes(obs["valueCodeableConcept"], SNOMED) == [ACVPU_SNOMED[i]]
        assert obs["valueCodeableConcept"]["text"] == letter


# ---------------------------------------------------------------- blood pressure


def _panels(rows) -> list[dict[str, Any]]:
    out = [resource for _, resource in fhir.vital_signs("pat-1", rows)]
    for resource in out:
        validate(resource)
        assert vital_signs_problems(resource) == []
    return out


def _parts(panel: dict[str, Any]) -> dict[ReadingType, float | str]:
    return {BP_PARTS[fhir_checks.codes(c["code"], LOINC)[0]]:
            c["valueQuantity"]["value"] if "valueQuantity" in c
            else c["dataAbsentReason"]["coding"][0]["code"]
            for c in panel["component"]}


def test_a_systolic_and_diastolic_of_one_device_and_time_are_one_panel():
    rows = [_row(T0, ReadingType.DIASTOLIC_BP, 76.0), _row(T0, ReadingType.HEART_RATE, 72.0),
            _row(T0, ReadingType.SYSTOLIC_BP, 118.0)]
    panel, hr = _panels(rows)
    assert panel["code"]["coding"][0]["code"] == "85354-9"
    assert panel["meta"]["profile"] == [VS + "bp"]
    assert _parts(panel) == {ReadingType.SYSTOLIC_BP: 118.0, ReadingType.DIASTOLIC_BP: 76.0}
    assert fhir_checks.codes(hr["code"], LOINC) == ["8867-4"]
    assert _read_back([panel, hr]) == sorted([(T0, "diastolic_bp", 76.0),
                                              (T0, "heart_rate", 72.0),
                                              (T0, "systolic_bp", 118.0)])


@pytest.mark.parametrize(("alone", "absent"), [
    (ReadingType.SYSTOLIC_BP, ReadingType.DIASTOLIC_BP),  # NEWS2 needs only this one
    (ReadingType.DIASTOLIC_BP, ReadingType.SYSTOLIC_BP),
])
def test_a_lone_half_is_the_panel_with_the_other_half_absent(alone, absent):
    (panel,) = _panels([_row(T0, alone, 120.0 if alone == ReadingType.SYSTOLIC_BP else 80.0)])
    parts = _parts(panel)
    assert parts[absent] == "unknown"
    absent_component = next(c for c in panel["component"]
                            if BP_PARTS[fhir_checks.codes(c["code"], LOINC)[0]] == absent)
    assert not any(k.startswith("value") for k in absent_component)
    assert _read_back([panel]) == [(T0, str(alone), parts[alone])]


def test_halves_of_different_devices_or_times_are_not_paired():
    later = T0 + timedelta(seconds=1)
    rows = [_row(T0, ReadingType.SYSTOLIC_BP, 130.0, "cuff_a"),
            _row(T0, ReadingType.DIASTOLIC_BP, 85.0, "cuff_b"),
            _row(later, ReadingType.DIASTOLIC_BP, 84.0, "cuff_a")]
    panels = _panels(rows)
    assert [(p["device"]["identifier"]["value"], p["effectiveDateTime"], _parts(p))
            for p in panels] == [
        ("cuff_a", "2026-11-20T08:00:00Z", {ReadingType.SYSTOLIC_BP: 130.0,
                                            ReadingType.DIASTOLIC_BP: "unknown"}),
        ("cuff_b", "2026-11-20T08:00:00Z", {ReadingType.SYSTOLIC_BP: "unknown",
                                            ReadingType.DIASTOLIC_BP: 85.0}),
        ("cuff_a", "2026-11-20T08:00:01Z", {ReadingType.SYSTOLIC_BP: "unknown",
                                            ReadingType.DIASTOLIC_BP: 84.0})]
    assert len({p["id"] for p in panels}) == 3


def test_pairing_keeps_the_rows_order_newest_first_too():
    later = T0 + timedelta(minutes=1)
    rows = [_row(later, ReadingType.SYSTOLIC_BP, 121.0), _row(later, ReadingType.DIASTOLIC_BP,
                                                               79.0),
            _row(T0, ReadingType.HEART_RATE, 70.0), _row(T0, ReadingType.SYSTOLIC_BP, 119.0)]
    out = list(fhir.vital_signs("pat-1", rows))
    assert [t for t, _ in out] == [later, T0, T0]
    assert [r["code"]["coding"][0]["code"] for _, r in out] == ["85354-9", "8867-4", "85354-9"]


def test_a_code_search_for_either_half_or_the_panel_finds_both_halves():
    for code in ("8480-6", "http://loinc.org|8462-4", "85354-9"):
        assert set(fhir.parse_codes([code]).types) == {"systolic_bp", "diastolic_bp"}
    assert fhir.parse_codes(["8867-4"]).types == ("heart_rate",)
    assert fhir.parse_codes([f"{SNOMED}|371825009"]).types == ("on_oxygen",)
    assert fhir.parse_codes(["1104441000000107"]).types == ("consciousness",)


# ---------------------------------------------------------------- the other resources


def _news2() -> dict[str, Any]:
    return fhir.news2_score("pat-1", T0, 6, "medium", False, ["temperature"],
                            (2, 0, 2, 0, 0, 3, -1), PARAMETERS, 2, adjusted_total=4,
                            adjusted_band="medium", overridden_parameters=["heart_rate"],
                            stale=["spo2"])


def test_scores_patient_bundle_and_outcome_validate():
    news2 = _news2()
    adjusted = fhir.news2_adjusted("pat-1", T0, 4, "medium", False, ["heart_rate"])
    hr = fhir.vital_sign("pat-1", T0, "heart_rate", 72.0, "dev_1")
    resources = [news2, adjusted, hr,
                 fhir.patient("pat-1", "ward-a", "Ann Example", None),
                 fhir.patient("pat-2", "ward-a", None, T0),
                 fhir.bundle([news2, adjusted, hr], "http://h/fhir",
                             "http://h/fhir/Observation?patient=pat-1&_offset=0",
                             "http://h/fhir/Observation?patient=pat-1&_offset=3"),
                 fhir.bundle([], "http://h/fhir", "http://h/fhir/Observation?patient=x",
                             None, total=0),
                 fhir.operation_outcome("not-found", "no patient pat-3")]
    for resource in resources:
        validate(resource)
    assert fhir_checks.codes(news2["code"], SNOMED) == ["1104051000000101"]
    assert news2["category"][0]["coding"][0]["code"] == "survey"
    assert SNOMED not in {c["system"] for c in adjusted["code"]["coding"]}


@pytest.mark.parametrize("broken", [
    lambda r: r.update(valueBoolean="yes"),
    lambda r: r.pop("status"),
    lambda r: r.update(subject="Patient/pat-1"),
    lambda r: r["valueQuantity"].update(value="many"),
    lambda r: r.update(colour="blue"),
    lambda r: r.pop("code"),
])
def test_the_validation_can_fail(broken):
    """Both validators refuse what is not FHIR, so a pass above means something."""
    obs = fhir.vital_sign("pat-1", T0, "heart_rate", 72.0, "dev_1")
    broken(obs)
    with pytest.raises(ValidationError):
        get_fhir_model_class("Observation").model_validate(obs)
    with pytest.raises(FHIRValidationError):
        FHIRElementFactory.instantiate("Observation", obs)


def test_the_profile_check_can_fail():
    obs = fhir.vital_sign("pat-1", T0, "heart_rate", 72.0, "dev_1")
    obs["valueQuantity"]["code"] = "/s"
    assert vital_signs_problems(obs) == [f"{VS}heartrate requires a unit of {{'/min'}}"]
    panel = fhir.vital_sign("pat-1", T0, "systolic_bp", 120.0, "dev_1")
    del panel["component"][1]
    assert any("one systolic and one diastolic" in p for p in vital_signs_problems(panel))
