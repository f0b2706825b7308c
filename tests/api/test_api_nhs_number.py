"""A patient's NHS number, checked wherever it is recorded (ward/nhs_number.py):
at admission through the API, later through the API and the CLI.  A typing slip
is refused with the reason and nothing is stored, so a discharge summary is never
filed under someone else's number."""

from __future__ import annotations

import subprocess
import sys

import api_fixtures
from conftest import ROOT, service_env, unique

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def _stored(conn, patient_id: str) -> str | None:
    row = conn.execute("SELECT nhs_number FROM patients WHERE patient_id = %s",
                       (patient_id,)).fetchone()
    return row[0] if row else None


def test_admission_takes_a_valid_number_and_refuses_a_slip_with_nothing_made(web, admin,
                                                                             conn):
    good, bad = unique("pn"), unique("pn")
    r = web.post("/api/v1/patients", json={"patient_id": good, "ward_id": "ward-api",
                                           "nhs_number": "943-476-5919"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    assert _stored(conn, good) == "9434765919"
    r = web.post("/api/v1/patients", json={"patient_id": bad, "ward_id": "ward-api",
                                           "nhs_number": "943 476 5918"}, headers=admin.headers)
    assert r.status_code == 422 and "check digit" in r.text, r.text
    assert conn.execute("SELECT 1 FROM patients WHERE patient_id = %s", (bad,)).fetchone() is None


def test_set_later_by_an_admin_through_the_api_and_the_cli(web, admin, clinician, conn,
                                                           services_up):
    pid = api_fixtures.admit(web, admin)
    url = f"/api/v1/patients/{pid}/nhs-number"
    assert web.put(url, json={"nhs_number": "9434765919"},
                   headers=clinician.headers).status_code == 403
    r = web.put(url, json={"nhs_number": "94347659"}, headers=admin.headers)
    assert r.status_code == 422 and "10 digits" in r.text
    assert _stored(conn, pid) is None
    assert web.put(f"/api/v1/patients/{unique('nobody')}/nhs-number",
                   json={"nhs_number": "9434765919"}, headers=admin.headers).status_code == 404

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ward.cli", "patient", "nhs-number", *args],
                              cwd=ROOT, timeout=60, capture_output=True, text=True,
                              env=service_env(services_up))

    slip = cli(pid, "943 476 5991")  # the last two digits swapped
    assert slip.returncode == 2 and "check digit" in slip.stderr
    assert _stored(conn, pid) is None
    done = cli(pid, "943 476 5919")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"patient {pid}: NHS number 943 476 5919"
    assert _stored(conn, pid) == "9434765919"
    gone = cli(unique("nobody"), "943 476 5919")
    assert gone.returncode == 2 and "no admitted patient" in gone.stderr
