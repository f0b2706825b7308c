"""Every path under /api and /fhir that no route serves, and every method a
route does not take (HEAD, OPTIONS, TRACE, anything), answers as an API does:
401 without a credential, else 405 with `Allow` where the path exists, else
404 — never the dashboard's page shell, which is mounted at "/" behind them.

A Starlette route without a method list matches every method; installed after
every API route, it takes exactly what they leave."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.types import Receive, Scope, Send

from api import accounts, auth

PREFIXES = ("/api", "/fhir")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Paths whose routes need no credential: another method there is 405 for anyone.
_PUBLIC = {"/api/v1/health", "/api/v1/auth/token"}


class _Answer:
    """An ASGI endpoint (not a function), so that its route takes every method."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await _answer(request)
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    for prefix in PREFIXES:
        app.router.routes.append(Route(prefix + "{rest:path}", _Answer(),
                                       include_in_schema=False))


def _who(request: Request) -> auth.Principal | None:
    state = request.app.state
    with state.pool.connection() as conn:
        return accounts.identify(conn, authorization=request.headers.get("authorization"),
                                 cookie=request.cookies.get(auth.SESSION_COOKIE),
                                 secret=state.settings.secret_key, now=datetime.now(UTC))


def allowed_methods(app: FastAPI, scope: Scope) -> set[str]:
    """The methods the API's routes take at this request's path (none: no
    such path), asked of the routes themselves."""
    routes = [r for r in app.router.routes
              if not isinstance(r, Mount) and not (isinstance(r, Route)
                                                   and isinstance(r.endpoint, _Answer))]
    found = set()
    for method in _METHODS:
        probe = dict(scope, method=method)
        if any(route.matches(probe)[0] == Match.FULL for route in routes):
            found.add(method)
    return found


async def _answer(request: Request) -> Response:
    methods = allowed_methods(request.app, request.scope)
    public = request.url.path in _PUBLIC
    if not public and await run_in_threadpool(_who, request) is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "sign in: send 'Authorization: Bearer <token>' or log in at /login",
                            headers={"WWW-Authenticate": "Bearer"})
    if methods:
        raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED,
                            f"{request.method} is not served here: {', '.join(sorted(methods))}",
                            headers={"Allow": ", ".join(sorted(methods))})
    raise HTTPException(status.HTTP_404_NOT_FOUND, "no such endpoint: see /docs")
