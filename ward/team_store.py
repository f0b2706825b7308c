"""psycopg only: the one writer of team membership (migration 022), for
`vward user add --ward`, `vward team ...` and the test fixtures alike.  A
team belongs to one ward (migration 013); a clinician sees the wards of
their teams (ward/access.py decides)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ward.errors import NotFound, WardError

# The team `vward user add --ward W` puts a person in when no team is named.
DEFAULT_TEAM = "ward team"
_TEAM_MAX = 64


@dataclass(frozen=True, slots=True)
class Membership:
    ward_id: str
    team: str
    user: str
    added_by: str


def add_team(conn: psycopg.Connection, ward_id: str, team: str) -> int:
    """The team's id, the team made if new; the ward must exist."""
    name = _team_name(team)
    with conn.transaction():
        _require_ward(conn, ward_id)
        row = conn.execute(
            "INSERT INTO teams (ward_id, name) VALUES (%s, %s) ON CONFLICT (ward_id, name)"
            " DO UPDATE SET name = EXCLUDED.name RETURNING team_id", (ward_id, name)).fetchone()
    assert row is not None
    return row[0]


def join(conn: psycopg.Connection, ward_id: str, user: str, *, by: str,
         team: str = DEFAULT_TEAM, create: bool = False) -> bool:
    """Put ``user`` in ``team`` of ``ward_id`` (made if new when ``create``, or
    when it is the ward's default team); False when they were in it already."""
    name = _team_name(team)
    if not by.strip():
        raise WardError("say who adds them (by)")
    with conn.transaction():
        _require_ward(conn, ward_id)
        user_id = _user_id(conn, user)
        if create or name == DEFAULT_TEAM:
            team_id = add_team(conn, ward_id, name)
        else:
            team_id = _team_id(conn, ward_id, name)
        return conn.execute(
            "INSERT INTO team_members (team_id, user_id, added_by) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING", (team_id, user_id, by)).rowcount == 1


def leave(conn: psycopg.Connection, ward_id: str, user: str, *,
          team: str = DEFAULT_TEAM) -> bool:
    """Take ``user`` out of the team; False when they were not in it."""
    with conn.transaction():
        _require_ward(conn, ward_id)
        user_id = _user_id(conn, user)
        team_id = _team_id(conn, ward_id, _team_name(team))
        return conn.execute("DELETE FROM team_members WHERE team_id = %s AND user_id = %s",
                            (team_id, user_id)).rowcount == 1


def memberships(conn: psycopg.Connection, *, ward_id: str | None = None,
                user: str | None = None) -> list[Membership]:
    """Who is in which team, by ward, team and name."""
    return [Membership(*r) for r in conn.execute(
        "SELECT t.ward_id, t.name, u.name, m.added_by FROM team_members m"
        " JOIN teams t USING (team_id) JOIN users u USING (user_id)"
        " WHERE (%(ward)s::text IS NULL OR t.ward_id = %(ward)s)"
        " AND (%(user)s::text IS NULL OR u.name = %(user)s)"
        " ORDER BY t.ward_id, t.name, u.name", {"ward": ward_id, "user": user})]


def teams(conn: psycopg.Connection, ward_id: str | None = None) -> list[tuple[str, str, int]]:
    """(ward, team, members) of every team, of one ward when given."""
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT t.ward_id, t.name, count(m.user_id)::int FROM teams t"
        " LEFT JOIN team_members m USING (team_id)"
        " WHERE %(ward)s::text IS NULL OR t.ward_id = %(ward)s"
        " GROUP BY t.team_id ORDER BY t.ward_id, t.name", {"ward": ward_id})]


def _team_name(team: str) -> str:
    name = team.strip()
    if not name or len(name) > _TEAM_MAX:
        raise WardError(f"a team's name is 1 to {_TEAM_MAX} characters, not {team!r}")
    return name


def _require_ward(conn: psycopg.Connection, ward_id: str) -> None:
    if conn.execute("SELECT 1 FROM wards WHERE ward_id = %s", (ward_id,)).fetchone() is None:
        raise NotFound(f"no ward {ward_id}")


def _user_id(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT user_id FROM users WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no user {name} (create them with `vward user add`)")
    return row[0]


def _team_id(conn: psycopg.Connection, ward_id: str, team: str) -> int:
    row = conn.execute("SELECT team_id FROM teams WHERE ward_id = %s AND name = %s",
                       (ward_id, team)).fetchone()
    if row is None:
        raise NotFound(f"no team {team!r} on {ward_id} (make it with `vward team add"
                       f" {ward_id} '{team}'`)")
    return row[0]
