"""The API does what its OpenAPI schema says (issue 10, item 15): schemathesis
generates requests from the schema, valid and invalid, sends them with a
clinician's token to the real app on the test database, and checks every
answer: no server error, a documented status, content type, headers and
body, schema-valid requests taken and schema-invalid ones refused.  Bounded
to about a minute and a half; the examples are derandomised, so a failure
replays as it was.

Also the mismatches the assessment found, each on its own."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import api_fixtures
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import accounts, auth
from api.app import create_app
from ward import db
from ward.settings import Settings

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician

# Examples per operation: ~35 operations at ~40 ms a request, with the checks'
# own extra requests, is about a minute and a half on the 2-core machine.
_EXAMPLES = 45


class _AppUnderTest:
    """The ASGI app the cases are sent to, bound when the test database is up
    (the schema is read at import, before any fixture has run)."""

    app: Any = None

    async def __call__(self, scope, receive, send) -> None:
        # From an address of its own: the fuzzed sign-ins fail by the dozen,
        # and the limiter must not lock the other tests' address out.
        await self.app(dict(scope, client=("schema-test", 50000)), receive, send)


_APP = _AppUnderTest()
# The same code builds the schema here and serves it below; a demo Settings
# needs no database to describe the API.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(demo=True), frontend=api_fixtures.echo_frontend).openapi())
schema.app = _APP
# Every case carries the clinician's token (the auth below) and schemathesis
# generates no credentials of its own; its `ignored_auth` check still sends
# each operation without them and expects the 401 the schema declares.
schema.config.generation.update(with_security_parameters=False)
_SEEDED: dict[str, str] = {}


def _time(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


@schema.hook
def filter_query(context, query: dict[str, Any] | None) -> bool:
    """The one rule the schema cannot state: a window's start is not after its
    end (422, as the parameters' descriptions say)."""
    if not isinstance(query, dict):
        return True
    start, end = _time(query.get("start")), _time(query.get("end"))
    try:
        return start is None or end is None or start <= end
    except TypeError:  # one naive, one aware: refused as invalid anyway
        return True


@schema.hook
def map_path_parameters(context, path_parameters: dict[str, Any] | None) -> Any:
    """Half of the reads ask about a real patient with readings, so that the
    windows, buckets and pages meet data rather than a 404."""
    if (isinstance(path_parameters, dict) and context.operation.method.upper() == "GET"
            and "patient_id" in path_parameters and _SEEDED
            and zlib.crc32(str(path_parameters["patient_id"]).encode()) % 2 == 0):
        return {**path_parameters, "patient_id": _SEEDED["patient_id"]}
    return path_parameters


# The fuzzing clinician's token, chosen now: schemathesis builds its coverage
# cases (auth included) while collecting, before the database is up; the
# fixture registers it, and every token minted meanwhile, for that clinician.
_TOKEN = auth.new_token(auth.USER_TOKEN_PREFIX)
_PENDING: list[str] = [_TOKEN]
_FUZZER: dict[str, Any] = {}


def _register(conn, token: str) -> None:
    conn.execute("INSERT INTO api_tokens (token_hash, user_id, label) VALUES (%s, %s, %s)",
                 (auth.token_hash(token), _FUZZER["user"].user_id, "schema test"))


@schema.auth(refresh_interval=None)
class _ClinicianToken:
    """Every case is sent as a clinician of the test's own; a case that revokes
    the token it is sent with (DELETE /api/v1/auth/token) gets a fresh one."""

    def get(self, case, context) -> str:
        if not (case.method.upper() == "DELETE" and case.path == "/api/v1/auth/token"):
            return _TOKEN
        token = auth.new_token(auth.USER_TOKEN_PREFIX)
        if _FUZZER:
            with db.connect(_FUZZER["settings"], autocommit=True) as conn:
                _register(conn, token)
        else:
            _PENDING.append(token)
        return token

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def app_under_test(services_up, web, admin) -> Iterator[None]:
    device = api_fixtures.admit_with_device(web, admin)
    now = datetime.now().astimezone()
    readings = [{"time": now.isoformat(), "type": t, "value": v}
                for t, v in (("heart_rate", 72), ("spo2", 96), ("respiratory_rate", 16))]
    r = web.post(f"/api/v1/devices/{device.device_id}/readings", json={"readings": readings},
                 headers=device.headers)
    assert r.status_code == 200, r.text
    _SEEDED["patient_id"] = device.patient_id
    fuzzer = api_fixtures.make_person(services_up, "clinician")
    with db.connect(services_up, autocommit=True) as conn:
        _FUZZER.update(settings=services_up, user=accounts.find_user(conn, fuzzer.name))
        for token in _PENDING:
            _register(conn, token)
    _APP.app = create_app(services_up, frontend=api_fixtures.echo_frontend)
    yield
    schemathesis_asgi.shutdown_lifespans()  # the app's pool, opened at its first case
    _APP.app = None
    _SEEDED.clear()
    _FUZZER.clear()


@schema.parametrize()
@hypothesis_settings(max_examples=_EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(HealthCheck))
def test_the_api_matches_its_openapi_schema(case, app_under_test):
    # GET /api/v1/health's 503 ("alerting stopped": no engine runs here) is its
    # documented answer, judged against the schema like any other.
    excluded = [not_a_server_error] if case.path == "/api/v1/health" else []
    if case.path.startswith("/fhir"):
        # FHIR's search parameters are free text by its own spec; a value it
        # cannot read is its documented 400 OperationOutcome, not a mismatch.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)


# ---------------------------------------------------------------- the assessment's findings


def test_a_422_detail_is_documented_as_a_list_or_a_sentence(web, admin, clinician):
    spec = web.get("/openapi.json", headers=clinician.headers).json()
    detail = spec["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    kinds = {k.get("type") for k in detail["anyOf"]}
    assert kinds == {"string", "array"}
    x = api_fixtures.admit(web, admin)  # one of the clinician's patients (api/scope.py)
    r = web.get(f"/api/v1/patients/{x}/observations", params={"start": "2026-11-20T09:00:00Z",
                                                          "end": "2026-11-20T08:00:00Z"},
                headers=clinician.headers)
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


def test_a_number_is_no_time_and_zero_no_boolean(web, admin, clinician):
    patient_id = api_fixtures.admit(web, admin)
    r = web.get(f"/api/v1/patients/{patient_id}/observations", params={"start": "0.5"},
                headers=clinician.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "start"]
    r = web.post("/api/v1/alerts/1/acknowledge", json={"changed_management": 0},
                 headers=clinician.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body",
                                                                   "changed_management"]
    r = web.post("/api/v1/patients", json={"patient_id": "p-time", "admitted_at": 0.5},
                 headers=admin.headers)
    assert r.status_code == 422, r.text
    r = web.put(f"/api/v1/patients/{patient_id}/settings/spo2-scale",
                json={"scale": True, "reason": "typed as a boolean"}, headers=clinician.headers)
    assert r.status_code == 422, r.text


def test_a_body_that_is_not_utf8_is_a_documented_422(web):
    r = web.post("/api/v1/auth/token", content=b'{"name": "\xff", "password": "x"}',
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["type"] == "json_invalid"
