"""Discharge that tells the GP (issue 14, item 1), for real: a patient admitted
3 hours ago sends readings through the API's ingest door, the alerts engine
scores them and raises an alert, a clinician puts them on SpO2 scale 2 and
acknowledges the alert, and `vward patient discharge` (a real process) makes the
summary.  The FHIR document validates (fhir.resources R4B and fhirclient's
models), its PDF's first page renders (pdftoppm) to something not blank, a FHIR
client library reads the Bundle back, and bad input gets clear refusals with
nothing changed.  One module-scoped stay serves every test."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import api_fixtures
import fhir_checks
import numpy as np
import psycopg
import pytest
from conftest import ROOT, service_env, unique, wait_for
from fhirclient import client as fhir_client
from fhirclient.models.bundle import Bundle
from PIL import Image
from web_process import web_started

from alerts.engine import Engine
from api import admission, discharge_fhir, discharge_pdf, discharge_record
from dashboard import deps as dashboard_deps
from dashboard import discharge_panel
from ward import db
from ward.records import ScoreRow

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician
SUMMARY = "Exacerbation of COPD settled at home; SpO2 88–92 % on scale 2. GP to review in 1 week."
NORMAL = {"respiratory_rate": 16, "spo2": 93, "on_oxygen": 0, "systolic_bp": 120,
          "diastolic_bp": 78, "heart_rate": 70, "consciousness": "A", "temperature": 37.0}
HIGH = {"respiratory_rate": 26, "spo2": 85, "on_oxygen": 1}  # 3 + 3 (scale 1) + 2


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT, timeout=120,
                          env=service_env(settings), capture_output=True, text=True)


def _send(web, dev: dict, t: datetime, **changes: float) -> None:
    values = {**NORMAL, **changes}
    r = web.post(f"/api/v1/devices/{dev['device_id']}/readings", content=json.dumps({
        "id": unique("m"), "readings": [{"time": api_fixtures.iso(t), "type": k, "value": v}
                                        for k, v in values.items()]}).encode(),
        headers={"Authorization": f"Bearer {dev['token']}", "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["stored"] == len(values), r.text


@pytest.fixture(scope="module")
def stay(web, admin, clinician, services_up):
    """A stay, discharged through the CLI: (patient id, ward id, document path, CLI
    output, the alert's id)."""
    ward_id = unique("wd")
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    pid = api_fixtures.admit(web, admin, ward_id=ward_id)  # the fixtures' staff see it
    with db.connect(services_up, autocommit=True) as conn:
        conn.execute("UPDATE patients SET admitted_at = %s, admission_source = 'step-down'"
                     " WHERE patient_id = %s", (start, pid))
    r = web.put(f"/api/v1/patients/{pid}/nhs-number", json={"nhs_number": "943 476 5919"},
                headers=admin.headers)  # as an admin records it, written as people write it
    assert r.status_code == 200 and r.json() == {"nhs_number": "9434765919"}, r.text
    r = web.post("/api/v1/devices", json={"device_id": unique("dd"), "patient_id": pid,
                                          "kind": "patch", "valid_from": start.isoformat()},
                 headers=admin.headers)
    assert r.status_code == 201, r.text
    dev = r.json()
    for k in range(6):  # every 30 min; the last set is high: a live alert
        _send(web, dev, start + timedelta(minutes=5 + 30 * k), **(HIGH if k == 5 else {}))
    with db.connect(services_up, autocommit=True) as conn:
        engine = Engine(db.connect(services_up, autocommit=True), wards=[ward_id],
                        engine_id=unique("engine"), freshness=timedelta(hours=12))
        try:
            engine.drain(now)
        finally:
            engine.conn.close()
        alert_id = conn.execute("SELECT alert_id FROM alerts WHERE patient_id = %s AND kind ="
                                " 'news2'", (pid,)).fetchone()[0]
    r = web.post(f"/api/v1/alerts/{alert_id}/acknowledge",
                 json={"action": "phoned the patient; oxygen titrated",
                       "changed_management": True}, headers=clinician.headers)
    assert r.status_code == 200, r.text
    r = web.put(f"/api/v1/patients/{pid}/settings/spo2-scale",
                json={"scale": 2, "reason": "confirmed hypercapnic respiratory failure"},
                headers=clinician.headers)
    assert r.status_code == 200, r.text
    out = _vward(services_up, "patient", "discharge", pid, "--by", clinician.name,
                 "--summary", SUMMARY, "--outcome", "home",
                 "--admission-reason", "COPD exacerbation")
    assert out.returncode == 0, out.stdout + out.stderr
    return pid, ward_id, out.stdout.strip().splitlines()[-1], out.stdout, alert_id


def test_the_document_validates_and_tells_the_gp(web, clinician, stay, conn):
    pid, _, path, printed, alert_id = stay
    assert path.startswith("/fhir/Bundle/") and f"patient {pid} discharged" in printed
    r = web.get(path, headers=clinician.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    bundle = r.json()
    fhir_checks.validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    patient_url = bundle["entry"][1]["fullUrl"]
    for resource in resources:
        fhir_checks.validate(resource)
        if "meta" in resource:  # a vital sign: its subject is the document's Patient
            assert resource["subject"] == {"reference": patient_url}
            as_served = {**resource, "subject": {"reference": f"Patient/{pid}"}}
            assert fhir_checks.vital_signs_problems(as_served) == [], resource
    assert bundle["type"] == "document" and bundle["id"] == path.rsplit("/", 1)[1]
    kinds = [x["resourceType"] for x in resources]
    assert kinds[0] == "Composition"
    assert {"Patient", "Encounter", "Observation", "DetectedIssue", "Flag", "Device",
            "Practitioner"} <= set(kinds)
    # Every reference resolves inside the document.
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = [v for v in _values(bundle, "reference")]
    assert refs and set(refs) <= urls
    composition = resources[0]
    assert composition["type"]["coding"][0]["code"] == "18842-5"
    text = json.dumps(composition)
    assert "GP to review in 1 week" in text and "COPD exacerbation" in text
    assert "On admission: NEWS2 " in text and "Highest: NEWS2 8 (high)" in text
    patient = next(x for x in resources if x["resourceType"] == "Patient")
    assert patient["identifier"][0] == {"system": "https://fhir.nhs.uk/Id/nhs-number",
                                        "value": "9434765919"}
    encounter = next(x for x in resources if x["resourceType"] == "Encounter")
    assert encounter["status"] == "finished" and encounter["class"]["code"] == "HH"
    assert encounter["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "home"
    issue = next(x for x in resources if x["resourceType"] == "DetectedIssue"
                 and x["identifier"][0]["value"] == str(alert_id))
    assert issue["severity"] == "high"
    (mitigation,) = issue["mitigation"]
    assert "oxygen titrated" in mitigation["action"]["text"]
    assert mitigation["extension"] == [{"url": discharge_fhir.CHANGED_MANAGEMENT,
                                        "valueBoolean": True}]
    (flag,) = [x for x in resources if x["resourceType"] == "Flag"]
    assert "SpO2 scale 2" in flag["code"]["text"] and clinician.name in flag["code"]["text"]
    news2 = [x for x in resources if x["resourceType"] == "Observation"
             and x["code"]["coding"][0]["code"] == "1104051000000101"]
    assert max(o["valueQuantity"]["value"] for o in news2) == 8
    assert {x["identifier"][0]["value"] for x in resources
            if x["resourceType"] == "Practitioner"} == {clinician.name}
    # Found by patient; listed in the capability statement.
    found = web.get("/fhir/Composition", params={"patient": f"Patient/{pid}"},
                    headers=clinician.headers).json()
    fhir_checks.validate(found)
    assert [e["resource"]["id"] for e in found["entry"]] == [bundle["id"]]
    statement = web.get("/fhir/metadata", headers=clinician.headers).json()
    served = {x["type"]: x for x in statement["rest"][0]["resource"]}
    assert served["Bundle"]["interaction"] == [{"code": "read"}]
    assert [p["name"] for p in served["Composition"]["searchParam"]] == ["patient"]


def test_a_clinician_of_another_ward_finds_no_document(web, services_up, stay):
    pid, _, path, _, _ = stay
    elsewhere = api_fixtures.make_person(services_up, "clinician", wards=(unique("wd"),))
    r = web.get(path, headers=elsewhere.headers)
    assert r.status_code == 404 and "no document" in json.dumps(r.json())
    for url in (f"/fhir/Composition?patient={pid}",
                f"/api/v1/patients/{pid}/discharge-summary.pdf"):
        assert web.get(url, headers=elsewhere.headers).status_code == 404, url


def test_the_document_is_kept_as_it_was_sent(web, clinician, stay, conn):
    pid, _, path, _, _ = stay
    before = web.get(path, headers=clinician.headers).json()
    for statement in ("UPDATE discharge_summaries SET summary_text = 'x'",
                      "DELETE FROM discharge_summaries"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(statement + " WHERE patient_id = %s", (pid,))
    assert web.get(path, headers=clinician.headers).json() == before


def test_the_pdf_renders_a_first_page_with_something_on_it(web, clinician, stay, tmp_path):
    pid = stay[0]
    r = web.get(f"/api/v1/patients/{pid}/discharge-summary.pdf", headers=clinician.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    (tmp_path / "s.pdf").write_bytes(r.content)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1",
                    str(tmp_path / "s.pdf"), str(tmp_path / "page")], check=True, timeout=60)
    (png,) = tmp_path.glob("page*.png")
    pixels = np.asarray(Image.open(io.BytesIO(png.read_bytes())).convert("L"), dtype=float)
    assert pixels.shape[0] > 300 and pixels.std() > 10, pixels.std()  # not a blank page
    # The chart's coloured bands are there (a row of the high band's pink).
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=int)
    pink = (abs(rgb[..., 0] - 248) < 6) & (abs(rgb[..., 1] - 214) < 6)
    assert pink.sum() > 500


def test_a_fhir_client_library_reads_the_document_back(spawn, clinician, stay):
    path = stay[2]
    url = web_started(spawn)
    smart = fhir_client.FHIRClient(settings={"app_id": "vward-test",
                                             "api_base": f"{url}/fhir"})
    smart.server.session.headers["Authorization"] = f"Bearer {clinician.token}"
    document = Bundle.read(path.rsplit("/", 1)[1], smart.server)
    assert document.type == "document"
    composition = document.entry[0].resource
    assert composition.resource_type == "Composition"
    assert composition.subject.reference == document.entry[1].fullUrl
    assert document.entry[1].resource.identifier[0].value == "9434765919"
    assert any("GP to review" in s.text.div for s in composition.section)


def test_the_api_discharges_as_a_clinician_and_refuses_bad_input(web, admin, clinician,
                                                                 services_up, conn):
    dev = api_fixtures.admit_with_device(web, admin, ward_id=unique("wd"))
    url = f"/api/v1/patients/{dev.patient_id}/discharge"
    body = {"summary": "Well; no follow-up needed.", "outcome": "home"}
    refusals = [
        (admin.headers, body, 403, "written by a clinician"),
        (dev.headers, body, 403, "device token"),
        (clinician.headers, {"outcome": "home"}, 422, "summary"),
        (clinician.headers, {**body, "summary": ""}, 422, "summary"),
        (clinician.headers, {**body, "summary": "   "}, 422, "summary is empty"),
    ]
    for headers, sent, status, words in refusals:
        r = web.post(url, json=sent, headers=headers)
        assert r.status_code == status and words in r.text, (sent, r.text)
    assert conn.execute("SELECT discharged_at FROM patients WHERE patient_id = %s",
                        (dev.patient_id,)).fetchone() == (None,)  # nothing changed
    unknown = web.post(f"/api/v1/patients/{unique('nobody')}/discharge", json=body,
                       headers=clinician.headers)
    assert unknown.status_code == 404 and "no patient" in unknown.json()["detail"]
    r = web.post(url, json=body, headers=clinician.headers)
    assert r.status_code == 200, r.text
    made = r.json()
    assert made["unassigned_devices"] == [dev.device_id]
    assert made["document"].startswith("/fhir/Bundle/")
    assert made["pdf"] == f"/api/v1/patients/{dev.patient_id}/discharge-summary.pdf"
    doc = web.get(made["document"], headers=clinician.headers).json()
    fhir_checks.validate(doc)
    assert "No alerts." in json.dumps(doc["entry"][0]["resource"])
    again = web.post(url, json=body, headers=clinician.headers)
    assert again.status_code == 409 and "was discharged at" in again.json()["detail"]
    assert conn.execute("SELECT count(*) FROM discharge_summaries WHERE patient_id = %s",
                        (dev.patient_id,)).fetchone() == (1,)
    missing = web.get("/fhir/Bundle/00000000-0000-4000-8000-000000000000",
                      headers=clinician.headers)
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


def test_the_cli_refuses_bad_input_with_nothing_changed(web, services_up, admin, clinician,
                                                        stay, conn):
    pid = stay[0]
    other = api_fixtures.admit(web, admin, ward_id=unique("wd"))
    elsewhere = api_fixtures.make_person(services_up, "clinician", wards=(unique("wd"),))
    cases = [
        ((other, "--by", elsewhere.name, "--summary", "x"), "which is not one of"),
        ((unique("nobody"), "--by", clinician.name, "--summary", "x"), "no patient"),
        ((pid, "--by", clinician.name, "--summary", "x"), "was discharged at"),
        ((other, "--by", clinician.name, "--summary", "  "), "summary is empty"),
        ((other, "--by", admin.name, "--summary", "x"), "is an admin"),
        ((other, "--by", "someone-else", "--summary", "x"), "not a user of the ward"),
    ]
    # Run side by side: each is a whole `vward` process.
    runs = [subprocess.Popen([sys.executable, "-m", "ward.cli", "patient", "discharge", *args],
                             cwd=ROOT, env=service_env(services_up), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for args, _ in cases]
    for (args, words), run in zip(cases, runs, strict=True):
        out, err = run.communicate(timeout=120)
        assert run.returncode == 2 and words in err, (args, out, err)
    assert conn.execute("SELECT discharged_at FROM patients WHERE patient_id = %s",
                        (other,)).fetchone() == (None,)


def test_the_dashboard_button_discharges_as_a_clinician_then_links_the_pdf(
        web, admin, clinician, services_up):
    pid = api_fixtures.admit(web, admin, ward_id=unique("wd"))
    db = dashboard_deps.Database(services_up, max_size=1)
    now = datetime.now(UTC)

    def press(summary: str, person, discharge=admission.discharge_with_summary) -> list:
        return discharge_panel.act(db, discharge, pid, summary, "hospital", "Pneumonia",
                                   user=person.name, role=person.role, now=now)
    try:
        assert "written by a clinician" in str(press("Sent in.", admin))
        assert "summary is empty" in str(press("  ", clinician))
        assert "served by the ward's web app" in str(press("Sent in.", clinician, None))
        elsewhere = api_fixtures.make_person(services_up, "clinician", wards=(unique("wd"),))
        assert f"no patient {pid}" in str(press("Sent in.", elsewhere))
        assert web.get(f"/api/v1/patients/{pid}", headers=clinician.headers).json()[
            "discharged_at"] is None  # nothing changed
        done, links = press("Sent in by ambulance; admitted to ward 7.", clinician)
    finally:
        db.close()
    assert "discharged by" in str(done)
    pdf, document = (a.href for a in links.children if hasattr(a, "href"))
    assert pdf == f"/api/v1/patients/{pid}/discharge-summary.pdf"
    assert web.get(pdf, headers=clinician.headers).content.startswith(b"%PDF-")
    bundle = web.get(document, headers=clinician.headers).json()
    assert bundle["entry"][2]["resource"]["hospitalization"]["dischargeDisposition"][
        "coding"][0]["code"] == "other-hcf"
    assert "pt-discharge" in str(discharge_panel.section())
    db = dashboard_deps.Database(services_up, max_size=1)
    try:  # the page of a patient discharged already links the summary made then
        again = discharge_panel.made_before(db, pid)
        assert discharge_panel.made_before(db, unique("nobody")) == []
    finally:
        db.close()
    assert document in str(again) and pdf in str(again)


# The end of a demo: one simulated septic patient (four simulated hours at 720x,
# every device half-hourly) through the broker, `vward ingest` and `vward alerts`.
DEMO = """
[ward]
id = "ward-demo-discharge"
patients = 1
[devices.interval_s]
oximeter = 1800
bp_cuff = 1800
thermometer = 1800
tablet = 1800
[[groups]]
name = "sepsis"
course = "sepsis"
count = 1
onset_s = [60, 60]
duration_s = [3600, 3600]
devices = ["oximeter", "bp_cuff", "thermometer", "tablet"]
"""


def test_a_simulated_patient_discharged_at_the_end_of_a_demo(web, admin, clinician, spawn,
                                                            services_up, conn, tmp_path):
    ward = unique("ward")
    api_fixtures.admit(web, admin, ward_id=ward)  # the ward, and its staff
    ingest = spawn("ingest")
    alerts = spawn("alerts", VWARD_ALERTS_WARDS=ward, VWARD_ALERTS_ENGINE_ID=unique("engine"),
                   VWARD_ALERTS_TICK_SECONDS="1")
    wait_for(lambda: "connected to" in ingest.output(), what="ingest connected")
    wait_for(lambda: "catching up" in alerts.output(), what="alerts engine running")
    (tmp_path / "demo.toml").write_text(DEMO)
    sim = spawn("simulate", "--scenario", str(tmp_path / "demo.toml"), "--ward", ward,
                "--speed", "720", "--duration", "20s", "--seed", "4343")
    assert sim.proc.wait(120) == 0, sim.output()
    (patient,) = re.findall(r"sim-p4343-\d+", sim.output())[:1]
    wait_for(lambda: conn.execute("SELECT 1 FROM alerts WHERE patient_id = %s AND kind ="
                                  " 'news2' AND severity = 'emergency'", (patient,)).fetchone(),
             timeout=60, what="the simulated patient's emergency alert")
    out = _vward(services_up, "patient", "discharge", patient, "--by", clinician.name,
                 "--summary", "Sepsis: escalated to hospital.", "--outcome", "hospital")
    assert out.returncode == 0, out.stdout + out.stderr
    bundle = web.get(out.stdout.strip().splitlines()[-1], headers=clinician.headers).json()
    fhir_checks.validate(bundle)
    for entry in bundle["entry"]:
        fhir_checks.validate(entry["resource"])
    issues = [e["resource"] for e in bundle["entry"]
              if e["resource"]["resourceType"] == "DetectedIssue"]
    assert any(i["code"]["coding"][0]["code"] == "news2" and i["severity"] == "high"
               for i in issues), issues
    assert {e["resource"]["type"]["text"] for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Device"} == {
        "oximeter", "bp_cuff", "thermometer", "tablet"}
    pdf = web.get(f"/api/v1/patients/{patient}/discharge-summary.pdf", headers=clinician.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


# ---------------------------------------------------------------- pure


def _score(t: datetime, total: int, complete: bool = True) -> ScoreRow:
    return ScoreRow(t, "p", total, "low", 1, complete, [], [0] * 7, [None] * 7, 1, False, [],
                    t, None, None, [], [], None)


def test_admission_highest_and_discharge_scores():
    t = datetime(2026, 11, 20, 8, tzinfo=UTC)
    rows = [_score(t, 2, complete=False), _score(t + timedelta(hours=1), 3),
            _score(t + timedelta(hours=2), 7), _score(t + timedelta(hours=3), 7),
            _score(t + timedelta(hours=4), 1), _score(t + timedelta(hours=5), 4, False)]
    key = discharge_record.key_scores(reversed(rows))
    assert key.admission == rows[1]  # the first complete set
    assert key.highest == rows[2]  # the earliest of equals
    assert key.discharge == rows[4]  # the last complete set
    assert discharge_record.key_scores([]) == discharge_record.KeyScores(None, None, None)


def test_thinning_the_chart_never_loses_a_peak():
    seconds = np.arange(10_000, dtype=np.float64)
    totals = np.zeros(10_000, dtype=np.int64)
    totals[7_777] = 9
    x, y = discharge_pdf.thin(seconds, totals, limit=100)
    assert len(x) == 100 and y.max() == 9
    same = discharge_pdf.thin(seconds[:50], totals[:50], limit=100)
    assert len(same[0]) == 50


def test_text_outside_latin1_never_fails_the_pdf():
    assert discharge_pdf.latin1("SpO2 88–92 % ≥ 2 kg ✓") == "SpO2 88-92 % >= 2 kg ?"


def _values(value, key: str):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from _values(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v, key)
