"""The dependencies every route takes: a database connection from the
app's pool, and who is asking (conventions.md §6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api import accounts, auth
from ward import access_log
from ward.settings import Settings


def connection(request: Request) -> Iterator[psycopg.Connection]:
    """One pooled connection (autocommit) for the whole request."""
    with request.app.state.pool.connection() as conn:
        yield conn


def settings(request: Request) -> Settings:
    return request.app.state.settings


Conn = Annotated[psycopg.Connection, Depends(connection)]
AppSettings = Annotated[Settings, Depends(settings)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


# Declared for OpenAPI (the docs' "Authorize" button); identify() reads both.
_bearer = HTTPBearer(auto_error=False, description="A person's or a device's token")
_cookie = APIKeyCookie(name=auth.SESSION_COOKIE, auto_error=False,
                       description="The dashboard's session (sign in at /login)")


def identify(request: Request, conn: psycopg.Connection) -> auth.Principal | None:
    """Who is asking, or None: a bearer token (user or device), else the
    dashboard's session cookie.  Looked up once a request and kept on it, so
    that api/scope.py's check of the parameters and the route share it."""
    if not hasattr(request.state, "principal"):
        cfg: Settings = request.app.state.settings
        request.state.principal = accounts.identify(
            conn, authorization=request.headers.get("authorization"),
            cookie=request.cookies.get(auth.SESSION_COOKIE), secret=cfg.secret_key,
            now=datetime.now(UTC))
    return request.state.principal


def principal(request: Request, conn: Conn,
              bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
              cookie: Annotated[str | None, Depends(_cookie)]) -> auth.Principal:
    """A bearer token (user or device), else the dashboard's session cookie."""
    who = identify(request, conn)
    if who is None:
        detail = ("invalid or revoked token" if "authorization" in request.headers
                  else "sign in: send 'Authorization: Bearer <token>' or log in at /login")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers=_CHALLENGE)
    return who


Principal = Annotated[auth.Principal, Depends(principal)]


def current_user(who: Principal) -> auth.User:
    """A person (clinician or admin); a device's token only sends readings."""
    if not isinstance(who, auth.User):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "a device token may only send its own device's readings")
    return who


CurrentUser = Annotated[auth.User, Depends(current_user)]


def admin_user(user: CurrentUser) -> auth.User:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this needs the admin role; {user.name} is a {user.role}")
    return user


AdminUser = Annotated[auth.User, Depends(admin_user)]


def current_device(who: Principal) -> auth.DeviceIdentity:
    if not isinstance(who, auth.DeviceIdentity):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "readings are sent with the device's own token (a user's token"
                            " cannot send them)")
    return who


CurrentDevice = Annotated[auth.DeviceIdentity, Depends(current_device)]


def read_log(request: Request, user: CurrentUser, conn: Conn) -> Callable[[str, str], None]:
    """Record a read of a patient's data by the signed-in person: call it with
    the patient's id and what was read, once the patient is known to exist
    (one insert per request; ward/access_log.py)."""
    via: access_log.Via = "fhir" if request.url.path.startswith("/fhir") else "api"
    address = request.client.host if request.client else None

    def record(patient_id: str, what: str) -> None:
        access_log.record(conn, access_log.Read(user.name, user.role, patient_id, via, what,
                                                address), datetime.now(UTC))

    return record


ReadLog = Annotated[Callable[[str, str], None], Depends(read_log)]
