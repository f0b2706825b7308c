"""GET and POST /ack/{token}: acknowledge an alert from the link in its
notification, without signing in (issue 13, item 3; docs/notifications.md).

The link is the credential: signed with a key derived from VWARD_SECRET_KEY,
bound to its recipient, its alert and an expiry (ward/ack_links.py), used
once (migration 015).  GET shows the patient's state and the button; only a
POST acts, and only with the form of a page shown within FORM_MAX_AGE (so a
mail scanner fetching the link changes nothing, and nobody acknowledges a
state they did not see).  No cookie is read, so another site's form gains
nothing by posting here; a post from another site is refused anyway, as at
/login.  Tries are limited per address with the sign-ins (api/signin.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs

import psycopg
from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api import ack_links as store
from api import ack_pages, origin, signin, throttle
from ward import ack_links
from ward.ack_links import LinkClaim, LinkRefused
from ward.clinical import ActionRefused
from ward.records import AlertRow
from ward.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["ack"], include_in_schema=False)

_MAX_FORM = 8 * 1024
_STATUS = {"malformed": 403, "bad_signature": 403, "expired": 410, "used": 409,
           "not_allowed": 403, "wrong_alert": 403, "no_alert": 404}


def _page(html: str, code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(html, status_code=code, headers=ack_pages.HEADERS | (headers or {}))


def _refused(refusal: LinkRefused) -> HTMLResponse:
    return _page(ack_pages.refused(str(refusal)), _STATUS.get(refusal.reason, 403))


def _key(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    return ack_links.derive_key(settings.secret_key)


def _host(request: Request) -> str | None:
    return request.client.host if request.client else None


def _claim(conn: psycopg.Connection, request: Request, token: str,
           now: datetime) -> LinkClaim | HTMLResponse:
    """The link's claim, or the page that refuses it (throttled, not genuine, expired)."""
    found: list[LinkClaim | LinkRefused] = []

    def genuine() -> bool:
        try:
            found.append(ack_links.verify(_key(request), token, now))
        except LinkRefused as exc:
            found.append(exc)
            return exc.reason == "expired"  # signed by us: not a guess
        return True

    waited = signin.link_try(conn, host=_host(request), now=now, genuine=genuine)
    if isinstance(waited, throttle.Refusal):
        return _page(ack_pages.refused(
            "Too many links that were not genuine came from this address: wait"
            f" {waited.retry_after(now)} s before trying again.", title="Please wait"),
            status.HTTP_429_TOO_MANY_REQUESTS, {"Retry-After": str(waited.retry_after(now))})
    if isinstance(waited, signin.Busy):
        return _page(ack_pages.refused("Another link from this address is being checked: try"
                                       " again in a second.", title="Please wait"),
                     status.HTTP_429_TOO_MANY_REQUESTS, {"Retry-After": "1"})
    (claim,) = found
    if isinstance(claim, LinkRefused):
        if claim.reason != "expired":
            log.warning("acknowledge link refused (%s) from %s", claim.reason, _host(request))
        return _refused(claim)
    return claim


def _show(request: Request, token: str, *, message: str = "", code: int = 200) -> HTMLResponse:
    now = datetime.now(UTC)
    with request.app.state.pool.connection() as conn:
        claim = _claim(conn, request, token, now)
        if isinstance(claim, HTMLResponse):
            return claim
        refused, via = store.refusal(conn, claim)
        if refused is not None:
            return _refused(refused)
        shown = store.state(conn, claim, via, address=_host(request), now=now)
    if shown is None:
        return _refused(LinkRefused("no_alert", "The alert of this link no longer exists."))
    nonce = ack_links.form_nonce(_key(request), token, now)
    return _page(ack_pages.landing(shown, user=claim.user, expires=claim.expires, now=now,
                                   nonce=nonce, message=message), code)


def _act(request: Request, token: str, nonce: str, note: str) -> HTMLResponse:
    now = datetime.now(UTC)
    with request.app.state.pool.connection() as conn:
        claim = _claim(conn, request, token, now)
        if isinstance(claim, HTMLResponse):
            return claim
        if not ack_links.form_fresh(_key(request), token, nonce, now):
            outcome: AlertRow | LinkRefused | ActionRefused | None = None
        else:
            try:
                outcome = store.use(conn, claim, note=note, address=_host(request), now=now)
            except ActionRefused as exc:  # acknowledged or resolved meanwhile
                outcome = exc
        if isinstance(outcome, AlertRow):
            log.info("alert %d acknowledged by %s through link %d (%s)", claim.alert_id,
                     claim.user, claim.notification_id, outcome.ack_via)
            shown = store.state(conn, claim, outcome.ack_via or claim.via,
                                address=_host(request), now=now)
            assert shown is not None
            return _page(ack_pages.done(shown, now=now))
    if isinstance(outcome, LinkRefused):
        return _refused(outcome)
    if isinstance(outcome, ActionRefused):
        return _show(request, token, message=f"Not acknowledged: {outcome}.",
                     code=status.HTTP_409_CONFLICT)
    return _show(request, token, code=status.HTTP_409_CONFLICT, message=(
        "Not acknowledged yet: this page was open too long (or its form did not come from"
        " this link). Here is the patient's state now: press the button again if you still"
        " mean it."))


@router.get("/ack/{token}", response_class=HTMLResponse)
def landing(token: str, request: Request) -> HTMLResponse:
    """The patient's current state, then the button."""
    return _show(request, token)


@router.post("/ack/{token}", response_class=HTMLResponse)
async def acknowledge(token: str, request: Request) -> HTMLResponse:
    """Acknowledge as the link's recipient: once, from this page's own form."""
    refused = origin.refusal(origin=request.headers.get("origin"),
                             referer=request.headers.get("referer"), own=str(request.base_url),
                             trusted=origin.trusted_origins(
                                 request.app.state.settings.web_origins))
    if refused:
        return _page(ack_pages.refused(f"Not acknowledged: {refused}."),
                     status.HTTP_403_FORBIDDEN)
    body = await request.body()
    form = parse_qs(body[:_MAX_FORM].decode("utf-8", "replace"))
    nonce = form.get("nonce", [""])[0]
    note = form.get("note", [""])[0].strip()[:ack_pages.NOTE_MAX]
    return await run_in_threadpool(_act, request, token, nonce, note)


@router.api_route("/ack/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                                "OPTIONS"])
def nothing_here(rest: str) -> HTMLResponse:
    """Any other path or method under /ack/ (the gate lets them through unsigned-in):
    never the dashboard behind it."""
    return _page(ack_pages.refused("There is no such page: an acknowledge link is"
                                   " /ack/ followed by its code."), status.HTTP_404_NOT_FOUND)
