"""Bearer tokens for people, who is asking, and user accounts (admin)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, status

from api import accounts, answers, auth, schemas, signin, throttle
from api.deps import AdminUser, AppSettings, Conn, Principal

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=schemas.TokenOut,
             responses={401: {"model": answers.ErrorOut, "description": "Wrong name or password"},
                        403: {"model": answers.ErrorOut,
                              "description": "The password is the public demo one, outside a"
                                             " demo: an admin must set a new one"},
                        429: {"model": answers.ErrorOut, "headers": answers.RETRY_AFTER,
                              "description": "Too many failed sign-ins for this account or"
                                             " from this address: wait `Retry-After` seconds"}})
def login_for_token(body: schemas.TokenRequest, request: Request, conn: Conn,
                    cfg: AppSettings) -> schemas.TokenOut:
    """Exchange a name and password for a bearer token (for scripts and
    integrations; the dashboard logs in at /login).  Guessing is limited as on
    the login form: repeated failures are slowed, then locked out (429)."""
    now = datetime.now(UTC)
    outcome = signin.attempt(conn, body.name, body.password, door="token", demo=cfg.demo,
                             now=now, host=request.client.host if request.client else None)
    if isinstance(outcome, throttle.Refusal | signin.Busy):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, outcome.message(now),
                            headers={"Retry-After": str(outcome.retry_after(now))})
    if isinstance(outcome, signin.PublicPassword):
        raise HTTPException(status.HTTP_403_FORBIDDEN, outcome.message)
    if not isinstance(outcome, auth.User):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong name or password")
    token = accounts.issue_user_token(conn, outcome, body.label or "api login")
    return schemas.TokenOut(token=token, user=schemas.UserOut.model_validate(outcome))


@router.delete("/auth/token", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(request: Request, who: Principal, conn: Conn) -> None:
    """Revoke the bearer token this request was sent with."""
    token = auth.bearer_token(request.headers.get("authorization"))
    if token is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            "this request carries no bearer token (log out at /logout)")
    accounts.revoke_token(conn, token)


@router.get("/auth/me", response_model=schemas.Me)
def me(who: Principal) -> schemas.Me:
    if isinstance(who, auth.DeviceIdentity):
        return schemas.Me(kind="device", name=who.device_id, role="device")
    return schemas.Me(kind="user", name=who.name, role=who.role)  # type: ignore[arg-type]


@router.get("/users", response_model=list[schemas.UserListItem], tags=["users"])
def list_users(admin: AdminUser, conn: Conn) -> list[accounts.UserRow]:
    return accounts.list_users(conn)


@router.post("/users", response_model=schemas.UserCreated, status_code=status.HTTP_201_CREATED,
             tags=["users"], responses={409: {"description": "The name is taken"}})
def create_user(body: schemas.UserCreate, admin: AdminUser, conn: Conn) -> schemas.UserCreated:
    """Create a clinician or an admin; returns a bearer token, and the
    password when one was generated."""
    password = body.password or auth.new_password()
    user = accounts.create_user(conn, body.name, body.role, password, accounts.ContactChange(
        body.email, body.phone, body.webhook_url))
    token = accounts.issue_user_token(conn, user, f"created by {admin.name}")
    return schemas.UserCreated(user=schemas.UserOut.model_validate(user),
                               password=None if body.password else password, token=token)
