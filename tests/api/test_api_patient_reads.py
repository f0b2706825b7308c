"""Who looked at what (issue 10, item 16): every read of a patient's data
through the API and FHIR is recorded (who, when, which patient, through
what) in an append-only table, one row per request at most, and an admin
lists it (GET /api/v1/audit, `vward audit`)."""

from __future__ import annotations

import subprocess
import sys

import api_fixtures
import psycopg
import pytest
from conftest import ROOT, service_env

from ward import db

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def _reads(settings, patient_id: str) -> list[tuple[str, str, str, str]]:
    with db.connect(settings, autocommit=True) as conn:
        return conn.execute("SELECT actor, role, via, what FROM patient_reads"
                            " WHERE patient_id = %s ORDER BY read_id", (patient_id,)).fetchall()


def test_a_clinicians_reads_are_recorded_and_cannot_be_edited(services_up, web, admin,
                                                             clinician):
    patient_id = api_fixtures.admit(web, admin)
    assert _reads(services_up, patient_id) == []  # admitting is no read
    h = clinician.headers
    for path in (f"/api/v1/patients/{patient_id}", f"/api/v1/patients/{patient_id}/scores",
                 f"/api/v1/patients/{patient_id}/observations",
                 f"/api/v1/patients/{patient_id}/settings",
                 f"/api/v1/alerts?patient={patient_id}", f"/fhir/Patient/{patient_id}",
                 f"/fhir/Observation?patient={patient_id}"):
        assert web.get(path, headers=h).status_code == 200, path
    who = (clinician.name, "clinician")
    assert _reads(services_up, patient_id) == [
        (*who, "api", "patient"), (*who, "api", "scores"), (*who, "api", "observations"),
        (*who, "api", "settings"), (*who, "api", "alerts"), (*who, "fhir", "Patient"),
        (*who, "fhir", "Observation")]
    with db.connect(services_up, autocommit=True) as conn:
        for sql in ("UPDATE patient_reads SET actor = 'nobody' WHERE patient_id = %s",
                    "DELETE FROM patient_reads WHERE patient_id = %s"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(sql, (patient_id,))
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("TRUNCATE patient_reads")
    assert len(_reads(services_up, patient_id)) == 7


def test_like_reads_in_a_minute_are_one_row_and_unknown_patients_none(services_up, web, admin,
                                                                     clinician):
    patient_id = api_fixtures.admit(web, admin)
    for _ in range(5):
        web.get(f"/api/v1/patients/{patient_id}/scores", headers=clinician.headers)
    assert len(_reads(services_up, patient_id)) <= 2  # 1, unless a minute turned meanwhile
    assert web.get("/api/v1/patients/p-nobody/scores", headers=clinician.headers).status_code \
        == 404
    # A patient nobody has is no patient of the clinician's wards: 404 (api/scope.py)
    r = web.get("/fhir/Observation?patient=p-nobody", headers=clinician.headers)
    assert r.status_code == 404 and _reads(services_up, "p-nobody") == []


def test_an_admin_lists_the_reads_by_the_api_and_by_vward_audit(services_up, web, admin,
                                                              clinician):
    patient_id = api_fixtures.admit(web, admin)
    web.get(f"/api/v1/patients/{patient_id}", headers=clinician.headers)
    web.get(f"/fhir/Patient/{patient_id}", headers=clinician.headers)
    assert web.get(f"/api/v1/audit?patient={patient_id}",
                   headers=clinician.headers).status_code == 403
    r = web.get(f"/api/v1/audit?patient={patient_id}", headers=admin.headers)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [(x["actor"], x["via"], x["what"]) for x in rows] == [
        (clinician.name, "fhir", "Patient"), (clinician.name, "api", "patient")]
    assert rows[0]["address"] == "testclient"
    later = web.get(f"/api/v1/audit?patient={patient_id}&since=2999-01-01T00:00:00Z",
                    headers=admin.headers)
    assert later.json() == []
    out = subprocess.run([sys.executable, "-m", "ward.cli", "audit", "--patient", patient_id,
                          "--since", "1h"], env=service_env(services_up), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert clinician.name in lines[1] and "fhir" in lines[1] and "Patient" in lines[1]
    assert lines[-1] == f"2 reads of patient {patient_id} since " + lines[-1].split()[-1]
