"""GET /api/v1/health in the app (in-process, on a database of its own whose
heartbeats the tests set): 200 while an engine ticks, 503 when alerting has
stopped; anonymous callers get no names, hosts or reasons; /healthz stays a
liveness check."""

from __future__ import annotations

import api_fixtures
import pytest
from conftest import unique
from fastapi.testclient import TestClient
from own_database import own_database

from api.app import create_app
from ward import db
from ward.heartbeats import Heartbeat

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture(scope="module")
def mine(services_up):
    with own_database(services_up, "vward_api_health") as s:
        yield s


@pytest.fixture(scope="module")
def web(mine):
    with TestClient(create_app(mine, frontend=api_fixtures.echo_frontend),
                    follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def nurse(mine):
    return api_fixtures.make_person(mine, "clinician")


@pytest.fixture
def conn(mine):
    with db.connect(mine, autocommit=True) as c:
        c.execute("DELETE FROM service_heartbeats")
        yield c


def _engine(conn, *, wards=(), dead_for: str | None = None) -> str:
    name = unique("engine")
    Heartbeat("alerts", name, interval=5, wards=wards).beat(conn, ticked=True)
    if dead_for:
        conn.execute("UPDATE service_heartbeats SET last_tick_at = now() - %s::interval,"
                     " beat_at = now() - %s::interval WHERE instance_id = %s",
                     (dead_for, dead_for, name))
    return name


def test_no_engine_ever_answers_503(web, conn):
    r = web.get("/api/v1/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "alerting_stopped" and not body["alerting"]["ok"]
    assert "no alerts engine has ever run" in body["message"]
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert r.headers["cache-control"] == "no-store"


def test_a_ticking_engine_answers_200(web, conn):
    _engine(conn)
    r = web.get("/api/v1/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["alerting"]["ok"]
    assert body["alerting"]["engines_ticking"] == 1 and body["alerting"]["since"] is None


def test_a_dead_engine_answers_503_since_its_last_tick(web, conn, nurse):
    name = _engine(conn, wards=["ward-secret-7"], dead_for="10 minutes")
    r = web.get("/api/v1/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "alerting_stopped"
    assert body["message"].startswith("alerting stopped since ")
    assert "(10 min 0 s ago)" in body["message"]
    assert body["alerting"]["since"] == body["alerting"]["last_tick_at"]
    # Anonymous: nothing about the ward's layout or its machines.
    assert body["signed_in"] is False and body["alerting"]["engines"] is None
    for secret in (name, "ward-secret-7", "pid", "127.0.0.1", str(web.app.state.settings
                                                                  .mqtt_port)):
        assert secret not in r.text, secret

    full = web.get("/api/v1/health", headers=nurse.headers)
    assert full.status_code == 503
    detail = full.json()
    assert detail["signed_in"] is True
    assert "for wards ward-secret-7" in detail["message"]
    [engine] = detail["alerting"]["engines"]
    assert (engine["instance_id"], engine["state"], engine["wards"]) == (
        name, "stopped", ["ward-secret-7"])
    assert "accepts the service user" in detail["broker"]["detail"]


def test_a_bad_token_gets_the_anonymous_answer_not_a_401(web, conn):
    _engine(conn)
    r = web.get("/api/v1/health", headers={"Authorization": "Bearer vwu_not-a-token"})
    assert r.status_code == 200 and r.json()["signed_in"] is False


def test_healthz_stays_a_liveness_check(web, conn):
    _engine(conn, dead_for="1 hour")
    assert web.get("/api/v1/health").status_code == 503
    r = web.get("/healthz")
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_the_endpoint_is_in_the_api_reference(web, nurse):
    spec = web.get("/openapi.json", headers=nurse.headers).json()
    assert "503" in spec["paths"]["/api/v1/health"]["get"]["responses"]
