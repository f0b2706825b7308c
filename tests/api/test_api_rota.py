"""The rota and contacts through the API (issue 13, part A): clinicians read
the rota, admins change it (a person, a tier, or the whole rota with the
timezone), gaps come back per tier and in words; contacts in the user
endpoints, checked, with the reason when refused, and nothing half-written."""

from __future__ import annotations

import api_fixtures
import pytest
from conftest import unique

from ward import devices, rota

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def _person(web, admin, **contact) -> str:
    name = unique("p")
    r = web.post("/api/v1/users", json={"name": name, "role": "clinician", **contact},
                 headers=admin.headers)
    assert r.status_code == 201, r.text
    return name


def _ward(conn) -> str:
    ward_id = unique("ward")
    devices.ensure_ward(conn, ward_id)
    api_fixtures.staff_join_with(conn, ward_id)
    return ward_id


def test_user_contacts_are_created_listed_changed_and_checked(web, admin, clinician, conn):
    name = _person(web, admin, email="a@example.org", phone="+44 7700 900123")
    [row] = [u for u in web.get("/api/v1/users", headers=admin.headers).json()
             if u["name"] == name]
    assert (row["email"], row["phone"], row["webhook_url"]) == (
        "a@example.org", "+447700900123", None)
    r = web.put(f"/api/v1/users/{name}/contact", json={"webhook_url": "https://h.example.org/x",
                                                       "phone": ""}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"name": name, "email": "a@example.org", "phone": None,
                        "webhook_url": "https://h.example.org/x"}
    # a bad address: 422 with the reason, nothing stored
    bad = web.post("/api/v1/users", json={"name": unique("p"), "role": "clinician",
                                          "email": "not an address"}, headers=admin.headers)
    assert bad.status_code == 422 and "is not an address" in bad.json()["detail"]
    r = web.put(f"/api/v1/users/{name}/contact", json={"webhook_url": "http://example.org/x"},
                headers=admin.headers)
    assert r.status_code == 422 and "use https" in r.json()["detail"]
    assert rota.load_contacts(conn, [name])[name].webhook_url == "https://h.example.org/x"
    # a clinician may change their own contact, not someone else's
    own = web.put(f"/api/v1/users/{clinician.name}/contact", json={"email": "c@example.org"},
                  headers=clinician.headers)
    assert own.status_code == 200 and own.json()["email"] == "c@example.org"
    other = web.put(f"/api/v1/users/{name}/contact", json={"email": "x@example.org"},
                    headers=clinician.headers)
    assert other.status_code == 403
    # ... and not a webhook, which the ward itself POSTs to from inside its network
    hook = web.put(f"/api/v1/users/{clinician.name}/contact",
                   json={"webhook_url": "http://127.0.0.1:15672/api/x"}, headers=clinician.headers)
    assert hook.status_code == 403 and "only an admin" in hook.json()["detail"]
    assert rota.load_contacts(conn, [clinician.name])[clinician.name].webhook_url is None
    assert web.put(f"/api/v1/users/{unique('nobody')}/contact", json={"email": "x@example.org"},
                   headers=admin.headers).status_code == 404


def test_rota_read_by_clinicians_changed_by_admins(web, admin, clinician, conn):
    ward_id = _ward(conn)
    nurse, senior = _person(web, admin, email="n@example.org"), _person(
        web, admin, webhook_url="https://h.example.org/s")
    url = f"/api/v1/wards/{ward_id}/rota"
    empty = web.get(url, headers=clinician.headers).json()
    assert empty["shifts"] == [] and empty["time_zone"] == "Europe/London"
    assert empty["warnings"][0].startswith("NOBODY is on call in any tier all week")
    assert [len(t["gaps"]) for t in empty["tiers"]] == [7, 7, 7]

    refused = web.put(f"{url}/tiers/1/users/{nurse}", json={"days": "mon-fri"},
                      headers=clinician.headers)
    assert refused.status_code == 403
    r = web.put(f"{url}/tiers/1/users/{nurse}", json={"days": "mon-fri", "hours": "20-08",
                                                      "team": "nights"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert [(x["days"], x["start_hour"], x["end_hour"], x["team"]) for x in got["shifts"]] == [
        ("tue-sat", 0, 8, "nights"), ("mon-fri", 20, 24, "nights")]
    assert got["shifts"][0]["weekdays"] == [1, 2, 3, 4, 5]
    tier1 = got["tiers"][0]
    assert {"day": "mon", "start_hour": 0, "end_hour": 20} in tier1["gaps"]
    assert {"day": "sun", "start_hour": 0, "end_hour": 24} in tier1["gaps"]

    # the whole rota at once, with a timezone; all or nothing
    whole = {"time_zone": "America/New_York", "shifts": [
        {"tier": 1, "user": nurse}, {"tier": 2, "user": senior, "days": "sat,sun"}]}
    r = web.put(url, json=whole, headers=admin.headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["time_zone"] == "America/New_York"
    assert got["tiers"][0]["on_call_now"] == [nurse] and got["tiers"][0]["gaps"] == []
    assert any(w.startswith("tier 2 (senior clinician) has nobody on call mon-fri 00-24")
               for w in got["warnings"])
    bare = _person(web, admin)
    r = web.put(url, json={"time_zone": "Europe/Paris", "shifts": [
        {"tier": 1, "user": senior}, {"tier": 2, "user": bare}]}, headers=admin.headers)
    assert r.status_code == 409 and "has no contact" in r.json()["detail"]
    after = web.get(url, headers=clinician.headers).json()
    assert after["time_zone"] == "America/New_York"  # nothing half-written
    assert [x["user"] for x in after["shifts"]] == [nurse, senior]

    r = web.delete(f"{url}/tiers/2/users/{senior}", headers=admin.headers)
    assert r.status_code == 200 and [x["user"] for x in r.json()["shifts"]] == [nurse]
    assert web.delete(f"{url}/tiers/2/users/{senior}", headers=admin.headers).status_code == 404


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"days": "mon-funday"}, 422, "is not a day"),
    ({"hours": "08-08"}, 422, "cover no time"),
    ({"hours": "8.5-20"}, 422, "whole hours"),
])
def test_rota_bad_input_is_refused_with_the_reason(web, admin, conn, body, status, says):
    ward_id, nurse = _ward(conn), _person(web, admin, email="n@example.org")
    r = web.put(f"/api/v1/wards/{ward_id}/rota/tiers/1/users/{nurse}", json=body,
                headers=admin.headers)
    assert r.status_code == status and says in r.json()["detail"], r.text
    assert rota.load_shifts(conn, ward_id) == []


def test_rota_unknowns(web, admin, conn):
    ward_id, nurse = _ward(conn), _person(web, admin, email="n@example.org")
    r = web.get(f"/api/v1/wards/{unique('noward')}/rota", headers=admin.headers)
    assert r.status_code == 404 and "no ward" in r.json()["detail"]
    r = web.put(f"/api/v1/wards/{ward_id}/rota/tiers/4/users/{nurse}", json={},
                headers=admin.headers)
    assert r.status_code == 422 and "tier" in r.json()["detail"]
    r = web.put(f"/api/v1/wards/{ward_id}/rota/tiers/1/users/{unique('ghost')}", json={},
                headers=admin.headers)
    assert r.status_code == 404 and "no user" in r.json()["detail"]
    r = web.put(f"/api/v1/wards/{ward_id}/rota", json={"shifts": [{"tier": True,
                                                                   "user": nurse}]},
                headers=admin.headers)
    assert r.status_code == 422  # JSON true is no tier
    r = web.put(f"/api/v1/wards/{ward_id}/rota", json={"shifts": [], "time_zone": "Mars/X"},
                headers=admin.headers)
    assert r.status_code == 422 and "unknown timezone" in r.json()["detail"]
