"""FHIR R4 output: Patient read and Observation search, their shape, codes
and paging; and that our own Observations read back through ingest's FHIR
decoder as the very readings they came from."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import api_fixtures
import fhir_checks
import pytest

from api import fhir
from ingest import decode

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
VITALS = [(T0, "heart_rate", 72.0), (T0, "spo2", 95.0), (T0, "on_oxygen", 1.0),
          (T0, "consciousness", 1.0), (T0, "temperature", 38.2), (T0, "systolic_bp", 118.0),
          (T0 + timedelta(minutes=1), "respiratory_rate", 21.0),
          (T0 + timedelta(minutes=1), "diastolic_bp", 76.0)]


@pytest.fixture(scope="module")
def patient_id(web, admin, services_up):
    from ward import db

    pid = api_fixtures.admit(web, admin)
    with db.connect(services_up, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO observations (time, patient_id, device_id, type, value)"
            " VALUES (%s, %s, 'ox_1', %s, %s)", [(t, pid, ty, v) for t, ty, v in VITALS])
        api_fixtures.add_score(conn, pid, T0 + timedelta(minutes=1), 6, "medium",
                  sub_scores=(2, 0, 2, 0, 0, 3, -1), complete=False, missing=("temperature",),
                  scale=2, inputs=(21, 95, 1, 118, 72, 1, None))
    return pid


def _search(web, person, **params):
    return web.get("/fhir/Observation", params=params, headers=person.headers)


def test_patient_read(web, clinician, patient_id):
    r = web.get(f"/fhir/Patient/{patient_id}", headers=clinician.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    body = r.json()
    assert body["resourceType"] == "Patient" and body["id"] == patient_id
    assert body["identifier"] == [{"system": fhir.PATIENT_SYSTEM, "value": patient_id}]
    assert body["active"] is True and body["name"] == [{"text": "Test Patient"}]
    missing = web.get("/fhir/Patient/nobody", headers=clinician.headers)
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert missing.json()["issue"][0]["code"] == "not-found"


def test_observation_search_is_a_searchset_bundle_with_loinc_and_snomed(web, clinician,
                                                                        patient_id):
    r = _search(web, clinician, patient=f"Patient/{patient_id}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    bundle = r.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert bundle["total"] == len(VITALS) + 1
    resources = [e["resource"] for e in bundle["entry"]]
    assert all(e["fullUrl"].endswith(f"/fhir/Observation/{e['resource']['id']}")
               for e in bundle["entry"])
    by_code = {r["code"]["coding"][0]["code"]: r for r in resources}
    for resource in resources:
        fhir_checks.validate(resource)
        if "meta" in resource:
            assert fhir_checks.vital_signs_problems(resource) == []
    hr = by_code["8867-4"]
    assert hr["status"] == "final" and hr["subject"] == {"reference": f"Patient/{patient_id}"}
    assert hr["category"][0]["coding"][0]["code"] == "vital-signs"
    assert hr["valueQuantity"] == {"value": 72.0, "unit": "/min",
                                   "system": "http://unitsofmeasure.org", "code": "/min"}
    assert hr["effectiveDateTime"] == "2026-11-20T08:00:00Z"
    assert [c["code"] for c in by_code["59408-5"]["code"]["coding"]] == ["59408-5", "2708-6"]
    assert by_code["8310-5"]["valueQuantity"]["code"] == "Cel"
    # Systolic and diastolic a minute apart: two panels, each with the other half absent.
    panels = [r for r in resources if r["code"]["coding"][0]["code"] == "85354-9"]
    assert [[c.get("valueQuantity", {}).get("value") for c in p["component"]]
            for p in panels] == [[118.0, None], [None, 76.0]]
    assert panels[0]["component"][0]["valueQuantity"]["unit"] == "mmHg"
    assert by_code["371825009"]["valueBoolean"] is True  # SNOMED CT: patient on oxygen
    acvpu = by_code["67775-7"]["valueCodeableConcept"]
    assert acvpu["coding"][0] == {"system": fhir.SNOMED, "code": "130987000",
                                  "display": "Acute confusion"}
    news2 = by_code[fhir.NEWS2_TOTAL]
    assert news2["code"]["coding"][0]["system"] == fhir.SNOMED
    assert news2["valueQuantity"]["value"] == 6 and news2["valueQuantity"]["code"] == "{score}"
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
                  for c in news2["component"]}
    assert components == {"1104301000000104": 2, "1104321000000108": 0,  # SpO2 on scale 2
                          "1104331000000105": 2, "1104341000000101": 0,
                          "1104351000000103": 0, "1104361000000100": 3}
    assert "missing temperature" in news2["note"][0]["text"]
    assert len({r["id"] for r in resources}) == len(resources)


def test_search_by_code_and_date(web, clinician, patient_id):
    hr = _search(web, clinician, patient=patient_id, code="http://loinc.org|8867-4").json()
    assert [e["resource"]["code"]["coding"][0]["code"] for e in hr["entry"]] == ["8867-4"]
    both = _search(web, clinician, patient=patient_id,
                   code=f"9279-1,{fhir.SNOMED}|{fhir.NEWS2_TOTAL}").json()
    assert both["total"] == 2
    assert _search(web, clinician, patient=patient_id, code="1234-5").json()["total"] == 0
    late = _search(web, clinician, patient=patient_id, date="ge2026-11-20T08:01:00Z").json()
    assert late["total"] == 3  # RR, DBP and the score
    day = web.get("/fhir/Observation", headers=clinician.headers,
                  params=[("patient", patient_id), ("date", "ge2026-11-20"),
                          ("date", "lt2026-11-20T08:01:00Z")]).json()
    assert day["total"] == 6
    assert _search(web, clinician, patient=patient_id, date="2026-11-21").json()["total"] == 0


def test_paging_follows_next_links(web, clinician, patient_id):
    first = _search(web, clinician, patient=patient_id, _count=4, _sort="-date").json()
    assert "total" not in first and len(first["entry"]) == 4
    seen, page, pages = [], first, 1
    while True:
        seen += [e["resource"]["id"] for e in page["entry"]]
        link = {lnk["relation"]: lnk["url"] for lnk in page["link"]}
        if "next" not in link:
            break
        page = web.get(link["next"].replace("http://testserver", ""),
                       headers=clinician.headers).json()
        pages += 1
    assert pages == 3 and page["total"] == len(VITALS) + 1
    assert len(seen) == len(set(seen)) == len(VITALS) + 1
    assert first["entry"][0]["resource"]["effectiveDateTime"] == "2026-11-20T08:01:00Z"


def test_bad_searches_are_operation_outcomes(web, admin, clinician):
    x = api_fixtures.admit(web, admin)  # one of the clinician's patients
    for params in ({}, {"patient": x, "date": "gt2026-13-01"},
                   {"patient": x, "date": "yesterday"}, {"patient": "Group/x"}):
        r = _search(web, clinician, **params)
        assert r.status_code == 400, params
        assert r.json()["resourceType"] == "OperationOutcome"
    r = web.get("/fhir/Observation?patient=x")
    assert r.status_code == 401 and r.json()["issue"][0]["code"] == "login"


def test_our_observations_read_back_through_ingests_decoder(web, clinician, patient_id):
    bundle = _search(web, clinician, patient=patient_id).json()
    vitals = [e for e in bundle["entry"]
              if e["resource"]["category"][0]["coding"][0]["code"] != "survey"]
    doc = {"resourceType": "Bundle", "id": "round-trip", "type": "collection", "entry": vitals}
    decoded = decode.decode_message(json.dumps(doc).encode(), "ox_1",
                                    now=T0 + timedelta(minutes=2),
                                    limits=decode.Limits(max_age=timedelta(days=3650)))
    assert decoded.refusals == ()
    assert sorted((r.time, str(r.type), r.value) for r in decoded.readings) == sorted(VITALS)


def test_the_capability_statement(web, clinician):
    body = web.get("/fhir/metadata", headers=clinician.headers).json()
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
