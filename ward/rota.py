"""Who is on call for a ward, by tier, at a given moment; where nobody is.

A ward's rota is a set of shifts: a person, a tier (1: hub nurse, 2: senior
clinician, 3: consultant on call), some days of the week and a block of
whole hours on each of them.  The hours are the ward's local wall-clock
hours: a shift of 08-20 starts at 08:00 in the ward's timezone summer and
winter alike.  A moment is turned into the ward's (weekday, hour) by
`astimezone`, which never lands on a time that does not exist (the hour
skipped in spring) and maps both passes of the repeated hour in autumn to
the same wall-clock hour, so the rule holds across DST without a special case.

Pure: the shifts come in (load_shifts reads them), names go out.  The one
clinical rule here: a tier with nobody on call is not silently skipped, its
alert goes straight to the next tier up (`route`).  Hazard log H30-H34.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from ward.errors import NotFound, WardError

TIERS: tuple[int, ...] = (1, 2, 3)
TIER_NAMES = {1: "hub nurse", 2: "senior clinician", 3: "consultant on call"}
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                   "sunday")
ALL_DAYS: frozenset[int] = frozenset(range(7))
HOURS_PER_DAY = 24


@dataclass(frozen=True, slots=True)
class Shift:
    """A person on call in one tier of a ward on `days` (0 = Monday) from
    start_hour to end_hour (local wall-clock, end exclusive, 24 = midnight)."""

    ward_id: str
    tier: int
    user: str
    days: frozenset[int]
    start_hour: int
    end_hour: int

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise WardError(f"a tier is 1, 2 or 3, not {self.tier!r}")
        if not self.days or not self.days <= ALL_DAYS:
            raise WardError(f"days are 0 (Monday) .. 6 (Sunday), at least one: {sorted(self.days)}")
        if not 0 <= self.start_hour < self.end_hour <= HOURS_PER_DAY:
            raise WardError(f"hours {self.start_hour}-{self.end_hour}: a shift runs from"
                            " 0..23 to a later 1..24 (split one across midnight in two)")

    def covers(self, day: int, hour: int) -> bool:
        return day in self.days and self.start_hour <= hour < self.end_hour


@dataclass(frozen=True, slots=True)
class Gap:
    """Hours of one day (0 = Monday) with nobody on call, end exclusive."""

    day: int
    start_hour: int
    end_hour: int

    def __str__(self) -> str:
        return f"{DAY_NAMES[self.day]} {self.start_hour:02d}-{self.end_hour:02d}"


@dataclass(frozen=True, slots=True)
class Contact:
    """How a person can be reached; None where they gave no such address."""

    name: str
    email: str | None
    phone: str | None
    webhook_url: str | None

    @property
    def reachable(self) -> bool:
        return any((self.email, self.phone, self.webhook_url))


# ---------------------------------------------------------------- time


def ward_zone(name: str) -> ZoneInfo:
    """The ward's timezone; a clear error for a name zoneinfo does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise WardError(f"unknown timezone {name!r}: an IANA name such as Europe/London"
                        ) from None


def wall_clock(at: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """(weekday 0 = Monday, hour 0..23) of the aware moment `at` in `tz`."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise WardError("the moment to look up on the rota needs its timezone (aware datetime)")
    local = at.astimezone(tz)
    return local.weekday(), local.hour


# ---------------------------------------------------------------- decisions


def on_call(shifts: Iterable[Shift], ward_id: str, tier: int, at: datetime,
            tz: ZoneInfo) -> tuple[str, ...]:
    """Names on call in `tier` of `ward_id` at `at`, sorted, each once."""
    day, hour = wall_clock(at, tz)
    return tuple(sorted({s.user for s in shifts
                         if s.ward_id == ward_id and s.tier == tier and s.covers(day, hour)}))


def week(shifts: Iterable[Shift], ward_id: str, tier: int
         ) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Who is on call in `tier` for each [day][hour] of the week (7 × 24)."""
    mine = [s for s in shifts if s.ward_id == ward_id and s.tier == tier]
    return tuple(
        tuple(tuple(sorted({s.user for s in mine if s.covers(day, hour)}))
              for hour in range(HOURS_PER_DAY))
        for day in range(7))


def gaps(shifts: Iterable[Shift], ward_id: str, tier: int) -> list[Gap]:
    """The hours of the week nobody covers in `tier`, as runs within each day,
    Monday first.  A tier nobody is on at all is seven whole-day gaps."""
    grid = week(shifts, ward_id, tier)
    out: list[Gap] = []
    for day, hours in enumerate(grid):
        start = None
        for hour, names in enumerate((*hours, ("end",))):
            if not names and start is None:
                start = hour
            elif names and start is not None:
                out.append(Gap(day, start, hour))
                start = None
    return out


def route(shifts: Sequence[Shift], ward_id: str, tiers: tuple[int, ...], at: datetime,
          tz: ZoneInfo, *, reachable: Collection[str] | None = None
          ) -> dict[int, tuple[str, ...]]:
    """Who to reach for each wanted tier at `at`, keyed by the tier they are
    reached as.  A wanted tier with nobody on call is replaced by the next tier
    up that has somebody (a gap goes straight to the next tier, never to a
    lower one: a junior is no stand-in for a senior, and the lower tiers are
    asked for in their own right).  A person is listed once, under the lowest
    tier they are reached as.  With `reachable` (names that have a contact),
    a person without one does not count as on call: for the alert that is a gap.
    Empty when nobody in the wanted tiers or above is on call."""
    for tier in tiers:
        if tier not in TIERS:
            raise WardError(f"a tier is 1, 2 or 3, not {tier!r}")

    def present(tier: int) -> tuple[str, ...]:
        names = on_call(shifts, ward_id, tier, at, tz)
        return names if reachable is None else tuple(n for n in names if n in reachable)

    out: dict[int, tuple[str, ...]] = {}
    for wanted in sorted(set(tiers)):
        for tier in range(wanted, TIERS[-1] + 1):
            names = present(tier)
            if names:
                out[tier] = names
                break
    seen: set[str] = set()
    routed: dict[int, tuple[str, ...]] = {}
    for tier in sorted(out):
        fresh = tuple(n for n in out[tier] if n not in seen)
        seen.update(fresh)
        if fresh:
            routed[tier] = fresh
    return routed


def gaps_text(found: Sequence[Gap]) -> str:
    """Gaps in words, the same hours on consecutive days together:
    'mon-fri 00-08, sat-sun 00-24'; 'all week' for the whole of it."""
    if [(g.start_hour, g.end_hour) for g in found] == [(0, HOURS_PER_DAY)] * 7:
        return "all week"
    by_hours: dict[tuple[int, int], list[int]] = {}
    for g in found:
        by_hours.setdefault((g.start_hour, g.end_hour), []).append(g.day)
    parts = [(min(days), f"{days_text(days)} {a:02d}-{b:02d}")
             for (a, b), days in by_hours.items()]
    return ", ".join(text for _, text in sorted(parts))


def warnings(shifts: Sequence[Shift], ward_id: str) -> list[str]:
    """What an admin must hear about the ward's rota, worst first: hours with
    nobody on call in any tier, then each tier's gaps and where its alerts go."""
    per_tier = {t: gaps(shifts, ward_id, t) for t in TIERS}
    out: list[str] = []
    everyone = _hour_gaps(shifts, ward_id)
    if everyone:
        out.append(f"NOBODY is on call in any tier {gaps_text(everyone)}: an alert then"
                   " reaches no one")
    for tier, found in per_tier.items():
        if not found:
            continue
        after = (f"alerts for tier {tier} then go to tier {tier + 1} (or above)"
                 if tier < TIERS[-1] else "an escalation to tier 3 then reaches no one new")
        out.append(f"tier {tier} ({TIER_NAMES[tier]}) has nobody on call {gaps_text(found)}:"
                   f" {after}")
    return out


def _hour_gaps(shifts: Sequence[Shift], ward_id: str) -> list[Gap]:
    """Hours of the week no tier covers (a Shift of any tier counts)."""
    anyone = [Shift(s.ward_id, 1, s.user, s.days, s.start_hour, s.end_hour)
              for s in shifts if s.ward_id == ward_id]
    return gaps(anyone, ward_id, 1)


# ---------------------------------------------------------------- parsing


def parse_days(text: str) -> frozenset[int]:
    """'mon-sun', 'mon-fri', 'sat,sun', 'fri-mon' (wraps), 'tue' → weekdays (0 = Monday)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or not part:
            raise WardError(f"days {text!r}: days such as mon-sun, mon-fri or sat,sun")
        first, last = (_day(e, text) for e in (ends[0], ends[-1]))
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(days)


def _day(name: str, text: str) -> int:
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    raise WardError(f"days {text!r}: {name!r} is not a day (mon, tue, wed, thu, fri, sat, sun)")


_HOURS = re.compile(r"^(\d{1,2})(?::00)?-(\d{1,2})(?::00)?$")


def parse_hours(text: str) -> tuple[int, int]:
    """'08-20', '8-20', '08:00-20:00', '00-24', '20-08' (wraps midnight) →
    (start, end) in whole hours; start == end is refused (say 00-24)."""
    m = _HOURS.match(text.strip())
    if m is None:
        raise WardError(f"hours {text!r}: whole hours such as 08-20, 00-24 or 20-08")
    start, end = int(m[1]), int(m[2])
    if not (0 <= start <= 23 and 0 <= end <= 24):
        raise WardError(f"hours {text!r}: the start is 00..23, the end 00..24")
    if start == end or (start, end) == (0, 0):
        raise WardError(f"hours {text!r} cover no time: for the whole day say 00-24")
    return start, end


def shifts_for(ward_id: str, tier: int, user: str, days: frozenset[int],
               hours: tuple[int, int]) -> list[Shift]:
    """The shifts that put `user` on call: one, or two when the hours wrap past
    midnight.  '20-08 on mon-fri' is the night that STARTS on each of those
    days: 20-24 on mon-fri and 00-08 on tue-sat."""
    start, end = hours
    if end == 0:
        end = HOURS_PER_DAY
    if start < end:
        return [Shift(ward_id, tier, user, days, start, end)]
    pieces = [Shift(ward_id, tier, user, days, start, HOURS_PER_DAY)]
    if end > 0:
        pieces.append(Shift(ward_id, tier, user, frozenset((d + 1) % 7 for d in days), 0, end))
    return pieces


def days_text(days: Collection[int]) -> str:
    """Weekdays as runs: {0..4} → 'mon-fri', {5, 6} → 'sat-sun', {0, 2} → 'mon,wed'."""
    if set(days) == set(ALL_DAYS):
        return "mon-sun"
    runs: list[str] = []
    ordered = sorted(days)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        first, last = DAY_NAMES[ordered[i]], DAY_NAMES[ordered[j]]
        runs.append(first if i == j else f"{first}-{last}")
        i = j + 1
    return ",".join(runs)


def days_mask(days: Collection[int]) -> int:
    """Migration 013's bitmask: Monday = 1 … Sunday = 64."""
    return sum(1 << d for d in set(days))


def mask_days(mask: int) -> frozenset[int]:
    return frozenset(d for d in range(7) if mask & (1 << d))


# ---------------------------------------------------------------- reads


def load_shifts(conn: psycopg.Connection, ward_id: str) -> list[Shift]:
    """The ward's current shifts (ended ones are history, not the rota)."""
    rows = conn.execute(
        "SELECT s.ward_id, s.tier, u.name, s.days, s.start_hour, s.end_hour"
        " FROM rota_shifts s JOIN users u USING (user_id)"
        " WHERE s.ward_id = %s AND s.ended_at IS NULL"
        " ORDER BY s.tier, s.start_hour, u.name, s.shift_id", (ward_id,)).fetchall()
    return [Shift(w, t, u, mask_days(d), a, b) for w, t, u, d, a, b in rows]


def load_contacts(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, Contact]:
    """Each named user's contact; a name with no user is left out."""
    rows = conn.execute(
        "SELECT name, email, phone, webhook_url FROM users WHERE name = ANY(%s)",
        (sorted(set(names)),)).fetchall()
    return {r[0]: Contact(*r) for r in rows}


def load_zone(conn: psycopg.Connection, ward_id: str) -> ZoneInfo:
    """The ward's timezone (wards.time_zone, migration 001)."""
    row = conn.execute("SELECT time_zone FROM wards WHERE ward_id = %s", (ward_id,)).fetchone()
    if row is None:
        raise NotFound(f"no ward {ward_id}")
    return ward_zone(row[0])
