"""Outside a demo, nobody signs in with the public demo password (issue 10,
item 13), and `vward web` says at start who has it and what to do."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import api_fixtures
import pytest
from conftest import ROOT, service_env, unique, wait_for
from fastapi.testclient import TestClient

from api import accounts, signin
from api.app import create_app
from ward import db, scratch

pytestmark = [pytest.mark.db]

_NOT_DEMO = {"demo": False, "secret_key": "a-secret-of-this-test-run"}


@pytest.fixture
def public_user(services_up) -> str:
    """A clinician whose password is the public demo one (`vward web` created
    such a `demo` user while VWARD_DEMO was true)."""
    name = unique("demo")
    with db.connect(services_up, autocommit=True) as conn:
        accounts.create_user(conn, name, "clinician", signin.PUBLIC_PASSWORD)
    return name


@pytest.fixture(scope="module")
def not_demo(services_up) -> Iterator[TestClient]:
    settings = services_up.model_copy(update=_NOT_DEMO)
    with TestClient(create_app(settings, frontend=api_fixtures.echo_frontend),
                    client=("198.51.100.13", 50000), follow_redirects=False) as client:
        yield client


def test_the_public_demo_password_is_refused_outside_a_demo(not_demo, public_user):
    form = {"name": public_user, "password": signin.PUBLIC_PASSWORD, "next": "/"}
    r = not_demo.post("/login", data=form)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert "public demo password" in r.text and f"vward user password {public_user}" in r.text
    r = not_demo.post("/api/v1/auth/token",
                      json={"name": public_user, "password": signin.PUBLIC_PASSWORD})
    assert r.status_code == 403 and "public demo password" in r.json()["detail"]


def test_in_a_demo_the_demo_password_still_signs_in(public_user, services_up):
    with TestClient(create_app(services_up, frontend=api_fixtures.echo_frontend),
                    client=("198.51.100.14", 50000)) as demo:
        r = demo.post("/api/v1/auth/token",
                      json={"name": public_user, "password": signin.PUBLIC_PASSWORD})
    assert r.status_code == 200, r.text


def test_vward_web_names_the_user_and_vward_user_password_fixes_it(services_up, public_user,
                                                                    tmp_path, not_demo):
    env = service_env(services_up, VWARD_DEMO="false", VWARD_SECRET_KEY=_NOT_DEMO["secret_key"],
                      VWARD_WEB_PORT=str(scratch.free_port()))
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        web = subprocess.Popen([sys.executable, "-m", "ward.cli", "web"], env=env, cwd=ROOT,
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: f"user {public_user} has" in log.read_text(), timeout=90,
                 what="vward web's warning")
    finally:
        web.terminate()
        web.wait(15)
    said = log.read_text()
    assert (f"warning: user {public_user} has the public demo password and cannot sign in"
            f" while VWARD_DEMO is false: give it a new one with"
            f" `vward user password {public_user}`") in said, said
    fixed = subprocess.run([sys.executable, "-m", "ward.cli", "user", "password", public_user,
                            "--password", "a-better-password"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert fixed.returncode == 0, fixed.stderr
    r = not_demo.post("/api/v1/auth/token",
                      json={"name": public_user, "password": "a-better-password"})
    assert r.status_code == 200, r.text
    again = subprocess.run([sys.executable, "-m", "ward.cli", "user", "password", public_user,
                            "--password", signin.PUBLIC_PASSWORD], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "public demo password" in again.stderr
