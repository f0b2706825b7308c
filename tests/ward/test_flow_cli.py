"""`vward ward capacity|flow`, `vward device add --source` and `vward patient
source|readmitted`, run as an operator runs them, against the test run's
database."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT, service_env, unique

from api import admission
from ward import flow, flow_store

pytestmark = [pytest.mark.db]


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT, timeout=60,
                          env=service_env(settings), capture_output=True, text=True)


def _ok(settings, *args: str) -> str:
    r = _vward(settings, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_capacity_sources_readmission_and_the_csv(services_up, conn):
    ward_id, pid, dev = unique("wc"), unique("pc"), unique("dc")
    out = _ok(services_up, "device", "add", dev, "--patient", pid, "--ward", ward_id,
              "--source", "step-down")
    assert f"assigned to patient {pid}" in out
    assert conn.execute("SELECT admission_source FROM patients WHERE patient_id = %s",
                        (pid,)).fetchone() == ("step-down",)
    bad = _vward(services_up, "patient", "source", pid, "step-up")
    assert bad.returncode == 2 and "admitted step-down, recorded already" in bad.stderr

    out = _ok(services_up, "ward", "capacity", ward_id, "--beds", "8", "--from", "2026-11-01",
              "--by", "ann", "--reason", "opening")
    assert "8 beds from 2026-11-01, set by ann" in out and "runs 8 beds today" in out
    bad = _vward(services_up, "ward", "capacity", ward_id, "--beds", "-3")
    assert bad.returncode == 2 and "between 0 and" in bad.stderr
    bad = _vward(services_up, "ward", "capacity", unique("nowhere"), "--beds", "3")
    assert bad.returncode == 2 and "no ward" in bad.stderr

    other = unique("pc")
    gone = datetime.now(UTC) - timedelta(days=1)
    admission.admit(conn, other, ward_id, None, now=gone - timedelta(days=2))
    admission.discharge(conn, other, by="ann", note="", now=gone, outcome="home")
    day = flow.local_day(gone, flow_store.load_zone(conn, ward_id))
    bad = _vward(services_up, "patient", "readmitted", other, "--on",
                 str(day + timedelta(days=31)), "--by", "nina")
    assert bad.returncode == 2 and ("in the future" in bad.stderr or "31 days" in bad.stderr)
    out = _ok(services_up, "patient", "readmitted", other, "--on", str(day), "--by", "nina")
    assert f"readmitted to hospital on {day}" in out

    csv = _ok(services_up, "ward", "flow", ward_id, "--month", f"{day:%Y-%m}", "--table",
              "discharges").splitlines()
    assert csv[0].startswith("patient_id,admitted_at,discharged_at,los_days")
    assert csv[1].startswith(other) and csv[1].endswith(f",2,home,{day},yes")
    bad = _vward(services_up, "ward", "flow", ward_id, "--month", "11/2026")
    assert bad.returncode == 2 and "not a month" in bad.stderr
