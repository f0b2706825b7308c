"""The patient's own page (issue 14, item 4; docs/patient-view.md): GET /me,
the questionnaire's answers (POST /me/answers), sign-out, and the one-time
link that opens it (GET and POST /me/link/{token}).

The gate lets /me through unsigned-in (api/gate.py): these routes check the
patient session themselves, from their own cookie (ward/patient_links.COOKIE,
path /me), never the staff session.  The patient shown is the session's: no
URL names a patient.  Every post must come from this site (api/origin.py) with
the form of a page this session (or link) showed within FORM_MAX_AGE (a
signed nonce: CSRF), and the cookie is SameSite=Strict.  A link that is not
ours counts as a failed sign-in of its address (api/signin.link_try), so
guessing links is throttled and locked out as password guessing is.  Answers
go through ingest's own door (api/ingestion.py) as the readings of the
patient's self-report device."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api import me_pages, origin, signin, throttle
from ward import ack_links, patient_access, patient_links
from ward.patient_access import Me
from ward.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["me"], include_in_schema=False)

_MAX_FORM = 8 * 1024
_STATUS = {"unknown": 404, "used": 409, "revoked": 403, "expired": 410, "discharged": 410}


def _page(html: str, code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(html, status_code=code, headers=me_pages.HEADERS | (headers or {}))


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _key(request: Request) -> bytes:
    return patient_links.derive_key(_settings(request).secret_key)


def _host(request: Request) -> str | None:
    return request.client.host if request.client else None


def _session(request: Request) -> str | None:
    cookie = request.cookies.get(patient_links.COOKIE)
    return patient_links.unsign_session(_key(request), cookie) if cookie else None


def _cross_site(request: Request) -> str | None:
    return origin.refusal(origin=request.headers.get("origin"),
                          referer=request.headers.get("referer"), own=str(request.base_url),
                          trusted=origin.trusted_origins(_settings(request).web_origins))


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    form = parse_qs(body[:_MAX_FORM].decode("utf-8", "replace"))
    return {k: v[0] for k, v in form.items()}


def _signed_out(message: str = "You are not signed in.") -> HTMLResponse:
    response = _page(me_pages.signed_out(message), status.HTTP_401_UNAUTHORIZED)
    response.delete_cookie(patient_links.COOKIE, path=patient_links.COOKIE_PATH,
                           httponly=True, samesite="strict")
    return response


# ---------------------------------------------------------------- the page


def _home(request: Request, session: str | None, *, message: str = "",
          code: int = 200) -> HTMLResponse:
    now = datetime.now(UTC)
    with request.app.state.pool.connection() as conn:
        me = patient_access.patient_of(conn, session, now) if session else None
        if me is None:
            return _signed_out("You are not signed in, or your session has ended.")
        shown = patient_access.view(conn, me)
    nonce = ack_links.form_nonce(_key(request), session or "", now)
    return _page(me_pages.home(me, shown, now=now, nonce=nonce, message=message), code)


@router.get("/me", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The signed-in patient's own page."""
    return _home(request, _session(request))


def _answer(request: Request, session: str, form: dict[str, str]) -> HTMLResponse:
    now = datetime.now(UTC)
    answers = {k: {"yes": True, "no": False}.get(form.get(k, "")) for k in
               ("breathless", "confused")}
    with request.app.state.pool.connection() as conn:
        me: Me | None = patient_access.patient_of(conn, session, now)
        if me is None:
            return _signed_out("Your session has ended: your answers were not sent.")
        if not ack_links.form_fresh(_key(request), session, form.get("nonce", ""), now,
                                    patient_links.FORM_MAX_AGE):
            code, message = status.HTTP_409_CONFLICT, (
                "Your answers were not sent: the page was open too long. Here it is again:"
                " please answer and send once more.")
        elif all(a is None for a in answers.values()):
            code, message = status.HTTP_400_BAD_REQUEST, (
                "Nothing was sent: choose Yes or No for at least one question.")
        else:
            code, message = _send(request, conn, me, answers, now)
    return _home(request, session, message=message, code=code)


def _send(request: Request, conn, me: Me, answers: dict[str, bool | None],
          now: datetime) -> tuple[int, str]:
    readings = patient_links.answer_readings(breathless=answers["breathless"],
                                             confused=answers["confused"],
                                             at=now.isoformat())
    if not readings:  # "no new confusion" alone: nothing to store (never A)
        return 200, "Thank you: nothing new to tell your team."
    device_id = patient_links.self_report_device(me.patient_id)
    payload = json.dumps({"id": f"me-{uuid.uuid4()}", "readings": readings}).encode()
    done = request.app.state.ingestor.ingest(conn, device_id, payload, now)
    if done.status != 200 or done.refused:
        log.warning("patient page answers of %s refused: %s", me.patient_id, done.detail)
        return status.HTTP_503_SERVICE_UNAVAILABLE, (
            "Sorry, your answers could not be saved. Please call your virtual ward to tell"
            " them instead.")
    return 200, "Thank you: your answers have been sent to your team."


@router.post("/me/answers", response_class=HTMLResponse)
async def answer(request: Request) -> HTMLResponse:
    """The questionnaire's answers, stored as readings."""
    refused = _cross_site(request)
    if refused:
        return _page(me_pages.signed_out(f"Not sent: {refused}."), status.HTTP_403_FORBIDDEN)
    session = _session(request)
    form = await _form(request)
    if session is None:
        return _signed_out("You are not signed in: your answers were not sent.")
    return await run_in_threadpool(_answer, request, session, form)


def _sign_out(request: Request, session: str, nonce: str) -> Response:
    now = datetime.now(UTC)
    if not ack_links.form_fresh(_key(request), session, nonce, now, patient_links.FORM_MAX_AGE):
        return _home(request, session, code=status.HTTP_409_CONFLICT,
                     message="Not signed out: the page was open too long. Press Sign out again.")
    with request.app.state.pool.connection() as conn:
        patient_access.end_session(conn, session, now)
    response = _signed_out("You are signed out.")
    response.status_code = status.HTTP_200_OK
    return response


@router.post("/me/signout")
async def sign_out(request: Request) -> Response:
    refused = _cross_site(request)
    if refused:
        return _page(me_pages.signed_out(f"Not signed out: {refused}."),
                     status.HTTP_403_FORBIDDEN)
    session = _session(request)
    form = await _form(request)
    if session is None:
        return _signed_out("You are signed out.")
    return await run_in_threadpool(_sign_out, request, session, form.get("nonce", ""))


# ---------------------------------------------------------------- the link


def _check_link(conn, request: Request, token: str,
                now: datetime) -> patient_links.LinkRow | HTMLResponse:
    """The link's row when it may open a session, else the page that refuses it
    (throttled, not ours, used, revoked, expired, patient discharged)."""
    found: list[patient_links.LinkRow | None] = []

    def genuine() -> bool:
        found.append(patient_access.find_link(conn, token) if len(token) <= 100 else None)
        return found[0] is not None

    waited = signin.link_try(conn, host=_host(request), now=now, genuine=genuine)
    if isinstance(waited, throttle.Refusal | signin.Busy):
        wait = waited.retry_after(now)
        return _page(me_pages.link_landing(
            token_ok=False, message=f"Too many tries from this address: wait {wait} s and"
            " try again."), status.HTTP_429_TOO_MANY_REQUESTS, {"Retry-After": str(wait)})
    (link,) = found
    refused = patient_links.refusal(link, now)
    if refused is not None:
        if refused.reason == "unknown":
            log.warning("patient link not ours from %s", _host(request))
        return _page(me_pages.link_landing(token_ok=False, message=refused.message),
                     _STATUS[refused.reason])
    assert link is not None
    return link


def _link_page(request: Request, token: str) -> HTMLResponse:
    now = datetime.now(UTC)
    with request.app.state.pool.connection() as conn:
        checked = _check_link(conn, request, token, now)
    if isinstance(checked, HTMLResponse):
        return checked
    nonce = ack_links.form_nonce(_key(request), token, now)
    return _page(me_pages.link_landing(token_ok=True, nonce=nonce))


@router.get("/me/link/{token}", response_class=HTMLResponse)
def link_page(token: str, request: Request) -> HTMLResponse:
    """The link's landing page: a button that opens the patient's page."""
    return _link_page(request, token)


def _open(request: Request, token: str, nonce: str) -> Response:
    now = datetime.now(UTC)
    settings = _settings(request)
    with request.app.state.pool.connection() as conn:
        checked = _check_link(conn, request, token, now)
        if isinstance(checked, HTMLResponse):
            return checked
        if not ack_links.form_fresh(_key(request), token, nonce, now,
                                    patient_links.FORM_MAX_AGE):
            fresh = ack_links.form_nonce(_key(request), token, now)
            return _page(me_pages.link_landing(
                token_ok=True, nonce=fresh, message="The page was open too long: press the"
                " button again."), status.HTTP_409_CONFLICT)
        lifetime = timedelta(hours=settings.patient_session_hours)
        session = patient_access.use_link(conn, token, now=now, address=_host(request),
                                          lifetime=lifetime)
    if isinstance(session, patient_links.Refused):
        return _page(me_pages.link_landing(token_ok=False, message=session.message),
                     _STATUS[session.reason])
    log.info("patient link %d opened a session", checked.link_id)
    response = RedirectResponse("/me", status_code=status.HTTP_303_SEE_OTHER,
                                headers=me_pages.HEADERS)
    response.set_cookie(patient_links.COOKIE, patient_links.sign_session(_key(request), session),
                        max_age=int(lifetime.total_seconds()), path=patient_links.COOKIE_PATH,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/me/link/{token}")
async def open_page(token: str, request: Request) -> Response:
    """Use the link: a patient session starts, in its own cookie."""
    refused = _cross_site(request)
    if refused:
        return _page(me_pages.link_landing(token_ok=False, message=f"Not opened: {refused}."),
                     status.HTTP_403_FORBIDDEN)
    form = await _form(request)
    return await run_in_threadpool(_open, request, token, form.get("nonce", ""))


@router.api_route("/me/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                              "OPTIONS"])
def nothing_here(rest: str) -> HTMLResponse:
    """Any other path or method under /me/ (the gate lets them through): never the
    dashboard behind it, and no page that takes a patient's id."""
    return _page(me_pages.signed_out("There is no such page."), status.HTTP_404_NOT_FOUND)
