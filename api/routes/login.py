"""The dashboard's sign-in: a plain HTML form, a signed HttpOnly session
cookie (SameSite=Lax), and sign-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api import accounts, auth, pages
from ward.settings import Settings

router = APIRouter(tags=["login"], include_in_schema=False)

_MAX_FORM = 8 * 1024


def safe_next(value: str | None) -> str:
    """Only a path on this site (no open redirect to another one)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


@router.get("/login", response_class=HTMLResponse)
def login_form(next: str = "/") -> HTMLResponse:
    return HTMLResponse(pages.login(next_path=safe_next(next)))


def _sign_in(request: Request, name: str, password: str) -> str | None:
    """The signed cookie value of a new session, or None."""
    settings: Settings = request.app.state.settings
    with request.app.state.pool.connection() as conn:
        user = accounts.authenticate(conn, name, password)
        if user is None:
            return None
        token = accounts.open_session(conn, user, now=datetime.now(UTC),
                                      lifetime=timedelta(hours=settings.session_hours))
    return auth.sign(token, settings.secret_key)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:_MAX_FORM].decode("utf-8", "replace"))
    name = form.get("name", [""])[0].strip()
    password = form.get("password", [""])[0]
    next_path = safe_next(form.get("next", ["/"])[0])
    cookie = await run_in_threadpool(_sign_in, request, name, password) if name else None
    if cookie is None:
        return HTMLResponse(pages.login(next_path=next_path, name=name,
                                        error="Wrong name or password."),
                            status_code=status.HTTP_401_UNAUTHORIZED)
    settings: Settings = request.app.state.settings
    response = RedirectResponse(next_path, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(auth.SESSION_COOKIE, cookie, max_age=settings.session_hours * 3600,
                        path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


def _sign_out(request: Request, cookie: str) -> None:
    session = auth.unsign(cookie, request.app.state.settings.secret_key)
    if session is not None:
        with request.app.state.pool.connection() as conn:
            accounts.end_session(conn, session, datetime.now(UTC))


@router.post("/logout")
async def logout(request: Request) -> Response:
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(_sign_out, request, cookie)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
