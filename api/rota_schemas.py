"""The rota's and contacts' HTTP shapes (issue 13, part A): request bodies
and response models, as api/schemas.py's for the rest."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from api.inputs import StrictIn as _In
from api.inputs import no_bool

Tier = Annotated[Literal[1, 2, 3], BeforeValidator(no_bool)]
_DAYS = Field("mon-sun", max_length=100,
              description="Days such as mon-sun, mon-fri, sat,sun, fri-mon")
_HOURS = Field("00-24", max_length=20,
               description="Whole hours of the ward's local wall-clock: 00-24, 08-20; 20-08 is"
                           " the night starting on each of the days, to 08:00 the next morning")
_TEAM = Field(None, max_length=64, description="The team (created when new)")


class ContactSet(_In):
    """A change of contact: a field left out stays as it is; "" removes it."""

    email: str | None = Field(None, max_length=300)
    phone: str | None = Field(None, max_length=40, description="International: +44 7700 900123")
    webhook_url: str | None = Field(None, max_length=2000,
                                    description="https (http only to the ward's own host)")


class ContactOut(BaseModel):
    name: str
    email: str | None
    phone: str | None
    webhook_url: str | None


class ShiftIn(_In):
    tier: Tier
    user: str = Field(max_length=64)
    days: str = _DAYS
    hours: str = _HOURS
    team: str | None = _TEAM


class PersonShiftIn(_In):
    days: str = _DAYS
    hours: str = _HOURS
    team: str | None = _TEAM
    keep: bool = Field(False, description="Add to the person's shifts in this tier instead of"
                                          " replacing them")


class RotaIn(_In):
    """The ward's whole rota: every current shift is ended and these begin."""

    shifts: list[ShiftIn] = Field(max_length=500)
    time_zone: str | None = Field(None, max_length=64,
                                  description="IANA name; left out, the ward's stays")


class ShiftOut(BaseModel):
    shift_id: int
    tier: int
    user: str
    team: str | None
    days: str = Field(description="As runs: mon-fri, sat-sun")
    weekdays: list[int] = Field(description="0 = Monday .. 6 = Sunday")
    start_hour: int = Field(description="Local wall-clock, 0..23")
    end_hour: int = Field(description="Local wall-clock, 1..24, exclusive")


class GapOut(BaseModel):
    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start_hour: int
    end_hour: int


class TierOut(BaseModel):
    tier: int
    name: str
    on_call_now: list[str]
    gaps: list[GapOut] = Field(description="Hours of the week nobody covers: an alert for this"
                                           " tier then goes to the next tier up")


class RotaOut(BaseModel):
    ward_id: str
    time_zone: str = Field(description="The rota's hours are this zone's wall-clock hours")
    shifts: list[ShiftOut]
    tiers: list[TierOut]
    warnings: list[str] = Field(description="The gaps in words, worst first")
