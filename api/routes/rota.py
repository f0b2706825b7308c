"""A ward's rota (who is on call, by tier, day and local hour) and a person's
contacts: clinicians read, admins change (a person may change their own
contact).  Writes go through ward/rota_store.py, as `vward rota` does."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status

from api import accounts
from api import rota_schemas as s
from api.deps import AdminUser, Conn, CurrentUser
from ward import rota, rota_store

router = APIRouter(prefix="/api/v1", tags=["rota"])

_NO_WARD = {404: {"description": "No such ward, or no such user"}}
_REFUSED = {409: {"description": "The person has no contact (email, phone or webhook): an"
                                 " alert could not reach them"}}


def _rota_out(conn, ward_id: str) -> s.RotaOut:
    zone_name = rota_store.ward_zone_name(conn, ward_id)
    rows = rota_store.rows(conn, ward_id)
    shifts = [r.shift for r in rows]
    now, zone = datetime.now(UTC), rota.ward_zone(zone_name)
    return s.RotaOut(
        ward_id=ward_id, time_zone=zone_name,
        shifts=[s.ShiftOut(shift_id=r.shift_id, tier=r.tier, user=r.user, team=r.team,
                           days=r.days_text, weekdays=sorted(r.shift.days),
                           start_hour=r.start_hour, end_hour=r.end_hour) for r in rows],
        tiers=[s.TierOut(tier=t, name=rota.TIER_NAMES[t],
                         on_call_now=list(rota.on_call(shifts, ward_id, t, now, zone)),
                         gaps=[s.GapOut(day=rota.DAY_NAMES[g.day],  # type: ignore[arg-type]
                                        start_hour=g.start_hour, end_hour=g.end_hour)
                               for g in rota.gaps(shifts, ward_id, t)])
               for t in rota.TIERS],
        warnings=rota.warnings(shifts, ward_id))


@router.get("/wards/{ward_id}/rota", response_model=s.RotaOut, responses=_NO_WARD)
def get_rota(ward_id: str, user: CurrentUser, conn: Conn) -> s.RotaOut:
    """The ward's current shifts, who is on call now in each tier, every hour
    of the week nobody covers (per tier) and the warnings in words."""
    return _rota_out(conn, ward_id)


@router.put("/wards/{ward_id}/rota", response_model=s.RotaOut,
            responses={**_NO_WARD, **_REFUSED})
def put_rota(ward_id: str, body: s.RotaIn, admin: AdminUser, conn: Conn) -> s.RotaOut:
    """Replace the ward's whole rota (and its timezone, if given), all or
    nothing.  An empty list empties the rota: every hour is then a gap, which
    the answer's warnings say."""
    lines = [rota_store.Assignment(x.tier, x.user, x.days, x.hours, x.team) for x in body.shifts]
    with conn.transaction():
        if body.time_zone is not None:
            rota_store.set_zone(conn, ward_id, body.time_zone)
        rota_store.replace(conn, ward_id, lines, by=f"{admin.name} (api)")
    return _rota_out(conn, ward_id)


@router.put("/wards/{ward_id}/rota/tiers/{tier}/users/{name}", response_model=s.RotaOut,
            responses={**_NO_WARD, **_REFUSED})
def put_person(ward_id: str, tier: int, name: str, body: s.PersonShiftIn, admin: AdminUser,
               conn: Conn) -> s.RotaOut:
    """Put a person on call in one tier (as `vward rota set`): their shifts in
    that tier become these, or are added to with keep."""
    line = rota_store.Assignment(tier, name, body.days, body.hours, body.team)
    rota_store.set_person(conn, ward_id, line, by=f"{admin.name} (api)", keep=body.keep)
    return _rota_out(conn, ward_id)


@router.delete("/wards/{ward_id}/rota/tiers/{tier}/users/{name}", response_model=s.RotaOut,
               responses=_NO_WARD)
def delete_person(ward_id: str, tier: int, name: str, admin: AdminUser,
                  conn: Conn) -> s.RotaOut:
    """Take a person off one tier of the ward's rota (404 if they were not on it)."""
    if not rota_store.remove_person(conn, ward_id, tier, name, by=f"{admin.name} (api)"):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"{name} is not on tier {tier} of {ward_id}'s rota")
    return _rota_out(conn, ward_id)


@router.put("/users/{name}/contact", response_model=s.ContactOut, tags=["users"],
            responses={404: {"description": "No such user"},
                       409: {"description": "The last contact of someone on a rota"}})
def put_contact(name: str, body: s.ContactSet, user: CurrentUser, conn: Conn) -> s.ContactOut:
    """Change how a person is reached (an admin, or the person themselves).
    A field left out stays; "" removes it."""
    if not (user.is_admin or user.name == name):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"only an admin or {name} may change {name}'s contact")
    if body.webhook_url and not user.is_admin:
        # The notifier POSTs from inside the ward's network to this URL (loopback
        # included): choosing where it goes is an admin's, or a clinician could
        # aim the ward at its own internal services.  Removing one ("") is anyone's.
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only an admin may set a webhook URL (the ward POSTs to it)")
    row = accounts.set_contact(conn, name, accounts.ContactChange(
        body.email, body.phone, body.webhook_url))
    return s.ContactOut(name=row.name, email=row.email, phone=row.phone,
                        webhook_url=row.webhook_url)
