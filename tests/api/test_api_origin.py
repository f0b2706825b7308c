"""A form on another site can neither sign a browser in nor out (issue 10,
item 12): /login and /logout check Origin, else Referer."""

from __future__ import annotations

import api_fixtures
import pytest
from fastapi.testclient import TestClient

from api import auth, origin
from api.app import create_app

pytestmark = [pytest.mark.db]

web, clinician = api_fixtures.web, api_fixtures.clinician

_EVIL = "https://evil.example"


def _form(person, next_path="/"):
    return {"name": person.name, "password": person.password, "next": next_path}


def _signed_in(web, person) -> dict[str, str]:
    r = web.post("/login", data=_form(person), headers={"Origin": "http://testserver"})
    assert r.status_code == 303, r.text
    value = r.cookies[auth.SESSION_COOKIE]
    web.cookies.clear()
    return {"Cookie": f"{auth.SESSION_COOKIE}={value}"}


@pytest.mark.parametrize("headers", [
    {"Origin": _EVIL}, {"Referer": f"{_EVIL}/ward.html"}, {"Origin": "null"},
    {"Origin": "http://testserver.evil.example"}, {"Origin": "https://testserver"},
    {"Origin": _EVIL, "Referer": "http://testserver/login"},
])
def test_a_cross_site_login_post_is_refused_with_403(web, clinician, headers):
    r = web.post("/login", data=_form(clinician), headers=headers)
    web.cookies.clear()
    assert r.status_code == 403, r.text
    assert "set-cookie" not in r.headers
    assert "another site" in r.text


def test_a_cross_site_logout_post_is_refused_and_the_session_lives(web, clinician):
    jar = _signed_in(web, clinician)
    r = web.post("/logout", headers={**jar, "Origin": _EVIL})
    assert r.status_code == 403 and "another site" in r.text
    assert web.get("/api/v1/auth/me", headers=jar).status_code == 200
    same = web.post("/logout", headers={**jar, "Referer": "http://testserver/ward"})
    assert same.status_code == 303
    assert web.get("/api/v1/auth/me", headers=jar).status_code == 401


def test_same_origin_and_no_browser_posts_sign_in(web, clinician):
    for headers in ({"Origin": "http://testserver"}, {"Referer": "http://testserver/login"},
                    {"Origin": "http://TESTSERVER:80"}, {}):
        r = web.post("/login", data=_form(clinician), headers=headers)
        web.cookies.clear()
        assert r.status_code == 303, (headers, r.text)


def test_a_configured_origin_is_trusted(services_up, clinician):
    """Behind a proxy that rewrites Host, VWARD_WEB_ORIGINS names the address
    people type."""
    settings = services_up.model_copy(update={"web_origins": "https://ward.example.org"})
    with TestClient(create_app(settings, frontend=api_fixtures.echo_frontend),
                    follow_redirects=False) as client:
        ok = client.post("/login", data=_form(clinician),
                         headers={"Origin": "https://ward.example.org:443"})
        client.cookies.clear()
        assert ok.status_code == 303
        assert client.post("/login", data=_form(clinician),
                           headers={"Origin": _EVIL}).status_code == 403


def test_origins_are_compared_by_scheme_host_and_port():
    own = "http://127.0.0.1:8050/"
    trusted = origin.trusted_origins(" https://Ward.Example.org , ,garbage")
    assert trusted == frozenset({"https://ward.example.org"})
    assert origin.refusal(origin="http://127.0.0.1:8050", referer=None, own=own,
                          trusted=trusted) is None
    assert origin.refusal(origin="http://127.0.0.1:8051", referer=None, own=own,
                          trusted=trusted) is not None
    assert origin.refusal(origin=None, referer="https://ward.example.org/x?y", own=own,
                          trusted=trusted) is None
    assert origin.refusal(origin=None, referer=None, own=own, trusted=trusted) is None
    assert origin.normalise("http://[::1]:8050/") == "http://[::1]:8050"
