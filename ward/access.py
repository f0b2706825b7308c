"""Who sees which ward (issue 14, item 6): a clinician the wards their teams
cover and the wards whose rota they are on; an admin every ward.

The rule is pure (``visible_wards``, ``may_see``, ``in_scope``); one small
read (``wards_of``) gathers its inputs from migration 022's team_members,
migration 013's teams and rota_shifts.  Every door asks it: the API through
api/scope.py, the dashboard through dashboard/deps.py, the CLI's ``--by``.

Why the rota counts as well as the team (hazard H70): the notifier pages
whoever is on a ward's rota; a person paged for a ward whose alert they then
could not open would be a deterioration nobody acts on.  A shift counts
while it is on the rota (not ended), whatever the hour, so that a person
paged at the end of their shift can still open the alert a minute later."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from ward.errors import NotFound, WardError

# None stands for "every ward" (an admin): no list of wards to keep in step.
Wards = frozenset[str] | None


def visible_wards(role: str, team_wards: Iterable[str], rota_wards: Iterable[str]) -> Wards:
    """The wards a person sees: every ward (None) for an admin; for anyone
    else the wards of their teams and of their rota shifts, nothing more."""
    if role == "admin":
        return None
    return frozenset(team_wards) | frozenset(rota_wards)


def may_see(wards: Wards, ward_id: str | None) -> bool:
    """Whether a person with these wards may open ``ward_id`` (a patient's
    ward, say).  A thing of no ward (None) is seen by admins only."""
    if wards is None:
        return True
    return ward_id is not None and ward_id in wards


def in_scope(wards: Wards, ward_ids: Iterable[str]) -> list[str]:
    """The wards of ``ward_ids`` this person sees, in their order."""
    return [w for w in ward_ids if may_see(wards, w)]


def as_filter(wards: Wards) -> list[str] | None:
    """For SQL: ``(%(wards)s::text[] IS NULL OR ward_id = ANY(%(wards)s))``."""
    return None if wards is None else sorted(wards)


_WARDS_OF = """
SELECT u.role,
       ARRAY(SELECT t.ward_id FROM team_members m JOIN teams t USING (team_id)
             WHERE m.user_id = u.user_id) AS team_wards,
       ARRAY(SELECT s.ward_id FROM rota_shifts s
             WHERE s.user_id = u.user_id AND s.ended_at IS NULL) AS rota_wards
FROM users u WHERE u.name = %s
"""


def wards_of(conn: psycopg.Connection, user_name: str) -> Wards:
    """The wards ``user_name`` sees now: None (all) for an admin, an empty set
    for a name that is no user (nobody's wards, never everybody's)."""
    row = conn.execute(_WARDS_OF, (user_name,)).fetchone()
    if row is None:
        return frozenset()
    role, team_wards, rota_wards = row
    return visible_wards(role, team_wards, rota_wards)


def patient_ward(conn: psycopg.Connection, patient_id: str) -> str | None:
    """The ward a patient is (or was last) on; None for no such patient."""
    row = conn.execute("SELECT ward_id FROM patients WHERE patient_id = %s",
                       (patient_id,)).fetchone()
    return None if row is None else row[0]


def ward_exists(conn: psycopg.Connection, ward_id: str) -> bool:
    return conn.execute("SELECT 1 FROM wards WHERE ward_id = %s",
                        (ward_id,)).fetchone() is not None


def check_acting(conn: psycopg.Connection, by: str, patient_id: str, *,
                 as_missing: bool = False) -> None:
    """Acting as a named person (the CLI's `--by NAME`, the dashboard's signed-in
    user): refuse a patient outside NAME's wards, as the API would refuse NAME;
    ``as_missing``: with the words for a patient that does not exist (to a
    person who must not learn the patient exists).  A name that is no user is
    the operator's own record of who acted (the operator may do anything:
    docs/security.md), and is not checked."""
    role = conn.execute("SELECT role FROM users WHERE name = %s", (by,)).fetchone()
    ward_id = patient_ward(conn, patient_id)
    if role is None or ward_id is None:
        return
    wards = wards_of(conn, by)
    if not may_see(wards, ward_id) and as_missing:
        raise NotFound(f"no patient {patient_id}")
    if not may_see(wards, ward_id):
        theirs = ", ".join(sorted(wards or ())) or "none"
        raise WardError(f"patient {patient_id} is on {ward_id}, which is not one of {by}'s"
                        f" wards ({theirs}): {by} may not act on them; an admin adds {by} to"
                        f" its team with `vward team join {ward_id} --user {by}`")


def check_acting_on_alert(conn: psycopg.Connection, by: str, alert_id: int, *,
                          as_missing: bool = False) -> None:
    """`check_acting` for the patient of an alert (none: the command says so);
    ``as_missing``: refused as an alert that does not exist."""
    row = conn.execute("SELECT patient_id FROM alerts WHERE alert_id = %s",
                       (alert_id,)).fetchone()
    if row is None:
        return
    try:
        check_acting(conn, by, row[0], as_missing=as_missing)
    except NotFound:
        raise NotFound(f"no alert {alert_id}") from None
