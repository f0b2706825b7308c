"""Fixtures shared by the API tests.  Not a conftest.py: tests/ has no
__init__.py and other tests import `conftest` by name, so a second
conftest.py would shadow the first.  Each test module binds the ones it
uses (`web = api_fixtures.web`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import unique
from fastapi.testclient import TestClient

from api import accounts
from api.app import create_app
from ward import db, team_store
from ward.settings import Settings


def echo_frontend(environ, start_response):
    """A stand-in for the dashboard's Flask server: says what it was given."""
    body = json.dumps({
        "path": environ.get("PATH_INFO"),
        "user": environ.get("HTTP_X_VWARD_USER"),
        "role": environ.get("HTTP_X_VWARD_ROLE"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


# The fixtures' clinicians are the staff of the test hospital: `admit` puts each
# of them on the team of every ward it admits a patient to (issue 14, item 6:
# a clinician sees only their team's wards), so that the tests written before
# wards were separate see their patients for the right reason.  A clinician
# made with `wards=` is on those wards' teams only, and never added by `admit`.
_STAFF: dict[str, Settings] = {}


def make_person(settings: Settings, role: str, *,
                wards: tuple[str, ...] | None = None) -> Person:
    name = unique(role)
    password = f"pw-{name}"
    with db.connect(settings, autocommit=True) as conn:
        user = accounts.create_user(conn, name, role, password)
        token = accounts.issue_user_token(conn, user, "test")
        if role == "clinician" and wards is None:
            # Staff: on every ward there is, and (through `admit`) every ward to come.
            wards = tuple(r[0] for r in conn.execute("SELECT ward_id FROM wards"))
            _STAFF[name] = settings
        for ward_id in wards or ():
            join_ward(conn, ward_id, name)
    return Person(name, role, password, token)


def join_ward(conn, ward_id: str, name: str) -> None:
    """Put ``name`` on the default team of ``ward_id`` (the ward made if new)."""
    conn.execute("INSERT INTO wards (ward_id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                 (ward_id, ward_id))
    team_store.join(conn, ward_id, name, by="test")


def staff_join(settings: Settings, ward_id: str) -> None:
    """Every fixture clinician (made without `wards=`) joins ``ward_id``'s team."""
    if not _STAFF:
        return
    with db.connect(settings, autocommit=True) as conn:
        staff_join_with(conn, ward_id)


def staff_join_with(conn, ward_id: str) -> None:
    """`staff_join` on a connection of the test's own."""
    gone = set(_STAFF) - {r[0] for r in conn.execute(
        "SELECT name FROM users WHERE name = ANY(%s)", (list(_STAFF),))}
    for name in gone:  # a test removed them
        del _STAFF[name]
    for name in list(_STAFF):
        join_ward(conn, ward_id, name)


@pytest.fixture(scope="module")
def web(services_up: Settings) -> Iterator[TestClient]:
    """The whole app, with a stand-in dashboard mounted at "/"."""
    with TestClient(create_app(services_up, frontend=echo_frontend),
                    follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def admin(services_up: Settings) -> Person:
    return make_person(services_up, "admin")


@pytest.fixture(scope="module")
def clinician(services_up: Settings) -> Person:
    return make_person(services_up, "clinician")


@dataclass(frozen=True)
class Device:
    device_id: str
    patient_id: str
    ward_id: str
    token: str
    mqtt_password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def admit(web: TestClient, admin: Person, *, ward_id: str = "ward-api") -> str:
    patient_id = unique("pat")
    r = web.post("/api/v1/patients", json={"patient_id": patient_id, "ward_id": ward_id,
                                           "display_name": "Test Patient"},
                 headers=admin.headers)
    assert r.status_code == 201, r.text
    staff_join(web.app.state.settings, ward_id)  # type: ignore[attr-defined]
    return patient_id


def admit_with_device(web: TestClient, admin: Person, *, ward_id: str = "ward-api",
                      kind: str = "oximeter") -> Device:
    """A new patient with a new device, through the API as an admin does it."""
    patient_id = admit(web, admin, ward_id=ward_id)
    r = web.post("/api/v1/devices", json={"device_id": unique("dev"), "patient_id": patient_id,
                                          "kind": kind}, headers=admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    return Device(body["device_id"], patient_id, ward_id, body["token"], body["mqtt"]["password"])


def iso(t) -> str:
    return t.isoformat().replace("+00:00", "Z")


def add_score(conn, patient_id, time, total, band, *, sub_scores=(0, 0, 0, 0, 0, 0, 0),
              inputs=(16, 97, 0, 120, 70, 0, 37.0), complete=True, missing=(), scale=1,
              input_times=(), stale=(), monitoring_band=None, adjusted=None,
              overridden=()):
    """A score row as the engine writes it (migration 005): ``input_times`` empty
    and ``monitoring_band`` None as on rows scored before it; ``adjusted`` is
    (adjusted_total, adjusted_band) where accepted ranges ``overridden`` changed it."""
    adjusted_total, adjusted_band = adjusted or (None, None)
    conn.execute(
        "INSERT INTO scores (time, patient_id, total, band, max_single, complete, missing,"
        " sub_scores, inputs, spo2_scale, input_times, stale, monitoring_band, adjusted_total,"
        " adjusted_band, overridden, overridden_parameters) VALUES (%s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s, %s::timestamptz[], %s, %s, %s, %s, %s, %s)",
        (time, patient_id, total, band, max(sub_scores), complete, list(missing),
         list(sub_scores), [None if v is None else float(v) for v in inputs], scale,
         list(input_times), list(stale), monitoring_band, adjusted_total, adjusted_band,
         bool(overridden), list(overridden)))
