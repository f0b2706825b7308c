"""FHIR R4 Observation / Bundle (vital-signs profile) → the same readings as
our own message format (design.md, "Device contract (MQTT)"; news2.md,
"Coding when data leaves as FHIR"); pure, no services."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import decode, fhir
from ingest.decode import Decoded, decode_message
from ward.domain import ReadingType

NOW = datetime(2026, 11, 23, 8, 1, tzinfo=UTC)
T0 = "2026-11-23T08:00:00Z"
T0_DT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DEVICE = "fhir-dev"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"


def _code(*codes: str, system: str = LOINC) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": c} for c in codes]}


def _quantity(value: Any, code: str | None, unit: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value, "system": UCUM}
    if code is not None:
        q["code"] = code
    if unit is not None:
        q["unit"] = unit
    return q


def _obs(
    loinc: str | tuple[str, ...],
    value: Any = None,
    unit: str | None = None,
    *,
    status: str = "final",
    time: str | None = T0,
    oid: str | None = "obs-1",
    **extra: Any,
) -> dict[str, Any]:
    codes = (loinc,) if isinstance(loinc, str) else loinc
    doc: dict[str, Any] = {
        "resourceType": "Observation",
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": _code(*codes),
    }
    if oid is not None:
        doc["id"] = oid
    if time is not None:
        doc["effectiveDateTime"] = time
    if value is not None:
        doc["valueQuantity"] = _quantity(value, unit)
    doc.update(extra)
    return doc


def _decode(doc: dict[str, Any]) -> Decoded:
    return decode_message(json.dumps(doc).encode(), DEVICE, now=NOW)


def _single(doc: dict[str, Any]) -> tuple[ReadingType, float]:
    d = _decode(doc)
    assert d.refusals == (), d.refusals
    assert len(d.readings) == 1
    r = d.readings[0]
    assert r.device_id == DEVICE
    assert r.time == T0_DT
    return r.type, r.value


# --- single Observations -------------------------------------------------------


def test_heart_rate_observation() -> None:
    doc = _obs("8867-4", 72, "/min")
    assert _single(doc) == (ReadingType.HEART_RATE, 72.0)
    assert _decode(doc).message_id == "obs-1"


def test_heart_rate_in_annotated_unit() -> None:
    assert _single(_obs("8867-4", 72, "{beats}/min")) == (ReadingType.HEART_RATE, 72.0)


def test_respiratory_rate_observation() -> None:
    assert _single(_obs("9279-1", 18, "/min")) == (ReadingType.RESPIRATORY_RATE, 18.0)


@pytest.mark.parametrize("codes", [("59408-5",), ("2708-6",), ("2708-6", "59408-5")])
def test_spo2_by_either_loinc_code(codes: tuple[str, ...]) -> None:
    assert _single(_obs(codes, 95, "%")) == (ReadingType.SPO2, 95.0)


def test_temperature_in_fahrenheit_is_converted() -> None:
    t, v = _single(_obs("8310-5", 98.6, "[degF]"))
    assert t is ReadingType.TEMPERATURE
    assert v == pytest.approx(37.0, abs=1e-9)


def test_temperature_in_celsius() -> None:
    assert _single(_obs("8310-5", 38.2, "Cel")) == (ReadingType.TEMPERATURE, 38.2)


def test_unit_from_code_without_ucum_system() -> None:
    doc = _obs("8867-4")
    doc["valueQuantity"] = {"value": 64, "code": "/min"}
    assert _single(doc) == (ReadingType.HEART_RATE, 64.0)


def test_human_unit_text_without_code_is_refused_not_guessed() -> None:
    doc = _obs("8867-4")
    doc["valueQuantity"] = {"value": 64, "unit": "beats/minute"}
    d = _decode(doc)
    assert d.readings == ()
    assert d.refusals[0].code == decode.UNKNOWN_UNIT and "beats/minute" in d.refusals[0].reason


def test_oxygen_flow_without_unit_is_litres_per_minute() -> None:
    doc = _obs("3151-8")
    doc["valueQuantity"] = {"value": 2}
    assert _single(doc) == (ReadingType.ON_OXYGEN, 1.0)
    doc["valueQuantity"] = {"value": 0}
    assert _single(doc) == (ReadingType.ON_OXYGEN, 0.0)


def test_oxygen_flow_in_ml_per_minute() -> None:
    assert _single(_obs("3151-8", 250, "mL/min")) == (ReadingType.ON_OXYGEN, 1.0)


def test_oxygen_as_boolean() -> None:
    assert _single(_obs("3151-8", valueBoolean=False)) == (ReadingType.ON_OXYGEN, 0.0)
    assert _single(_obs("3151-8", valueBoolean=True)) == (ReadingType.ON_OXYGEN, 1.0)


def test_implausible_fhir_value_refused() -> None:
    d = _decode(_obs("8867-4", 900, "/min"))
    assert d.readings == ()
    assert d.refusals[0].code == decode.IMPLAUSIBLE and "900" in d.refusals[0].reason


# --- consciousness (ACVPU as SNOMED CT, news2.md) -----------------------------


@pytest.mark.parametrize(
    ("snomed", "code"),
    [
        ("248234008", 0.0),  # alert
        ("130987000", 1.0),  # acute confusion
        ("300202002", 2.0),  # voice
        ("450847001", 3.0),  # pain
        ("422768004", 4.0),  # unresponsive
    ],
)
def test_consciousness_by_snomed_code(snomed: str, code: float) -> None:
    doc = _obs("67775-7", valueCodeableConcept=_code(snomed, system=SNOMED))
    assert _single(doc) == (ReadingType.CONSCIOUSNESS, code)


def test_consciousness_by_letter_code_or_text() -> None:
    doc = _obs("67775-7", valueCodeableConcept={"coding": [{"code": "V"}]})
    assert _single(doc) == (ReadingType.CONSCIOUSNESS, 2.0)
    doc = _obs("67775-7", valueCodeableConcept={"text": "p"})
    assert _single(doc) == (ReadingType.CONSCIOUSNESS, 3.0)
    doc = _obs("67775-7", valueString="U")
    assert _single(doc) == (ReadingType.CONSCIOUSNESS, 4.0)


def test_unknown_snomed_consciousness_code_refused() -> None:
    doc = _obs("67775-7", valueCodeableConcept=_code("404684003", system=SNOMED))
    d = _decode(doc)
    assert d.readings == ()
    assert d.refusals[0].code == decode.BAD_VALUE
    assert "A, C, V, P, U" in d.refusals[0].reason


# --- time ----------------------------------------------------------------------


def test_effective_period_start_is_the_time() -> None:
    doc = _obs(
        "8867-4",
        70,
        "/min",
        time=None,
        effectivePeriod={"start": T0, "end": "2026-11-23T08:00:30Z"},
    )
    assert _single(doc) == (ReadingType.HEART_RATE, 70.0)


def test_effective_instant_is_the_time() -> None:
    doc = _obs("8867-4", 70, "/min", time=None, effectiveInstant=T0)
    assert _single(doc) == (ReadingType.HEART_RATE, 70.0)


def test_observation_without_time_refused() -> None:
    d = _decode(_obs("8867-4", 70, "/min", time=None))
    assert d.readings == () and d.refusals[0].code == decode.BAD_TIME


def test_date_only_effective_time_refused_for_lack_of_zone() -> None:
    d = _decode(_obs("8867-4", 70, "/min", time="2026-11-23"))
    assert d.refusals[0].code == decode.BAD_TIME and "time zone" in d.refusals[0].reason


# --- blood-pressure panel ------------------------------------------------------


def _bp_panel(systolic: Any, diastolic: Any, unit: str = "mm[Hg]") -> dict[str, Any]:
    return _obs(
        "85354-9",
        oid="bp-1",
        component=[
            {"code": _code("8480-6"), "valueQuantity": _quantity(systolic, unit)},
            {"code": _code("8462-4"), "valueQuantity": _quantity(diastolic, unit)},
        ],
    )


def test_bp_panel_gives_one_reading_per_component() -> None:
    d = _decode(_bp_panel(128, 84))
    assert d.refusals == ()
    assert d.message_id == "bp-1"
    assert [(r.type, r.value, r.time) for r in d.readings] == [
        (ReadingType.SYSTOLIC_BP, 128.0, T0_DT),
        (ReadingType.DIASTOLIC_BP, 84.0, T0_DT),
    ]


def test_bp_panel_in_kpa() -> None:
    d = _decode(_bp_panel(16, 10.7, "kPa"))
    assert [r.type for r in d.readings] == [ReadingType.SYSTOLIC_BP, ReadingType.DIASTOLIC_BP]
    # 16 kPa × 760/101.325 = 120.01 mmHg; 10.7 kPa → 80.26 mmHg
    assert d.readings[0].value == pytest.approx(120.0, abs=0.02)
    assert d.readings[1].value == pytest.approx(80.26, abs=0.01)


def test_bp_panel_bad_component_refused_other_kept() -> None:
    d = _decode(_bp_panel(128, 400))  # diastolic 400 is implausible
    assert [(r.type, r.value) for r in d.readings] == [(ReadingType.SYSTOLIC_BP, 128.0)]
    assert [(r.index, r.code) for r in d.refusals] == [(1, decode.IMPLAUSIBLE)]


def test_bp_panel_without_components_refused() -> None:
    d = _decode(_obs("85354-9"))
    assert d.readings == ()
    assert len(d.refusals) == 1 and d.refusals[0].code == decode.UNKNOWN_TYPE


def test_bp_panel_raw_mapping() -> None:
    raw = fhir.to_raw_readings(_bp_panel(128, 84))
    assert raw == [
        {"type": "systolic_bp", "time": T0, "value": 128, "unit": "mm[Hg]"},
        {"type": "diastolic_bp", "time": T0, "value": 84, "unit": "mm[Hg]"},
    ]


# --- status --------------------------------------------------------------------


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_withdrawn_status_refused(status: str) -> None:
    d = _decode(_obs("8867-4", 72, "/min", status=status))
    assert d.readings == ()
    assert not d.whole_refused
    r = d.refusals[0]
    assert r.code == decode.BAD_STRUCTURE and r.index == 0
    assert status in r.reason


@pytest.mark.parametrize("status", ["final", "amended", "preliminary", "corrected"])
def test_usable_status_accepted(status: str) -> None:
    assert _single(_obs("8867-4", 72, "/min", status=status)) == (ReadingType.HEART_RATE, 72.0)


# --- Bundles -------------------------------------------------------------------


def test_bundle_non_observation_entry_refused_others_kept() -> None:
    bundle = {
        "resourceType": "Bundle",
        "id": "bundle-7",
        "type": "collection",
        "entry": [
            {"resource": _obs("8867-4", 72, "/min", oid="a")},
            {"resource": {"resourceType": "Patient", "id": "p1"}},
            {"resource": _obs("59408-5", 96, "%", oid="b")},
            {"resource": _obs("8310-5", 100.4, "[degF]", oid="c")},  # (100.4-32)*5/9 = 38.0
            {"fullUrl": "urn:uuid:1"},
            "not even an object",
        ],
    }
    d = _decode(bundle)
    assert d.message_id == "bundle-7"
    assert not d.whole_refused
    assert [(r.type, r.value) for r in d.readings] == [
        (ReadingType.HEART_RATE, 72.0),
        (ReadingType.SPO2, 96.0),
        (ReadingType.TEMPERATURE, pytest.approx(38.0, abs=1e-9)),
    ]
    assert [(r.index, r.code) for r in d.refusals] == [
        (1, decode.BAD_STRUCTURE),
        (4, decode.BAD_STRUCTURE),
        (5, decode.BAD_STRUCTURE),
    ]
    assert all("not an Observation" in r.reason for r in d.refusals)


def test_bundle_with_panel_and_withdrawn_entry() -> None:
    bundle = {
        "resourceType": "Bundle",
        "id": "b2",
        "entry": [
            {"resource": _bp_panel(140, 90)},
            {"resource": _obs("8867-4", 72, "/min", status="entered-in-error")},
            {"resource": _obs("9279-1", 22, "/min")},
        ],
    }
    d = _decode(bundle)
    assert [(r.type, r.value) for r in d.readings] == [
        (ReadingType.SYSTOLIC_BP, 140.0),
        (ReadingType.DIASTOLIC_BP, 90.0),
        (ReadingType.RESPIRATORY_RATE, 22.0),
    ]
    assert len(d.refusals) == 1 and "entered-in-error" in d.refusals[0].reason


@pytest.mark.parametrize("entries", [None, [], "x", {"resource": {}}])
def test_bundle_without_entries_refused_whole(entries: Any) -> None:
    doc: dict[str, Any] = {"resourceType": "Bundle", "id": "empty"}
    if entries is not None:
        doc["entry"] = entries
    d = _decode(doc)
    assert d.whole_refused and d.readings == ()
    assert d.refusals[0].code == decode.BAD_STRUCTURE
    assert "no entries" in d.refusals[0].reason
    assert d.message_id == "empty"


@pytest.mark.parametrize("kind", ["Patient", "DiagnosticReport", None, 5])
def test_unknown_resource_type_refused_whole(kind: Any) -> None:
    d = _decode({"resourceType": kind, "id": "r-1", "valueQuantity": {"value": 72}})
    assert d.whole_refused and d.readings == ()
    assert d.refusals[0].code == decode.BAD_STRUCTURE
    assert repr(kind) in d.refusals[0].reason
    assert d.message_id == "r-1"


def test_to_raw_readings_raises_fhir_error_for_other_resources() -> None:
    with pytest.raises(fhir.FhirError, match="Patient"):
        fhir.to_raw_readings({"resourceType": "Patient"})
    assert issubclass(fhir.FhirError, ValueError)


def test_unknown_loinc_code_refused_naming_the_code() -> None:
    d = _decode(_obs("2339-0", 5.5, "mmol/L"))  # glucose
    assert d.readings == ()
    assert d.refusals[0].code == decode.UNKNOWN_TYPE and "loinc:2339-0" in d.refusals[0].reason


def test_non_loinc_code_refused() -> None:
    doc = _obs("8867-4", 72, "/min")
    doc["code"] = _code("364075005", system=SNOMED)  # heart rate, but in SNOMED
    d = _decode(doc)
    assert d.refusals[0].code == decode.UNKNOWN_TYPE


# --- robustness ------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        {"resourceType": "Observation", "status": []},
        {"resourceType": "Observation", "status": {"x": 1}},
        {"resourceType": "Observation", "code": {"coding": 5}},
        {
            "resourceType": "Observation",
            "code": {"coding": [{"system": LOINC, "code": ["8867-4"]}]},
        },
        {"resourceType": "Observation", "code": _code("85354-9"), "component": 5},
        {
            "resourceType": "Observation",
            "code": _code("67775-7"),
            "effectiveDateTime": T0,
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": ["248234008"]}]},
        },
        {
            "resourceType": "Bundle",
            "entry": [{"resource": {"resourceType": "Observation", "status": ["final"]}}],
        },
    ],
)
def test_malformed_fhir_is_refused_not_raised(doc: dict[str, Any]) -> None:
    # design.md: "Nothing crashes the service" — a wrong JSON type anywhere
    # in a FHIR document must give a refusal, not an exception.
    d = _decode(doc)
    assert d.readings == ()
    assert d.refusals and all(r.reason for r in d.refusals)


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_codings = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "system": st.sampled_from([LOINC, SNOMED, UCUM]) | _json_values,
            "code": st.sampled_from(
                ["8867-4", "85354-9", "8480-6", "67775-7", "248234008", "3151-8"]
            )
            | _json_values,
        },
    ),
    max_size=3,
)
_concepts = (
    st.fixed_dictionaries({}, optional={"coding": _codings | _json_values, "text": _json_values})
    | _json_values
)
_observations = st.fixed_dictionaries(
    {"resourceType": st.just("Observation")},
    optional={
        "id": _json_values,
        "status": st.sampled_from(["final", "entered-in-error"]) | _json_values,
        "code": _concepts,
        "effectiveDateTime": st.just(T0) | _json_values,
        "effectivePeriod": _json_values,
        "valueQuantity": st.fixed_dictionaries(
            {},
            optional={
                "value": _json_values,
                "code": _json_values,
                "system": st.just(UCUM) | _json_values,
            },
        )
        | _json_values,
        "valueCodeableConcept": _concepts,
        "valueBoolean": _json_values,
        "component": st.lists(
            st.fixed_dictionaries({}, optional={"code": _concepts, "valueQuantity": _json_values})
            | _json_values,
            max_size=3,
        )
        | _json_values,
    },
)
_bundles = st.fixed_dictionaries(
    {"resourceType": st.just("Bundle")},
    optional={
        "id": _json_values,
        "entry": st.lists(
            st.fixed_dictionaries({}, optional={"resource": _observations | _json_values})
            | _json_values,
            max_size=4,
        )
        | _json_values,
    },
)


@settings(database=None, deadline=None, max_examples=300)
@given(_observations | _bundles)
def test_fhir_shaped_documents_never_raise(doc: dict[str, Any]) -> None:
    d = _decode(doc)
    assert isinstance(d, Decoded)
    assert all(r.reason and r.code in decode.REASON_CODES for r in d.refusals)
