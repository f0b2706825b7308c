"""Who may do what: bearer tokens, roles, device tokens, the login form,
the session cookie and the gate in front of the dashboard."""

from __future__ import annotations

import api_fixtures
import pytest
from conftest import unique

from api import auth

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def test_passwords_hash_with_salt_and_verify():
    h = auth.hash_password("correct horse")
    assert h.startswith("scrypt$") and h != auth.hash_password("correct horse")
    assert auth.verify_password("correct horse", h)
    assert not auth.verify_password("wrong horse", h)
    assert not auth.verify_password("x", "not-a-hash")


def test_signed_values_refuse_tampering():
    signed = auth.sign("abc", "secret")
    assert auth.unsign(signed, "secret") == "abc"
    assert auth.unsign(signed, "other secret") is None
    assert auth.unsign("abd" + signed[3:], "secret") is None
    assert auth.unsign("no-signature", "secret") is None


def test_no_token_is_401_with_a_challenge(web):
    r = web.get("/api/v1/patients")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in r.json()["detail"]


def test_a_wrong_token_is_401(web):
    r = web.get("/api/v1/patients", headers={"Authorization": "Bearer vwu_nonsense"})
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid or revoked token"


def test_a_clinician_reads_but_is_403_on_admin_routes(web, clinician):
    assert web.get("/api/v1/patients", headers=clinician.headers).status_code == 200
    r = web.post("/api/v1/patients", json={"patient_id": "p-x"}, headers=clinician.headers)
    assert r.status_code == 403
    assert "admin" in r.json()["detail"]
    assert web.get("/api/v1/users", headers=clinician.headers).status_code == 403


def test_me_says_who_is_asking(web, clinician):
    r = web.get("/api/v1/auth/me", headers=clinician.headers)
    assert r.json() == {"kind": "user", "name": clinician.name, "role": "clinician"}


def test_a_device_token_only_sends_its_own_readings(web, admin):
    dev = api_fixtures.admit_with_device(web, admin)
    other = api_fixtures.admit_with_device(web, admin)
    assert web.get("/api/v1/patients", headers=dev.headers).status_code == 403
    r = web.post(f"/api/v1/devices/{other.device_id}/readings", content=b"{}",
                 headers=dev.headers)
    assert r.status_code == 403
    assert dev.device_id in r.json()["detail"]
    r = web.post(f"/api/v1/devices/{dev.device_id}/readings", content=b"{}",
                 headers=admin.headers)
    assert r.status_code == 403  # a person's token does not send readings
    assert web.get("/api/v1/auth/me", headers=dev.headers).json()["kind"] == "device"


def test_a_token_for_a_password_and_its_revocation(web, clinician):
    r = web.post("/api/v1/auth/token", json={"name": clinician.name, "password": "wrong-one"})
    assert r.status_code == 401
    r = web.post("/api/v1/auth/token",
                 json={"name": clinician.name, "password": clinician.password})
    assert r.status_code == 200
    token = r.json()["token"]
    assert token.startswith("vwu_")
    headers = {"Authorization": f"Bearer {token}"}
    assert web.get("/api/v1/wards", headers=headers).status_code == 200
    assert web.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert web.get("/api/v1/wards", headers=headers).status_code == 401


def test_an_admin_creates_users_and_a_password_is_generated(web, admin, clinician):
    name = unique("nurse")
    r = web.post("/api/v1/users", json={"name": name, "role": "clinician"},
                 headers=admin.headers)
    assert r.status_code == 201
    body = r.json()
    assert body["user"] == {"name": name, "role": "clinician"} and len(body["password"]) >= 12
    r = web.post("/api/v1/auth/token", json={"name": name, "password": body["password"]})
    assert r.status_code == 200
    again = web.post("/api/v1/users", json={"name": name, "role": "admin"}, headers=admin.headers)
    assert again.status_code == 409
    bad = web.post("/api/v1/users", json={"name": "no spaces", "role": "chief"},
                   headers=admin.headers)
    assert bad.status_code == 422
    listed = {u["name"]: u for u in web.get("/api/v1/users", headers=admin.headers).json()}
    assert listed[name]["role"] == "clinician" and listed[name]["tokens"] == 2


# ---------------------------------------------------------------- the gate and login


def _login(web, person, next_path="/"):
    r = web.post("/login", data={"name": person.name, "password": person.password,
                                 "next": next_path})
    web.cookies.clear()  # each test sends the cookie it means to, by hand
    return r


def _cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{auth.SESSION_COOKIE}={value}"}


def test_a_browser_without_a_session_is_sent_to_login(web):
    r = web.get("/ward/3?x=1", headers={"Accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fward%2F3%3Fx%3D1"
    # A Dash callback after the session ended: JSON, not a redirect.
    r = web.post("/_dash-update-component", json={})
    assert r.status_code == 401
    assert web.get("/docs", headers={"Accept": "text/html"}).status_code == 303
    assert web.get("/openapi.json").status_code == 401


def test_the_login_form_is_plain_html(web):
    r = web.get("/login?next=/patients")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/login">' in r.text
    assert 'value="/patients"' in r.text and 'type="password"' in r.text


def test_login_sets_a_signed_httponly_lax_cookie_and_the_gate_passes_who(web, clinician):
    bad = web.post("/login", data={"name": clinician.name, "password": "nope", "next": "/"})
    assert bad.status_code == 401 and "Wrong name or password" in bad.text
    r = _login(web, clinician, "/ward/1")
    assert r.status_code == 303 and r.headers["location"] == "/ward/1"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{auth.SESSION_COOKIE}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    value = r.cookies[auth.SESSION_COOKIE]
    assert auth.unsign(value, web.app.state.settings.secret_key) is not None
    jar = _cookie(value)
    # Spoofed identity headers are dropped, in either spelling; the real one is set.
    page = web.get("/ward/1", headers={**jar, "X-Vward-User": "mallory",
                                       "X-Vward-Role": "admin", "X_Vward_User": "mallory"})
    assert page.status_code == 200
    assert page.json() == {"path": "/ward/1", "user": clinician.name, "role": "clinician"}
    # The same session opens the API.
    assert web.get("/api/v1/wards", headers=jar).status_code == 200
    # Sign out: the cookie stops working, even if it is sent again.
    out = web.post("/logout", headers=jar)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert web.get("/ward/1", headers={**jar, "Accept": "text/html"}).status_code == 303
    assert web.get("/api/v1/wards", headers=jar).status_code == 401


def test_a_tampered_cookie_is_no_session(web, clinician):
    value = _login(web, clinician).cookies[auth.SESSION_COOKIE]
    forged = ("B" if value[0] == "A" else "A") + value[1:]
    r = web.get("/", headers={**_cookie(forged), "Accept": "text/html"})
    assert r.status_code == 303


def test_login_never_redirects_off_site(web, clinician):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert _login(web, clinician, target).headers["location"] == "/"


def test_api_paths_never_reach_the_dashboard(web, clinician):
    r = web.get("/api/v1/no-such-thing", headers=clinician.headers)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    spoof = web.get("/api/v1/auth/me", headers={"X-Vward-User": "admin"})
    assert spoof.status_code == 401


def test_a_bearer_token_opens_the_dashboard_but_a_device_token_does_not(web, admin, clinician):
    r = web.get("/", headers=clinician.headers)
    assert r.json()["user"] == clinician.name
    dev = api_fixtures.admit_with_device(web, admin)
    assert web.get("/", headers=dev.headers).status_code == 403


def test_the_real_frontend_is_mounted_behind_the_gate(services_up, clinician):
    """The default frontend: the Dash dashboard when it is installed, else a
    placeholder; either way only for a signed-in person."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(services_up), follow_redirects=False) as client:
        assert client.get("/", headers={"Accept": "text/html"}).status_code == 303
        r = client.get("/", headers={**clinician.headers, "Accept": "text/html"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        if "_dash-config" in r.text:  # the Dash app: its own routes pass the gate too
            layout = client.get("/_dash-layout", headers=clinician.headers)
            assert layout.status_code == 200 and layout.json()
            assert client.get("/_dash-layout").status_code == 401
    with TestClient(create_app(services_up, frontend=None)) as client:
        r = client.get("/", headers=clinician.headers)
        assert "not installed" in r.text and clinician.name in r.text
