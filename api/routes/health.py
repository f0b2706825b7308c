"""`GET /api/v1/health`: is the ward working, and above all, is alerting?
503 when no alerts engine has ticked for three of its intervals (or none ever
has) or the database cannot be read; 200 otherwise.  Anyone may ask (a load
balancer, a monitor); the details are for a signed-in person (api/health.py).
`/healthz` stays what it was: this process answers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from api import accounts, auth
from api.deps import AppSettings
from api.health import HealthOut, health_out
from ward import probes

router = APIRouter(prefix="/api/v1", tags=["health"])

_POOL_WAIT = 2.0  # [s] for a pooled connection: a health check answers soon or says why


@router.get("/health", response_model=HealthOut,
            responses={503: {"model": HealthOut,
                             "description": "Alerting has stopped, or the database cannot be"
                                            " read"}})
def get_health(request: Request, cfg: AppSettings) -> Response:
    """The database, the broker, each ingest worker's latest activity and each
    alerts engine's latest tick.  No credential needed; with a person's token
    or session the answer names the engines and workers and says why."""
    pool = request.app.state.pool
    checked = probes.check(cfg, lambda: pool.connection(timeout=_POOL_WAIT))
    full = checked.database.ok and _signed_in(request, pool, cfg.secret_key)
    body = health_out(checked, full=full)
    return Response(body.model_dump_json(), status_code=503 if checked.failing else 200,
                    media_type="application/json", headers={"Cache-Control": "no-store"})


def _signed_in(request: Request, pool, secret: str) -> bool:
    """A person (not a device) with a valid token or session; anything else,
    a bad token included, gets the anonymous answer rather than a 401."""
    try:
        with pool.connection(timeout=_POOL_WAIT) as conn:
            who = accounts.identify(conn, authorization=request.headers.get("authorization"),
                                    cookie=request.cookies.get(auth.SESSION_COOKIE),
                                    secret=secret, now=datetime.now(UTC))
    except Exception:  # the database went away since the check: the anonymous answer
        return False
    return isinstance(who, auth.User)
