"""The web app: REST API, FHIR, HTTP ingestion and login, with the Dash
ward dashboard mounted at "/" behind the sign-in gate (api/gate.py).

The dashboard's contract: `dashboard.app.create_dash(settings) -> dash.Dash`
(Flask-based, url_base_pathname "/").  Its Flask server is mounted at "/"
through a2wsgi; every request that reaches it comes from a signed-in person
and carries the trusted headers `X-Vward-User` and `X-Vward-Role` (read
them with `flask.request.headers["X-Vward-User"]`); sign-out is a POST to
/logout.  It ships in the same distribution, so it is imported directly;
`create_app(frontend=None)` serves a placeholder page at "/" instead."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import answers, fhir, pages, scope
from api.admission import discharge_with_summary
from api.gate import ROLE_HEADER, USER_HEADER, Gate, ServerTiming
from api.ingestion import Ingestor
from api.routes import access_links as access_link_routes
from api.routes import ack as ack_routes
from api.routes import alerts, audit, auth, devices, login, observations, patients, unknown, wards
from api.routes import fhir as fhir_routes
from api.routes import flow as flow_routes
from api.routes import health as health_routes
from api.routes import ingest as ingest_routes
from api.routes import me as me_routes
from api.routes import pauses as pause_routes
from api.routes import rota as rota_routes
from dashboard import app as dashboard
from dashboard import deps as dashboard_deps
from ingest import prepare_connection
from ward import clinical
from ward.errors import Conflict, NotFound, ServiceError, WardError
from ward.settings import Settings

log = logging.getLogger(__name__)

WSGIApp = Callable[..., Any]
_AUTO: Any = object()

_TAGS = [
    {"name": "auth", "description": "Bearer tokens for people; who is asking"},
    {"name": "users", "description": "Clinicians and admins (admin only)"},
    {"name": "patients", "description": "Admission, discharge and scoring settings"},
    {"name": "devices", "description": "Registration and assignment (admin only)"},
    {"name": "ingestion", "description": "Readings over HTTP, judged exactly as over MQTT"},
    {"name": "observations", "description": "Readings and NEWS2 scores over time"},
    {"name": "alerts", "description": "List, acknowledge, resolve"},
    {"name": "wards", "description": "The ward summary"},
    {"name": "rota", "description": "Who is on call, by tier, day and local hour; the gaps"
                                    " (clinicians read, admins change)"},
    {"name": "flow", "description": "Capacity (admins set it), the month's flow as CSV,"
                                    " readmissions to hospital"},
    {"name": "health", "description": "Is the ward working, is alerting running (no credential"
                                      " needed)"},
    {"name": "fhir", "description": "FHIR R4: Patient read, Observation search"},
]

_DESCRIPTION = """
The virtual ward's REST API.  Every route needs `Authorization: Bearer <token>`
(from `vward user add`, `POST /api/v1/auth/token`, or a device's registration)
or the dashboard's session cookie (sign in at `/login`).

Roles: a **clinician** reads everything and acknowledges and resolves alerts and
changes a patient's scoring settings; an **admin** may also admit and discharge
patients and manage users and devices; a **device** token only sends its own
device's readings.
"""


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    prepare_connection(conn)  # HTTP ingestion's dedup staging table, per connection


def _open_pool(settings: Settings) -> ConnectionPool:
    pool = ConnectionPool(settings.dsn, min_size=1, max_size=max(2, settings.web_pool_size),
                          kwargs={"autocommit": True}, configure=_configure, open=False,
                          name="vward-web")
    try:
        pool.open(wait=True, timeout=15)
        with pool.connection() as conn:
            ready = conn.execute("SELECT to_regclass('users') IS NOT NULL").fetchone()
    except Exception as exc:
        pool.close()
        raise ServiceError(f"the web app cannot use the database: {exc}") from exc
    if not ready or not ready[0]:
        pool.close()
        raise ServiceError("the database has no users table: run `vward up` (migration 003)")
    return pool


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = _open_pool(app.state.settings)
    try:
        yield
    finally:
        for close in app.state.on_shutdown:
            close()
        app.state.pool.close()


def _status_of(exc: WardError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict | clinical.ActionRefused):
        return 409
    return 422


async def _ward_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WardError)
    return _error(request, _status_of(exc), str(exc))


def _error(request: Request, status: int, detail: str) -> Response:
    if request.url.path.startswith("/fhir"):
        code = {401: "login", 403: "forbidden", 404: "not-found",
                405: "not-supported"}.get(status, "invalid")
        return JSONResponse(fhir.operation_outcome(code, detail), status_code=status,
                            media_type="application/fhir+json")
    return JSONResponse({"detail": detail}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's own 400 for a JSON body that is not UTF-8: an invalid body
        # like any other (422, where and why), as the schema documents.
        return await _validation_error(request, RequestValidationError([{
            "loc": ("body",), "msg": f"the body is not UTF-8 text: {exc.__cause__.reason}",
            "type": "json_invalid"}]))
    if request.url.path.startswith("/fhir"):
        response = _error(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response
    return await http_exception_handler(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    """422 with where and why; the offending input is left out, since it may
    not even be JSON (Infinity, NaN) and the client has it anyway."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    if request.url.path.startswith("/fhir"):
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return _error(request, 400, text)
    return JSONResponse({"detail": errors}, status_code=422)


async def _data_error(request: Request, exc: Exception) -> Response:
    """A value the database cannot store (a NUL character in a text, say):
    the client's input, so a 422 with the database's reason, not a 500."""
    return _error(request, 422, f"a value the database cannot store: {str(exc).strip()}")


def _dashboard(app: FastAPI, settings: Settings) -> WSGIApp:
    """The dashboard's Flask server.  Its `close_dash(dash_app)`, if it has one,
    runs at the app's shutdown."""
    dash_app = dashboard.create_dash(settings)
    # The Discharge button calls the API's discharge (above the dashboard's layer).
    dashboard_deps.install_discharger(dash_app.server, discharge_with_summary)
    close = getattr(dashboard, "close_dash", None)
    if close is not None:
        app.state.on_shutdown.append(lambda: close(dash_app))
    return dash_app.server


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with our 422: `detail` a list of where and why, or a
    sentence (answers.InvalidOut)."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes, tags=app.openapi_tags)
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        if "HTTPValidationError" in components:
            invalid = answers.InvalidOut.model_json_schema(
                ref_template="#/components/schemas/{model}")
            components.update(invalid.pop("$defs", {}))
            components["HTTPValidationError"] = invalid
        app.openapi_schema = spec
    return app.openapi_schema


def create_app(settings: Settings, *, frontend: WSGIApp | None = _AUTO) -> FastAPI:
    """The whole web app.  `frontend` is the WSGI app to mount at "/"
    (default: the Dash dashboard; None: the placeholder)."""
    # scope.Guard: a patient or ward named in the path or query of any route is
    # checked against the signed-in person's wards before the route runs.
    app = FastAPI(title="vward: virtual ward API", version="1", description=_DESCRIPTION,
                  openapi_tags=_TAGS, lifespan=_lifespan, dependencies=[scope.Guard])
    app.state.settings = settings
    app.state.ingestor = Ingestor(settings)
    app.state.on_shutdown = []
    for module in (auth, patients, pause_routes, devices, ingest_routes, observations, alerts,
                   wards, audit, rota_routes, flow_routes):
        app.include_router(scope.guarded(module.router), responses=answers.SIGNED_IN)
    app.include_router(scope.guarded(fhir_routes.router), responses=answers.FHIR)
    app.include_router(login.router)
    app.include_router(ack_routes.router)
    # The patient's own page: its routes check the patient session themselves.
    app.include_router(me_routes.router)
    app.include_router(scope.guarded(access_link_routes.router), responses=answers.SIGNED_IN)
    app.include_router(health_routes.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_exception_handler(WardError, _ward_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.DataError, _data_error)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        """Liveness only: this process answers.  Whether the ward works (the
        database, the broker, alerting) is GET /api/v1/health."""
        return {"ok": True}

    # Unknown API paths, and known ones with another method, answer as the API
    # does (401, 404, 405), never with the dashboard's page: after every route.
    unknown.install(app)

    if frontend is _AUTO:
        frontend = _dashboard(app, settings)
    if frontend is None:
        @app.get("/", include_in_schema=False, response_class=HTMLResponse)
        def placeholder(request: Request) -> HTMLResponse:
            return HTMLResponse(pages.placeholder(request.headers.get(USER_HEADER, ""),
                                                  request.headers.get(ROLE_HEADER, "")))
    else:
        from a2wsgi import WSGIMiddleware

        app.mount("/", WSGIMiddleware(frontend))  # type: ignore[arg-type]
    app.add_middleware(Gate)
    app.add_middleware(ServerTiming)
    return app
