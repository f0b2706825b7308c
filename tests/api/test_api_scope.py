"""Wards are separate (issue 14, item 6): a clinician of ward A gets 404 for
ward B's patients (word for word what a patient that does not exist gets)
and 403 for ward B itself, through every route of the API and FHIR, and no
list of theirs names anything of ward B; an admin sees both; someone on ward
B's rota opens B's alerts (hazard H70)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import api_fixtures
import pytest
from conftest import unique
from fastapi.testclient import TestClient

from api import accounts
from ward import db, rota_store, team_store
from ward.settings import Settings

pytestmark = [pytest.mark.db]

web, admin = api_fixtures.web, api_fixtures.admin


@dataclass(frozen=True)
class Wards:
    a: str
    b: str
    pa: str
    pb: str
    alert_a: int
    alert_b: int
    nurse_a: api_fixtures.Person  # on ward A's team only
    paged_b: api_fixtures.Person  # on no team, on ward B's rota


def _open_alert(conn, patient_id: str, ward_id: str) -> int:
    now = datetime.now(UTC)
    return conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " condition_time, opened_at, updated_at, last_notified_severity)"
        " VALUES (%s, %s, 'news2', 'clinical', 'urgent', 'open', 'NEWS2 5', %s, %s, %s,"
        " 'urgent') RETURNING alert_id", (patient_id, ward_id, now, now, now)).fetchone()[0]


@pytest.fixture(scope="module")
def two(services_up: Settings, web: TestClient, admin) -> Wards:
    a, b = unique("wa"), unique("wb")
    pa = api_fixtures.admit(web, admin, ward_id=a)
    pb = api_fixtures.admit(web, admin, ward_id=b)
    nurse_a = api_fixtures.make_person(services_up, "clinician", wards=(a,))
    paged_b = api_fixtures.make_person(services_up, "clinician", wards=())
    with db.connect(services_up, autocommit=True) as conn:
        accounts.set_contact(conn, paged_b.name, accounts.ContactChange(
            f"{paged_b.name}@example.org", None, None))
        rota_store.set_person(conn, b, rota_store.Assignment(1, paged_b.name), by="test")
        alert_a, alert_b = _open_alert(conn, pa, a), _open_alert(conn, pb, b)
    return Wards(a, b, pa, pb, alert_a, alert_b, nurse_a, paged_b)


def _patient_routes(p: str) -> list[tuple[str, str, dict | None]]:
    return [("GET", f"/api/v1/patients/{p}", None),
            ("GET", f"/api/v1/patients/{p}/observations", None),
            ("GET", f"/api/v1/patients/{p}/scores", None),
            ("GET", f"/api/v1/patients/{p}/settings", None),
            ("GET", f"/api/v1/patients/{p}/pauses", None),
            ("PUT", f"/api/v1/patients/{p}/settings/spo2-scale",
             {"scale": 2, "reason": "COPD"}),
            ("POST", f"/api/v1/patients/{p}/pauses",
             {"kind": "news2", "duration": "1h", "reason": "known"}),
            ("POST", f"/api/v1/patients/{p}/readmission", {"readmitted_on": "2026-11-20"}),
            ("POST", f"/api/v1/patients/{p}/discharge", {"summary": "Home, well."}),
            ("POST", f"/api/v1/patients/{p}/access-link", None),
            ("GET", f"/api/v1/alerts?patient={p}", None),
            ("GET", f"/fhir/Patient/{p}", None),
            ("GET", f"/fhir/Observation?patient={p}", None),
            ("GET", f"/fhir/Observation?patient=Patient/{p}", None)]


def test_ward_bs_patients_are_404_everywhere_as_if_they_did_not_exist(web, two):
    nobody = unique("nobody")
    for (method, url, body), (_, missing_url, _) in zip(_patient_routes(two.pb),
                                                        _patient_routes(nobody), strict=True):
        r = web.request(method, url, json=body, headers=two.nurse_a.headers)
        missing = web.request(method, missing_url, json=body, headers=two.nurse_a.headers)
        assert r.status_code == 404, (url, r.text)
        # The same answer, word for word, as for a patient nobody has.
        assert r.text.replace(two.pb, "P") == missing.text.replace(nobody, "P"), url
    # Ward A's own patient opens through every GET route.
    for method, url, _ in _patient_routes(two.pa):
        if method == "GET":
            r = web.get(url, headers=two.nurse_a.headers)
            assert r.status_code == 200, (url, r.text)


def test_ward_bs_alerts_are_no_alerts_to_ward_as_clinician(web, two):
    for suffix, method, body in (("", "GET", None), ("/acknowledge", "POST", {}),
                                 ("/resolve", "POST", {"note": "x"})):
        r = web.request(method, f"/api/v1/alerts/{two.alert_b}{suffix}", json=body,
                        headers=two.nurse_a.headers)
        assert (r.status_code, r.json()) == (404, {"detail": f"no alert {two.alert_b}"})
    r = web.get(f"/api/v1/alerts/{two.alert_a}", headers=two.nurse_a.headers)
    assert r.status_code == 200


def test_ward_b_itself_is_403_and_a_ward_nobody_has_404(web, two):
    for url in (f"/api/v1/wards/{two.b}/summary", f"/api/v1/wards/{two.b}/rota",
                f"/api/v1/wards/{two.b}/capacity",
                f"/api/v1/wards/{two.b}/flow.csv?month=2026-11",
                f"/api/v1/patients?ward={two.b}", f"/api/v1/alerts?ward={two.b}"):
        r = web.get(url, headers=two.nurse_a.headers)
        assert r.status_code == 403 and "not one of your wards" in r.json()["detail"], url
    assert web.get(f"/api/v1/wards/{unique('no')}/summary",
                   headers=two.nurse_a.headers).status_code == 404
    assert web.get(f"/api/v1/wards/{two.a}/summary",
                   headers=two.nurse_a.headers).status_code == 200


def test_lists_never_name_ward_b_to_ward_as_clinician_and_an_admin_sees_both(web, admin, two):
    def lists(who) -> tuple[set, set, set]:
        patients = {p["patient_id"] for p in
                    web.get("/api/v1/patients", headers=who.headers).json()}
        wards = {w["ward_id"] for w in web.get("/api/v1/wards", headers=who.headers).json()}
        alerts = {x["alert_id"] for x in
                  web.get("/api/v1/alerts", headers=who.headers).json()}
        return patients, wards, alerts

    patients, wards, alerts = lists(two.nurse_a)
    assert two.pa in patients and two.pb not in patients
    assert {w for w in wards if w in (two.a, two.b)} == {two.a}
    assert two.alert_a in alerts and two.alert_b not in alerts
    patients, wards, alerts = lists(admin)
    assert {two.pa, two.pb} <= patients and {two.a, two.b} <= wards
    assert {two.alert_a, two.alert_b} <= alerts
    for url in (f"/api/v1/patients/{two.pb}", f"/fhir/Patient/{two.pb}",
                f"/api/v1/wards/{two.b}/summary"):
        assert web.get(url, headers=admin.headers).status_code == 200, url


def test_someone_on_ward_bs_rota_opens_its_alerts_and_patients(web, two):
    who = two.paged_b
    r = web.get(f"/api/v1/alerts/{two.alert_b}", headers=who.headers)
    assert r.status_code == 200, r.text
    r = web.post(f"/api/v1/alerts/{two.alert_b}/acknowledge", json={"note": "on my way"},
                 headers=who.headers)
    assert r.status_code == 200 and r.json()["acknowledged_by"] == who.name
    assert web.get(f"/api/v1/patients/{two.pb}", headers=who.headers).status_code == 200
    assert web.get(f"/api/v1/patients/{two.pa}", headers=who.headers).status_code == 404


def test_every_route_naming_a_patient_or_a_ward_is_scoped_by_default(web, two):
    """Every GET of the schema with a patient or ward in its path, asked by ward A's
    clinician for ward B's patient or ward B: 404 or 403, never the data (a route
    added later is scoped by api/scope.guard without a line of its own)."""
    paths = web.get("/openapi.json", headers=two.nurse_a.headers).json()["paths"]
    asked = 0
    for path, methods in paths.items():
        if "get" not in methods or not ("{patient_id}" in path or "{ward_id}" in path):
            continue
        url = (path.replace("{patient_id}", two.pb).replace("{ward_id}", two.b)
               .replace("{ward}", two.b))
        r = web.get(re.sub(r"\{[^}]+\}", "1", url), headers=two.nurse_a.headers)
        assert r.status_code in (403, 404), (path, r.status_code, r.text[:200])
        asked += 1
    assert asked >= 10


def test_an_ack_link_stops_working_for_someone_taken_off_the_wards_team(web, admin, conn,
                                                                      services_up):
    from test_ack_links import WARD, _alert, _link, _nonce, _patient, _untouched

    moved = api_fixtures.make_person(services_up, "clinician", wards=(WARD,))
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, moved.name)
    nonce = _nonce(web.get(url).text)
    team_store.leave(conn, WARD, moved.name)  # on no team or rota of the ward now
    r = web.post(url, data={"nonce": nonce})
    assert r.status_code == 403 and "may no longer acknowledge" in r.text
    _untouched(conn, alert_id)
