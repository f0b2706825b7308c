"""What a dashboard callback needs from its surroundings: the database pool
of its app (opened on first use, never at import), the signed-in user from
the trusted headers that api/app.py sets, the settings and the clock.  The
only module of the dashboard that touches flask or psycopg_pool."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ward import access, access_log
from ward.settings import Settings

log = logging.getLogger(__name__)

# Set by api/app.py on every authenticated request (and stripped from the
# client's own request first); the dashboard trusts them and nothing else.
USER_HEADER = "X-Vward-User"
ROLE_HEADER = "X-Vward-Role"
_EXTENSION = "vward_dashboard"
# A dashboard query that takes longer than this is cut short: a callback
# slower than its refresh interval starves the page (conventions.md §6).
STATEMENT_TIMEOUT_MS = 10_000


class DatabaseUnavailable(Exception):
    """The database cannot be reached or did not answer in time."""


class Database:
    """The app's connection pool, opened lazily by the first callback."""

    def __init__(self, settings: Settings, *, max_size: int = 8) -> None:
        self.settings = settings
        self._max_size = max_size
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.settings.dsn, min_size=1, max_size=self._max_size, open=True,
                    name="vward-dashboard", timeout=10,
                    kwargs={"autocommit": True,
                            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"})
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self.pool().connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            log.warning("dashboard database unavailable: %s", exc)
            raise DatabaseUnavailable(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def install(server: flask.Flask, settings: Settings) -> Database:
    database = Database(settings)
    server.extensions[_EXTENSION] = database
    return database


def database() -> Database:
    """The Database of the app serving this request."""
    return flask.current_app.extensions[_EXTENSION]


def settings() -> Settings:
    return database().settings


# The discharge with its summary for the GP is the web app's (api/admission.py,
# above the dashboard in the layers): api/app.py hands it in when it mounts the
# dashboard.  Called as discharger(conn, patient_id, by=, summary=, now=, outcome=,
# admission_reason=); returns what has the document's `path`.
_DISCHARGER = "vward_discharger"
Discharger = Callable[..., Any]


def install_discharger(server: flask.Flask, discharge: Discharger) -> None:
    server.extensions[_DISCHARGER] = discharge


def discharger() -> Discharger | None:
    """The web app's discharge, None where the dashboard runs without it."""
    if not flask.has_app_context():
        return None
    return flask.current_app.extensions.get(_DISCHARGER)


def freshness() -> timedelta:
    return timedelta(minutes=settings().freshness_minutes)


def current_user() -> str | None:
    """The signed-in clinician's name, None outside a request or without one."""
    if not flask.has_request_context():
        return None
    name = flask.request.headers.get(USER_HEADER, "").strip()
    return name or None


def current_role() -> str | None:
    if not flask.has_request_context():
        return None
    return flask.request.headers.get(ROLE_HEADER, "").strip() or None


def now() -> datetime:
    return datetime.now(UTC)


def record_read(conn: psycopg.Connection, patient_id: str, what: str) -> None:
    """Record that the signed-in person read this patient's data here (issue 10,
    item 16); nothing outside a request (a callback called by a test)."""
    user, role = current_user(), current_role()
    if user is None:
        return
    read = access_log.Read(user, role or "", patient_id, "dashboard", what,
                           flask.request.remote_addr)
    access_log.record(conn, read, now())


def visible_wards(conn: psycopg.Connection) -> access.Wards:
    """The wards the signed-in person sees (ward/access.py): None (every ward)
    for an admin; nothing for a request that names nobody (the gate always
    names someone).  Outside a request (a test calling a callback directly, a
    script) None: there is nobody to scope."""
    if not flask.has_request_context():
        return None
    user = current_user()
    if user is None:
        return frozenset()
    if current_role() == "admin":
        return None
    return access.wards_of(conn, user)


def may_see_ward(conn: psycopg.Connection, ward_id: str | None) -> bool:
    return access.may_see(visible_wards(conn), ward_id)


def own_ward(ward: str | None) -> str | None:
    """``ward`` when the signed-in person sees it, else None (the page then
    shows what it shows before a ward is chosen).  Raises DatabaseUnavailable."""
    if ward is None or not flask.has_request_context():
        return ward
    with database().connection() as conn:
        return ward if may_see_ward(conn, ward) else None
