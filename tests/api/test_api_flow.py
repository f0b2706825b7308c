"""Capacity and flow through the API (issue 14, item 5): admins set the
capacity, clinicians read it and the month's CSV tables; the admission's
source and the discharge's outcome through the routes that admit and
discharge; a readmission recorded within 30 days, refused with the reason
outside them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from conftest import unique

from ward import devices

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_capacity_is_set_by_admins_and_read_by_clinicians(web, admin, clinician, conn):
    ward_id = unique("wa")
    devices.ensure_ward(conn, ward_id)
    api_fixtures.join_ward(conn, ward_id, clinician.name)
    url = f"/api/v1/wards/{ward_id}/capacity"
    refused = web.post(url, json={"beds": 12}, headers=clinician.headers)
    assert refused.status_code == 403
    r = web.post(url, json={"beds": 12, "valid_from": "2026-11-01", "reason": "opening"},
                 headers=admin.headers)
    assert r.status_code == 200, r.text
    r = web.post(url, json={"beds": 15, "valid_from": "2026-11-16"}, headers=admin.headers)
    got = web.get(url, headers=clinician.headers).json()
    assert [(c["valid_from"], c["beds"], c["set_by"]) for c in got["changes"]] == [
        ("2026-11-01", 12, admin.name), ("2026-11-16", 15, admin.name)]
    assert got["beds_today"] == 15
    for bad in ({"beds": -1}, {"beds": True}, {"beds": 3, "valid_from": "16/11/2026"}):
        assert web.post(url, json=bad, headers=admin.headers).status_code == 422
    assert web.get(f"/api/v1/wards/{unique('no')}/capacity",
                   headers=clinician.headers).status_code == 404
    # The month's occupancy divides each day by its own capacity.
    rows = _csv(web.get(f"/api/v1/wards/{ward_id}/flow.csv",
                        params={"month": "2026-11", "table": "occupancy"},
                        headers=clinician.headers))
    assert rows[0][:2] == ["date", "capacity_beds"]
    assert (rows[15][:2], rows[16][:2]) == (["2026-11-15", "12"], ["2026-11-16", "15"])
    rows = _csv(web.get(f"/api/v1/wards/{ward_id}/flow.csv",
                        params={"month": "2026-11", "table": "capacity"},
                        headers=admin.headers))
    assert [r[1] for r in rows[1:]] == ["12", "15"]


def test_admitted_with_a_source_discharged_with_an_outcome_then_readmitted(
        web, admin, clinician):
    ward_id = unique("wa")
    pid = unique("pf")
    admitted = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    r = web.post("/api/v1/patients", json={"patient_id": pid, "ward_id": ward_id,
                                           "admitted_at": admitted.isoformat(),
                                           "source": "step-down"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    api_fixtures.staff_join(web.app.state.settings, ward_id)
    assert web.post("/api/v1/patients", json={"patient_id": unique("pf"), "ward_id": ward_id,
                                              "source": "ambulance"},
                    headers=admin.headers).status_code == 422
    # Readmitted before the discharge: refused, still on the ward.
    url = f"/api/v1/patients/{pid}/readmission"
    early = web.post(url, json={"readmitted_on": f"{datetime.now(UTC):%Y-%m-%d}"},
                     headers=clinician.headers)
    assert early.status_code == 409 and "still on the ward" in early.json()["detail"]
    r = web.post(f"/api/v1/patients/{pid}/discharge",
                 json={"outcome": "home", "summary": "Well; back to the GP's care."},
                 headers=clinician.headers)
    assert r.status_code == 200, r.text
    tomorrow = datetime.now(UTC) + timedelta(days=2)
    r = web.post(url, json={"readmitted_on": f"{tomorrow:%Y-%m-%d}"},
                 headers=clinician.headers)
    assert r.status_code == 422 and "in the future" in r.json()["detail"]
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    r = web.post(url, json={"readmitted_on": today}, headers=clinician.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"patient_id": pid, "readmitted_on": today, "within_30_days": True,
                        "recorded_by": clinician.name}
    for table, row in (("admissions", [pid, "step-down"]),
                       ("discharges", [pid, "3", "home", today, "yes"])):
        month = f"{admitted:%Y-%m}" if table == "admissions" else today[:7]
        rows = _csv(web.get(f"/api/v1/wards/{ward_id}/flow.csv",
                            params={"month": month, "table": table},
                            headers=clinician.headers))
        assert [[r[0], *r[-len(row) + 1:]] for r in rows[1:]] == [row], rows


def test_the_csv_refuses_what_it_cannot_answer(web, clinician, conn):
    ward_id = unique("wa")
    devices.ensure_ward(conn, ward_id)
    api_fixtures.join_ward(conn, ward_id, clinician.name)
    url = f"/api/v1/wards/{ward_id}/flow.csv"
    assert web.get(url, params={"month": "2026-13"},
                   headers=clinician.headers).status_code == 422
    assert web.get(url, params={"month": "2026-11", "table": "beds"},
                   headers=clinician.headers).status_code == 422
    assert web.get(url, params={"month": "nov"}, headers=clinician.headers).status_code == 422
    assert web.get(url, params={"month": "2026-11"}).status_code == 401
    assert web.get(f"/api/v1/wards/{unique('no')}/flow.csv", params={"month": "2026-11"},
                   headers=clinician.headers).status_code == 404
    r = web.get(url, params={"month": "2026-02"}, headers=clinician.headers)
    assert len(_csv(r)) == 1 + 28
    assert r.headers["content-disposition"] == (
        f'attachment; filename="{ward_id}-2026-02-occupancy.csv"')
