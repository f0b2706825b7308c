"""FHIR as a client sees it (issue 14, item 2): the CapabilityStatement lists
exactly what the app's /fhir routes serve; a search over a patient with a reading
of every type (ward/domain.py's table) returns only resources that validate, blood
pressure paired into panels across pages; and `fhirclient`, a real FHIR client
library, reads the patient and the observations from a real `vward web` process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import api_fixtures
import fhir_checks
import pytest
from fhirclient import client as fhir_client
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from web_process import web_started

from ward import db
from ward.domain import BOOLEAN, CODE, TYPES, ReadingType

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _value(reading_type: ReadingType) -> float:
    info = TYPES[reading_type]
    return 1.0 if info.kind in (BOOLEAN, CODE) else round((info.low + info.high) / 2, 1)


@pytest.fixture(scope="module")
def readings(web, admin, services_up):
    """A patient with one reading of every type at T0 (systolic and diastolic:
    one panel), and a lone systolic a minute later (NEWS2 takes only that)."""
    pid = api_fixtures.admit(web, admin)
    rows = [(T0, str(t), _value(t)) for t in TYPES]
    rows.append((T0 + timedelta(minutes=1), "systolic_bp", 131.0))
    with db.connect(services_up, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO observations (time, patient_id, device_id, type, value)"
            " VALUES (%s, %s, 'dev_fhir', %s, %s)", [(t, pid, ty, v) for t, ty, v in rows])
        api_fixtures.add_score(conn, pid, T0, 2, "low", sub_scores=(0, 0, 2, 0, 0, 0, 0))
    return pid, rows


def _served(spec: dict) -> dict[str, set[str]]:
    """What the app's /fhir routes serve, as its OpenAPI schema publishes them:
    {resource type: interactions}, and each search's query parameters."""
    served: dict[str, set[str]] = {}
    for path, operations in spec["paths"].items():
        parts = path.removeprefix("/fhir/").split("/")
        if not path.startswith("/fhir/") or parts == ["metadata"]:
            continue
        assert set(operations) == {"get"}, path  # read-only
        kind = "read" if len(parts) == 2 else "search-type"
        served.setdefault(parts[0], set()).add(kind)
        if kind == "search-type":
            served[f"{parts[0]}?"] = {p["name"] for p in operations["get"]["parameters"]
                                      if p["in"] == "query"}
    return served


def test_the_capability_statement_lists_exactly_what_is_served(web, clinician):
    r = web.get("/fhir/metadata", headers=clinician.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    statement = r.json()
    fhir_checks.validate(statement)
    assert statement["fhirVersion"] == "4.0.1" and statement["kind"] == "instance"
    (rest,) = statement["rest"]
    listed: dict[str, set[str]] = {}
    for resource in rest["resource"]:
        listed[resource["type"]] = {i["code"] for i in resource["interaction"]}
        if "searchParam" in resource:
            listed[f"{resource['type']}?"] = {p["name"] for p in resource["searchParam"]}
    spec = web.get("/openapi.json", headers=clinician.headers).json()
    assert listed == _served(spec)
    assert listed["Observation?"] == {"patient", "code", "date", "_count", "_offset", "_sort"}
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    assert fhir_checks.VS + "bp" in observation["supportedProfile"]


def test_every_resource_found_validates_and_blood_pressure_is_paired(web, clinician,
                                                                     readings):
    pid, rows = readings
    r = web.get("/fhir/Observation", params={"patient": pid}, headers=clinician.headers)
    assert r.status_code == 200, r.text
    bundle = r.json()
    fhir_checks.validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        fhir_checks.validate(resource)
        if "meta" in resource:
            assert fhir_checks.vital_signs_problems(resource) == [], resource
    # One per reading, the two halves at T0 as one panel, the lone systolic as a
    # panel of its own, and the NEWS2 total.
    assert bundle["total"] == len(rows) - 1 + 1 == len(resources)
    panels = [r for r in resources if r["code"]["coding"][0]["code"] == "85354-9"]
    assert [[c.get("valueQuantity", {}).get("value") for c in p["component"]]
            for p in panels] == [[_value(ReadingType.SYSTOLIC_BP),
                                  _value(ReadingType.DIASTOLIC_BP)], [131.0, None]]
    assert panels[1]["component"][1]["dataAbsentReason"]["coding"][0]["code"] == "unknown"


def test_pages_never_split_a_panel(web, clinician, readings):
    pid, _ = readings
    whole = web.get("/fhir/Observation", params={"patient": pid, "code": "85354-9"},
                    headers=clinician.headers).json()
    seen, url = [], f"/fhir/Observation?patient={pid}&code=8480-6&_count=1"
    while url:
        page = web.get(url, headers=clinician.headers).json()
        seen += [e["resource"] for e in page["entry"]]
        url = next((lnk["url"].replace("http://testserver", "") for lnk in page["link"]
                    if lnk["relation"] == "next"), None)
    assert seen == [e["resource"] for e in whole["entry"]] and len(seen) == 2


def test_a_fhir_client_library_reads_patients_and_observations(spawn, clinician, readings):
    pid, rows = readings
    url = web_started(spawn)
    smart = fhir_client.FHIRClient(settings={"app_id": "vward-test",
                                             "api_base": f"{url}/fhir"})
    # fhirclient signs requests only after a SMART launch; the ward takes a bearer
    # token, set on the client's own requests session.
    smart.server.session.headers["Authorization"] = f"Bearer {clinician.token}"
    statement = smart.server.capabilityStatement
    assert statement.fhirVersion == "4.0.1"

    patient = Patient.read(pid, smart.server)
    assert patient.id == pid and patient.active is True
    assert patient.name[0].text == "Test Patient"

    search = Observation.where(struct={"patient": pid, "_count": "3"})
    found = list(search.perform_resources_iter(smart.server))  # follows the next links
    assert len(found) == len(rows)  # the readings, T0's halves paired, and the NEWS2 total
    by_code = {o.code.coding[0].code: o for o in found}
    assert by_code["8867-4"].valueQuantity.value == _value(ReadingType.HEART_RATE)
    assert by_code["8867-4"].valueQuantity.code == "/min"
    assert by_code["371825009"].valueBoolean is True
    assert {c.code for c in by_code["59408-5"].code.coding} == {"59408-5", "2708-6"}
    assert by_code["1104051000000101"].valueQuantity.value == 2
    systolic = [o for o in found if o.code.coding[0].code == "85354-9"]
    assert [o.component[0].valueQuantity.value for o in systolic] == [
        _value(ReadingType.SYSTOLIC_BP), 131.0]
    assert systolic[1].component[1].dataAbsentReason.coding[0].code == "unknown"
    assert all(o.subject.reference == f"Patient/{pid}" for o in found)
