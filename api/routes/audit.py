"""Who read a patient's record (ward/access_log.py), and sign-in lock-outs
(api/signin.py): both for admins only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from api import schemas, signin
from api.deps import AdminUser, Conn
from api.inputs import Time
from ward import access_log

router = APIRouter(prefix="/api/v1")

_LIFTED: dict[int | str, dict[str, Any]] = {404: {"description": "No live lock to lift"}}


@router.get("/audit", response_model=list[schemas.PatientReadOut], tags=["audit"])
def patient_reads(
    admin: AdminUser, conn: Conn,
    patient: Annotated[str, Query(description="The patient whose record was read")],
    since: Annotated[Time | None, Query(description="From then on; default: all")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> list[access_log.ReadRow]:
    """Every read of the patient's data through the API, FHIR and the dashboard,
    newest first: who, when, through what, what.  Like reads by one person in
    one minute are one row."""
    return access_log.list_reads(conn, patient, since=since, limit=limit)


@router.get("/sign-in-locks", response_model=list[schemas.SignInLockOut], tags=["users"])
def sign_in_locks(admin: AdminUser, conn: Conn) -> list[signin.LockRow]:
    """Accounts and addresses locked out now after repeated failed sign-ins."""
    return signin.live_locks(conn, datetime.now(UTC))


@router.post("/users/{name}/unlock", response_model=list[schemas.SignInLockOut],
             tags=["users"], responses=_LIFTED)
def unlock_user(name: str, admin: AdminUser, conn: Conn) -> list[signin.LockRow]:
    """Lift the lock-out of an account (its failures so far then count no more)."""
    lifted = signin.lift(conn, "account", name, by=admin.name, now=datetime.now(UTC))
    if not lifted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"account {name} is not locked")
    return lifted


@router.delete("/sign-in-locks/{lock_id}", response_model=list[schemas.SignInLockOut],
               tags=["users"], responses=_LIFTED)
def lift_lock(lock_id: int, admin: AdminUser, conn: Conn) -> list[signin.LockRow]:
    """Lift a lock-out, of an account or of an address, by its id."""
    lifted = signin.lift_by_id(conn, lock_id, by=admin.name, now=datetime.now(UTC))
    if not lifted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"lock {lock_id} is not live")
    return lifted
