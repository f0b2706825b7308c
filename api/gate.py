"""The door in front of the dashboard (and the API docs): pure ASGI.

Every request first loses any X-Vward-User / X-Vward-Role header it came
with (also their underscore spellings, which WSGI folds into the same
environ key), so these headers can only ever come from here.  Then:

* Every path beginning /api or /fhir, and /login, /logout, /healthz pass on
  untouched: the API's routes check bearer tokens and cookies themselves
  (401/403 as JSON), and paths no route serves answer as the API does
  (api/routes/unknown.py), never with the dashboard's page.  So do paths
  beginning /ack/: an acknowledge link is its own credential
  (api/routes/ack.py, which answers every path and method under it).  So do /me
  and paths beginning /me/: the patient's own page, whose routes check the
  patient session (its own cookie, never the staff session) themselves
  (api/routes/me.py, which also answers every path and method under it).
* Everything else (the Dash app, /docs, /redoc, /openapi.json) needs a
  signed-in person.  With a valid session cookie (or a user's bearer token)
  the request passes on with `X-Vward-User: name` and `X-Vward-Role: role`
  added.  Without one, a browser's page request (GET/HEAD accepting
  text/html) is redirected to /login?next=<path>; any other request (a Dash
  callback after the session ended) gets 401 JSON.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api import accounts, auth

USER_HEADER = "X-Vward-User"
ROLE_HEADER = "X-Vward-Role"
_TRUSTED = {USER_HEADER.lower(), ROLE_HEADER.lower()}
_OPEN_PREFIXES = ("/api", "/fhir", "/ack/", "/me/")
_OPEN_PATHS = {"/login", "/logout", "/healthz", "/me"}


def _is_open(path: str) -> bool:
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


def _strip_trusted(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers
            if k.decode("latin1").lower().replace("_", "-") not in _TRUSTED]


class Gate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = dict(scope, headers=_strip_trusted(scope.get("headers", [])))
        if _is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        who = await anyio.to_thread.run_sync(_identify, scope)
        if isinstance(who, auth.User):
            scope["headers"] = [*scope["headers"],
                                (USER_HEADER.lower().encode(), who.name.encode()),
                                (ROLE_HEADER.lower().encode(), who.role.encode())]
            await self.app(scope, receive, send)
            return
        await _refuse(scope, send, device=who is not None)


def _identify(scope: Scope) -> auth.Principal | None:
    conn_info = HTTPConnection(scope)
    state = scope["app"].state
    with state.pool.connection() as conn:
        return accounts.identify(conn, authorization=conn_info.headers.get("authorization"),
                                 cookie=conn_info.cookies.get(auth.SESSION_COOKIE),
                                 secret=state.settings.secret_key, now=datetime.now(UTC))


async def _refuse(scope: Scope, send: Send, *, device: bool) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4401})
        return
    request = HTTPConnection(scope)
    wants_page = (scope["method"] in ("GET", "HEAD")
                  and "text/html" in request.headers.get("accept", ""))
    if wants_page and not device:
        target = scope["path"] + (f"?{scope['query_string'].decode('latin1')}"
                                  if scope.get("query_string") else "")
        location = f"/login?next={quote(target, safe='')}"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode()),
                                (b"cache-control", b"no-store"),
                                (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    status, detail = ((403, "a device token opens only its device's readings endpoint")
                      if device else (401, "sign in at /login"))
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class ServerTiming:
    """`Server-Timing: app;dur=<ms>` on every response: the time inside this
    app, up to its first byte, as `vward bench web` and a browser's
    developer tools read it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()

        async def timed_send(message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - t0) * 1000
                message = dict(message, headers=[*message.get("headers", []),
                                                 (b"server-timing", f"app;dur={ms:.2f}".encode())])
            await send(message)

        await self.app(scope, receive, timed_send)
