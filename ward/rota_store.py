"""psycopg only: the one writer of a ward's rota (migration 013), for
`vward rota`, the API and the dashboard alike; and the rota's rows as the
three of them show it.  The decisions (who is on call, the gaps, how hours
across midnight are split) are ward/rota.py's.

A change ends shifts (ended_at, ended_by) and adds new ones in one
transaction, under a per-ward advisory lock, so two admins changing one
ward's rota at once cannot leave it half one and half the other; and who
was on call at any past moment stays on record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ward import rota
from ward.errors import Conflict, NotFound, WardError

_TEAM_MAX = 64


@dataclass(frozen=True, slots=True)
class Assignment:
    """One line of a rota as a person writes it: a tier, a person, days and
    hours as text ('mon-fri', '20-08'), optionally a team."""

    tier: int
    user: str
    days: str = "mon-sun"
    hours: str = "00-24"
    team: str | None = None


@dataclass(frozen=True, slots=True)
class ShiftRow:
    shift_id: int
    ward_id: str
    tier: int
    user: str
    team: str | None
    days: int  # bitmask, Monday = 1
    start_hour: int
    end_hour: int
    created_by: str
    created_at: datetime

    @property
    def shift(self) -> rota.Shift:
        return rota.Shift(self.ward_id, self.tier, self.user, rota.mask_days(self.days),
                          self.start_hour, self.end_hour)

    @property
    def days_text(self) -> str:
        return rota.days_text(rota.mask_days(self.days))

    @property
    def hours_text(self) -> str:
        return f"{self.start_hour:02d}-{self.end_hour:02d}"


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did: shifts ended and shifts added (as stored)."""

    ended: int
    added: tuple[rota.Shift, ...]


def rows(conn: psycopg.Connection, ward_id: str) -> list[ShiftRow]:
    """The ward's current shifts, by tier, start and name."""
    with conn.cursor(row_factory=class_row(ShiftRow)) as cur:
        return cur.execute(
            "SELECT s.shift_id, s.ward_id, s.tier, u.name AS user, t.name AS team, s.days,"
            " s.start_hour, s.end_hour, s.created_by, s.created_at"
            " FROM rota_shifts s JOIN users u USING (user_id)"
            " LEFT JOIN teams t ON t.team_id = s.team_id"
            " WHERE s.ward_id = %s AND s.ended_at IS NULL"
            " ORDER BY s.tier, s.start_hour, u.name, s.shift_id", (ward_id,)).fetchall()


def set_person(conn: psycopg.Connection, ward_id: str, line: Assignment, *, by: str,
               keep: bool = False) -> Change:
    """Put a person on the rota: their shifts in that tier of that ward become
    these (with keep, these are added to the ones they have)."""
    shifts = _shifts(ward_id, line)
    with conn.transaction():
        _lock(conn, ward_id)
        user_id = _reachable_user(conn, line.user)
        ended = 0 if keep else _end(conn, ward_id, by, tier=line.tier, user_id=user_id)
        team_id = _team(conn, ward_id, line.team)
        for s in shifts:
            _insert(conn, s, user_id, team_id, by)
    return Change(ended, tuple(shifts))


def remove_person(conn: psycopg.Connection, ward_id: str, tier: int, user: str, *,
                  by: str) -> int:
    """End a person's shifts in one tier of a ward; how many were ended."""
    with conn.transaction():
        _lock(conn, ward_id)
        user_id = _user_id(conn, user)
        return _end(conn, ward_id, by, tier=tier, user_id=user_id)


def replace(conn: psycopg.Connection, ward_id: str, lines: Sequence[Assignment], *,
            by: str) -> Change:
    """The ward's whole rota becomes these lines (none: an empty rota, every
    hour a gap, which `gaps` then reports).  All or nothing."""
    planned = [(line, _shifts(ward_id, line)) for line in lines]
    with conn.transaction():
        _lock(conn, ward_id)
        ended = _end(conn, ward_id, by)
        added: list[rota.Shift] = []
        for line, shifts in planned:
            user_id = _reachable_user(conn, line.user)
            team_id = _team(conn, ward_id, line.team)
            for s in shifts:
                _insert(conn, s, user_id, team_id, by)
            added.extend(shifts)
    return Change(ended, tuple(added))


def set_zone(conn: psycopg.Connection, ward_id: str, zone: str) -> str:
    """The ward's timezone, by IANA name: the rota's hours are its wall-clock."""
    name = str(rota.ward_zone(zone.strip()))
    if conn.execute("UPDATE wards SET time_zone = %s WHERE ward_id = %s",
                    (name, ward_id)).rowcount == 0:
        raise NotFound(f"no ward {ward_id}")
    return name


def ward_zone_name(conn: psycopg.Connection, ward_id: str) -> str:
    row = conn.execute("SELECT time_zone FROM wards WHERE ward_id = %s", (ward_id,)).fetchone()
    if row is None:
        raise NotFound(f"no ward {ward_id}")
    return row[0]


def wards_of(conn: psycopg.Connection, user: str) -> list[str]:
    """The wards whose current rota names this person."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT s.ward_id FROM rota_shifts s JOIN users u USING (user_id)"
        " WHERE u.name = %s AND s.ended_at IS NULL ORDER BY 1", (user,))]


# ---------------------------------------------------------------- inside


def _shifts(ward_id: str, line: Assignment) -> list[rota.Shift]:
    if isinstance(line.tier, bool) or line.tier not in rota.TIERS:
        raise WardError(f"a tier is 1 (hub nurse), 2 (senior clinician) or 3 (consultant on"
                        f" call), not {line.tier!r}")
    return rota.shifts_for(ward_id, line.tier, line.user, rota.parse_days(line.days),
                           rota.parse_hours(line.hours))


def _lock(conn: psycopg.Connection, ward_id: str) -> None:
    if conn.execute("SELECT 1 FROM wards WHERE ward_id = %s", (ward_id,)).fetchone() is None:
        raise NotFound(f"no ward {ward_id}")
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('rota:' || %s, 0))",
                 (ward_id,))


def _user_id(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT user_id FROM users WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no user {name} (create them with `vward user add`)")
    return row[0]


def _reachable_user(conn: psycopg.Connection, name: str) -> int:
    """Someone on call must be reachable: a person without a contact on the
    rota is a gap nobody would see (hazard log H33)."""
    row = conn.execute("SELECT user_id, email, phone, webhook_url FROM users WHERE name = %s",
                       (name,)).fetchone()
    if row is None:
        raise NotFound(f"no user {name} (create them with `vward user add`)")
    if not any(row[1:]):
        raise Conflict(f"user {name} has no contact (email, phone or webhook): an alert could"
                       f" not reach them; give one first (`vward user contact {name} --email"
                       " ...`)")
    return row[0]


def _team(conn: psycopg.Connection, ward_id: str, team: str | None) -> int | None:
    if team is None or not team.strip():
        return None
    name = team.strip()
    if len(name) > _TEAM_MAX:
        raise WardError(f"a team's name is at most {_TEAM_MAX} characters")
    row = conn.execute(
        "INSERT INTO teams (ward_id, name) VALUES (%s, %s) ON CONFLICT (ward_id, name)"
        " DO UPDATE SET name = EXCLUDED.name RETURNING team_id", (ward_id, name)).fetchone()
    assert row is not None
    return row[0]


def _end(conn: psycopg.Connection, ward_id: str, by: str, *, tier: int | None = None,
         user_id: int | None = None) -> int:
    return conn.execute(
        "UPDATE rota_shifts SET ended_at = now(), ended_by = %s"
        " WHERE ward_id = %s AND ended_at IS NULL"
        " AND (%s::smallint IS NULL OR tier = %s) AND (%s::bigint IS NULL OR user_id = %s)",
        (by, ward_id, tier, tier, user_id, user_id)).rowcount


def _insert(conn: psycopg.Connection, s: rota.Shift, user_id: int, team_id: int | None,
            by: str) -> None:
    conn.execute(
        "INSERT INTO rota_shifts (ward_id, team_id, tier, user_id, days, start_hour, end_hour,"
        " created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (s.ward_id, team_id, s.tier, user_id, rota.days_mask(s.days), s.start_hour,
         s.end_hour, by))
