"""psycopg only: a sign-in attempt with its password-guessing limits
(api/throttle.py decides; migration 010 keeps the counts), and lifting a
lock.  One door for the login form and POST /api/v1/auth/token alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from api import accounts, auth, throttle
from ward import durations
from ward.settings import Settings

log = logging.getLogger(__name__)

# What `vward web` and the demo's README print: with VWARD_DEMO=false nobody
# signs in with it (issue 10, item 13).
PUBLIC_PASSWORD: str = Settings.model_fields["demo_password"].default
# Two attempts for one account (or from one address) are read one after the
# other, so that parallel guesses see each other's failures; a waiter gives
# up after this and is told to try again.
_LOCK_WAIT = "5s"
_ADVISORY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


@dataclass(frozen=True, slots=True)
class Wrong:
    """Wrong name or password (401)."""


@dataclass(frozen=True, slots=True)
class PublicPassword:
    """The right password, but the public demo one outside a demo (403)."""

    name: str

    @property
    def message(self) -> str:
        return (f"The password of {self.name} is the public demo password, so it cannot sign"
                " in outside a demo. An admin gives it a new one with"
                f" `vward user password {self.name}`.")


@dataclass(frozen=True, slots=True)
class Busy:
    """Another attempt for the same account or address took too long (429)."""

    def retry_after(self, now: datetime) -> int:
        return 1

    def message(self, now: datetime) -> str:
        return "Another sign-in for this account is being checked: try again in a second."


Outcome = auth.User | Wrong | PublicPassword | throttle.Refusal | Busy


def attempt(conn: psycopg.Connection, name: str, password: str, *, host: str | None,
            door: str, demo: bool, now: datetime) -> Outcome:
    """Check a name and password within the limits, and count the outcome."""
    account, address = throttle.account_key(name), throttle.address_key(host)
    try:
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_WAIT}'")
            # Always the address first, then the account: no two attempts wait
            # for each other in a circle.
            conn.execute(_ADVISORY, (f"vward-sign-in-address:{address}",))
            conn.execute(_ADVISORY, (f"vward-sign-in-account:{account}",))
            refused = throttle.refusal(_tally(conn, "account", account, now),
                                       _tally(conn, "address", address, now), now)
            if refused is not None:
                return refused
            user = accounts.authenticate(conn, name, password)
            if user is None:
                _count_failure(conn, account, address, door, now)
                return Wrong()
            if not demo and password == PUBLIC_PASSWORD:
                return PublicPassword(user.name)
            conn.execute("DELETE FROM sign_in_failures WHERE account = %s", (account,))
            return user
    except psycopg.errors.LockNotAvailable:
        return Busy()


def _tally(conn: psycopg.Connection, scope: throttle.Scope, key: str,
           now: datetime) -> throttle.Tally:
    """The key's failures within the window since its last lock began or was
    lifted (a lock starts the count afresh), and its live lock."""
    row = conn.execute(
        "WITH locks AS (SELECT max(coalesce(lifted_at, locked_at)) AS reset,"
        "  max(locked_until) FILTER (WHERE lifted_at IS NULL AND locked_until > %(now)s)"
        "  AS locked_until FROM sign_in_locks WHERE scope = %(scope)s AND key = %(key)s)"
        " SELECT count(f.*)::int, max(f.at), l.locked_until FROM locks l"
        f" LEFT JOIN sign_in_failures f ON f.{scope} = %(key)s AND f.at > %(start)s"
        "  AND f.at > coalesce(l.reset, '-infinity')"
        " GROUP BY l.locked_until",
        {"now": now, "scope": scope, "key": key, "start": now - throttle.WINDOW}).fetchone()
    assert row is not None
    return throttle.Tally(row[0], row[1], row[2])


def _count_failure(conn: psycopg.Connection, account: str, address: str, door: str,
                   now: datetime) -> None:
    conn.execute("DELETE FROM sign_in_failures WHERE at <= %s", (now - throttle.WINDOW,))
    conn.execute("INSERT INTO sign_in_failures (at, account, address, door)"
                 " VALUES (%s, %s, %s, %s)", (now, account, address, door))
    scopes: tuple[tuple[throttle.Scope, str], ...] = (("account", account), ("address", address))
    for scope, key in scopes[1:] if door == "link" else scopes:
        failures = _tally(conn, scope, key, now).failures
        if throttle.locks_at_failure(scope, failures):
            until = now + throttle.LOCK_FOR
            conn.execute(
                "INSERT INTO sign_in_locks (scope, key, locked_at, locked_until, failures,"
                " last_address) VALUES (%s, %s, %s, %s, %s, %s)",
                (scope, key, now, until, failures, address))
            log.warning("sign-in locked: %s %s after %d failed sign-ins within %s"
                        " (the last from %s), until %s", scope, key, failures,
                        durations.text(throttle.WINDOW, parts=durations.EXACT), address,
                        f"{until:%Y-%m-%dT%H:%M:%SZ}")


# ---------------------------------------------------------------- acknowledge links

# The account a bad link counts under: no user's name (auth.valid_name), and
# never locked: a link names no account until its signature is checked.
LINK_ACCOUNT = "(ack link)"


def link_try(conn: psycopg.Connection, *, host: str | None, now: datetime,
             genuine: Callable[[], bool]) -> throttle.Refusal | Busy | None:
    """One try of an acknowledge link (api/ack_links.py) within its address's
    budget of guesses, shared with its sign-ins: refused unread while the
    address waits or is locked; else `genuine()` (the link's signature check)
    is asked, and a link that is not genuine counted as a failure.  None: the
    try was made."""
    address = throttle.address_key(host)
    no_account = throttle.Tally(0, None, None)
    try:
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_WAIT}'")
            conn.execute(_ADVISORY, (f"vward-sign-in-address:{address}",))
            refused = throttle.refusal(no_account, _tally(conn, "address", address, now), now)
            if refused is not None:
                return refused
            if not genuine():
                _count_failure(conn, LINK_ACCOUNT, address, "link", now)
            return None
    except psycopg.errors.LockNotAvailable:
        return Busy()


# ---------------------------------------------------------------- locks


@dataclass(frozen=True, slots=True)
class LockRow:
    lock_id: int
    scope: str
    key: str
    locked_at: datetime
    locked_until: datetime
    failures: int
    last_address: str
    lifted_at: datetime | None
    lifted_by: str | None


def live_locks(conn: psycopg.Connection, now: datetime) -> list[LockRow]:
    with conn.cursor(row_factory=class_row(LockRow)) as cur:
        return cur.execute(
            "SELECT lock_id, scope, key, locked_at, locked_until, failures, last_address,"
            " lifted_at, lifted_by FROM sign_in_locks"
            " WHERE lifted_at IS NULL AND locked_until > %s ORDER BY locked_at",
            (now,)).fetchall()


def lift(conn: psycopg.Connection, scope: throttle.Scope, key: str, *, by: str,
         now: datetime) -> list[LockRow]:
    """Lift the key's live locks; its failures so far then count no more (so
    the next failure does not lock it again at once).  Returns the locks lifted."""
    with conn.cursor(row_factory=class_row(LockRow)) as cur:
        lifted = cur.execute(
            "UPDATE sign_in_locks SET lifted_at = %s, lifted_by = %s"
            " WHERE scope = %s AND key = %s AND lifted_at IS NULL AND locked_until > %s"
            " RETURNING lock_id, scope, key, locked_at, locked_until, failures, last_address,"
            " lifted_at, lifted_by", (now, by, scope, key, now)).fetchall()
    for lock in lifted:
        log.warning("sign-in lock of %s %s (set %s) lifted by %s", scope, key,
                    f"{lock.locked_at:%Y-%m-%dT%H:%M:%SZ}", by)
    return lifted


def lift_by_id(conn: psycopg.Connection, lock_id: int, *, by: str,
               now: datetime) -> list[LockRow]:
    row = conn.execute("SELECT scope, key FROM sign_in_locks WHERE lock_id = %s",
                       (lock_id,)).fetchone()
    if row is None:
        return []
    return lift(conn, row[0], row[1], by=by, now=now)
