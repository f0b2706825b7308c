"""Paths under /api and /fhir that no route serves, and methods a route does
not take, answer as an API does (issue 10, item 14): 401 without a
credential, 404 or 405 with one, as JSON — never the dashboard's page shell,
which is mounted behind them (the real Dash app here)."""

from __future__ import annotations

from collections.abc import Iterator

import api_fixtures
import pytest
from fastapi.testclient import TestClient

from api.app import create_app

pytestmark = [pytest.mark.db]

clinician = api_fixtures.clinician

_UNKNOWN = ["/api", "/api/", "/api/v2/patients", "/apix", "/api/v1/no-such-thing",
            "/fhir", "/fhir/", "/fhir/Encounter", "/fhirx", "/fhir/Patient/x/_history"]
_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE"]


@pytest.fixture(scope="module")
def real(services_up) -> Iterator[TestClient]:
    """The whole app with its real frontend, the Dash dashboard."""
    with TestClient(create_app(services_up), follow_redirects=False) as client:
        yield client


def _no_page_shell(r) -> None:
    assert "text/html" not in r.headers.get("content-type", ""), (r.status_code, r.text[:200])
    assert "_dash-config" not in r.text


@pytest.mark.parametrize("method", _METHODS)
@pytest.mark.parametrize("path", _UNKNOWN)
def test_unknown_api_paths_answer_401_then_404_never_the_page_shell(real, clinician, path,
                                                                    method):
    anonymous = real.request(method, path, headers={"Accept": "text/html"})
    assert anonymous.status_code == 401, (anonymous.status_code, anonymous.text[:200])
    _no_page_shell(anonymous)
    signed_in = real.request(method, path, headers={**clinician.headers, "Accept": "text/html"})
    assert signed_in.status_code == 404, (signed_in.status_code, signed_in.text[:200])
    _no_page_shell(signed_in)
    if path.startswith("/fhir") and method != "HEAD":
        assert signed_in.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("HEAD", "/api/v1/wards", "GET"), ("OPTIONS", "/api/v1/patients", "GET, POST"),
    ("TRACE", "/api/v1/alerts/1", "GET"), ("PATCH", "/fhir/Patient/p-1", "GET"),
    ("OPTIONS", "/api/v1/patients/p-1/settings/spo2-scale", "PUT"),
    ("DELETE", "/api/v1/wards", "GET"),
])
def test_a_known_path_with_another_method_is_405_with_allow(real, clinician, method, path,
                                                            allow):
    assert real.request(method, path).status_code == 401
    r = real.request(method, path, headers=clinician.headers)
    assert r.status_code == 405 and r.headers["allow"] == allow
    _no_page_shell(r)


def test_public_paths_say_405_to_anyone(real):
    r = real.request("TRACE", "/api/v1/health")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert real.get("/api/v1/auth/token").status_code == 405


def test_the_dashboard_still_serves_its_pages(real, clinician):
    r = real.get("/", headers={**clinician.headers, "Accept": "text/html"})
    assert r.status_code == 200 and "_dash-config" in r.text
