"""The dashboard's sign-in: a plain HTML form, a signed HttpOnly session
cookie (SameSite=Lax), and sign-out.  Both posts must come from this site
(api/origin.py); password guessing is limited (api/signin.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api import accounts, auth, origin, pages, signin, throttle
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


def _client_refusal(request: Request) -> str | None:
    """Why a post to /login or /logout is refused: it comes from another site."""
    settings: Settings = request.app.state.settings
    return origin.refusal(origin=request.headers.get("origin"),
                          referer=request.headers.get("referer"),
                          own=str(request.base_url),
                          trusted=origin.trusted_origins(settings.web_origins))


def _sign_in(request: Request, name: str, password: str) -> str | signin.Outcome:
    """The signed cookie value of a new session, or why there is none."""
    settings: Settings = request.app.state.settings
    now = datetime.now(UTC)
    with request.app.state.pool.connection() as conn:
        outcome = signin.attempt(conn, name, password, door="login", demo=settings.demo, now=now,
                                 host=request.client.host if request.client else None)
        if not isinstance(outcome, auth.User):
            return outcome
        token = accounts.open_session(conn, outcome, now=now,
                                      lifetime=timedelta(hours=settings.session_hours))
    return auth.sign(token, settings.secret_key)


def _form_page(next_path: str, name: str, error: str, status_code: int,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(pages.login(next_path=next_path, name=name, error=error),
                        status_code=status_code, headers=headers)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:_MAX_FORM].decode("utf-8", "replace"))
    name = form.get("name", [""])[0].strip()
    password = form.get("password", [""])[0]
    next_path = safe_next(form.get("next", ["/"])[0])
    refused = _client_refusal(request)
    if refused:
        return _form_page("/", "", f"Not signed in: {refused}.", status.HTTP_403_FORBIDDEN)
    outcome = (await run_in_threadpool(_sign_in, request, name, password) if name
               else signin.Wrong())
    if isinstance(outcome, throttle.Refusal | signin.Busy):
        now = datetime.now(UTC)
        return _form_page(next_path, name, outcome.message(now),
                          status.HTTP_429_TOO_MANY_REQUESTS,
                          {"Retry-After": str(outcome.retry_after(now))})
    if isinstance(outcome, signin.PublicPassword):
        return _form_page(next_path, name, outcome.message, status.HTTP_403_FORBIDDEN)
    if not isinstance(outcome, str):
        return _form_page(next_path, name, "Wrong name or password.",
                          status.HTTP_401_UNAUTHORIZED)
    settings: Settings = request.app.state.settings
    response = RedirectResponse(next_path, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(auth.SESSION_COOKIE, outcome, max_age=settings.session_hours * 3600,
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
    refused = _client_refusal(request)
    if refused:
        return PlainTextResponse(f"Not signed out: {refused}.", status.HTTP_403_FORBIDDEN)
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(_sign_out, request, cookie)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
