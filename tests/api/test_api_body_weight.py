"""A vital sign is a row (issue 11): body weight, one row of ward/domain.py's
TYPES, posted by a device through HTTP ingestion (ingest's own door), comes
out of the REST API as a chart series and out of FHIR with its LOINC and
SNOMED codes, and reads back through ingest's FHIR decoder as itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from api_fixtures import iso

from api import fhir
from ingest import decode

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician
LATER = timedelta(minutes=1)


@dataclass(frozen=True)
class Scale:
    device_id: str
    patient_id: str
    t0: datetime  # the first weight's time; the second is LATER


@pytest.fixture(scope="module")
def scale(web, admin):
    """A patient whose scale sent two weights, one in pounds (stored 81.6466266 kg)."""
    dev = api_fixtures.admit_with_device(web, admin, kind="generic")
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)  # once assigned
    body = {"id": "weigh-1", "readings": [
        {"time": iso(t0), "type": "body_weight", "value": 180, "unit": "[lb_av]"},
        {"time": iso(t0 + LATER), "type": "body_weight", "value": 80.9, "unit": "kg"}]}
    r = web.post(f"/api/v1/devices/{dev.device_id}/readings", content=json.dumps(body),
                 headers={**dev.headers, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["stored"], r.json()["refused"]) == (2, 2, [])
    return Scale(dev.device_id, dev.patient_id, t0)


def _weights(web, person, patient_id, **params):
    r = web.get("/fhir/Observation", params={"patient": patient_id, **params},
                headers=person.headers)
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


def test_body_weight_leaves_as_fhir_with_loinc_snomed_and_kg(web, clinician, scale):
    found = _weights(web, clinician, scale.patient_id, code="29463-7", _sort="date")
    assert len(found) == 2
    first = found[0]
    assert first["code"]["coding"] == [
        {"system": fhir.LOINC, "code": "29463-7", "display": "Body weight"},
        {"system": fhir.SNOMED, "code": "27113001", "display": "Body weight"}]
    assert first["category"][0]["coding"][0]["code"] == "vital-signs"
    assert first["valueQuantity"] == {"value": pytest.approx(81.6466266), "unit": "kg",
                                      "system": fhir.UCUM, "code": "kg"}
    assert first["effectiveDateTime"] == iso(scale.t0)
    assert first["device"]["identifier"]["value"] == scale.device_id
    by_snomed = _weights(web, clinician, scale.patient_id, code=f"{fhir.SNOMED}|27113001")
    assert sorted(r["id"] for r in by_snomed) == sorted(r["id"] for r in found)


def test_exported_body_weight_reads_back_as_the_same_reading(web, clinician, scale):
    resource = _weights(web, clinician, scale.patient_id, code="29463-7", _sort="date")[1]
    payload = json.dumps({"resourceType": "Bundle", "entry": [{"resource": resource}]}).encode()
    done = decode.decode_message(payload, scale.device_id, now=datetime.now(UTC))
    assert not done.refusals
    [reading] = done.readings
    assert (reading.type, reading.value, reading.time) == (
        "body_weight", 80.9, scale.t0 + LATER)


def test_body_weight_is_in_the_patients_chart_series(web, clinician, scale):
    url = f"/api/v1/patients/{scale.patient_id}/observations"
    window = {"start": iso(scale.t0), "end": iso(scale.t0 + 2 * LATER)}
    body = web.get(url, params={**window, "type": "body_weight"},
                   headers=clinician.headers).json()
    [series] = body["series"]
    assert (series["type"], series["unit"], series["loinc"]) == ("body_weight", "kg", "29463-7")
    assert series["value"] == pytest.approx([81.6466266, 80.9])
    everything = web.get(url, params=window, headers=clinician.headers).json()
    assert [s["type"] for s in everything["series"]] == ["body_weight"]
