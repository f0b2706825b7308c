"""How password guessing is slowed and refused; pure (no database, no clock).

Failed sign-ins are counted over a sliding window, per account name (from any
address) and per client address (for any name); api/signin.py keeps the
counts in the database and asks `refusal` before each attempt and
`locks_at_failure` after each failure.

Why these numbers (docs/security.md, "Password guessing"):

* An account: 5 failures are a person mistyping and pass untouched; from the
  5th on each attempt waits 1, 2, 4, 8, 16 s after the last failure (a person
  barely notices, a script is slowed); the 10th failure within 15 min locks
  the account for 15 min.  So a guesser gets at most 10 guesses per account
  per 15 min (under 1,000 a day), from however many addresses: a password of
  `auth.new_password()` (96 bits) or any not among the attacker's first
  million guesses holds for years.
* An address: 20 failures pass (a hospital's clinicians share one address
  behind its NAT and mistype too); from the 20th on the same doubling delays,
  at most 30 s; the 40th within 15 min refuses the address for 15 min.  So one
  address can lock out at most 4 accounts per 15 min (40 / 10), never a ward's
  every clinician, and it cannot guess beyond 40 passwords per 15 min across
  all names (password spraying).
* A lock is a lock: a correct password during it is refused too (else a
  guesser would tell the right password by its different answer), with when to
  try again; an admin lifts it early (`vward user unlock`).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ward import durations

WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)

ACCOUNT_SLOW_AFTER = 5
ACCOUNT_LOCK_AT = 10
ADDRESS_SLOW_AFTER = 20
ADDRESS_LOCK_AT = 40
MAX_DELAY = timedelta(seconds=30)

# Names longer than any user's (64) are cut: they cannot exist, and a key
# must not grow with what a client sends.
_MAX_KEY = 100

Scope = Literal["account", "address"]


@dataclass(frozen=True, slots=True)
class Tally:
    """One key's failures within the window and its live lock, if any."""

    failures: int
    last_failure: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """An attempt refused unread (429): until when, and whether a lock says so."""

    scope: Scope
    until: datetime
    locked: bool

    def retry_after(self, now: datetime) -> int:
        """Whole seconds to wait [s], at least 1 (the `Retry-After` header)."""
        return max(1, math.ceil((self.until - now).total_seconds()))

    def message(self, now: datetime) -> str:
        whose = "this account" if self.scope == "account" else "this address"
        wait = _wait_text(self.retry_after(now))
        if self.locked:
            return (f"Too many failed sign-ins for {whose}: it is locked until"
                    f" {self.until:%H:%M} UTC. Try again in {wait}, or ask an admin to"
                    " unlock it.")
        return f"Too many failed sign-ins for {whose}: wait {wait} before trying again."


def _wait_text(seconds: int) -> str:
    """To the second (whole seconds, the Retry-After header's): told to wait
    less, a person is refused again."""
    return durations.text(seconds)


def delay(failures: int, slow_after: int) -> timedelta:
    """How long after the last failure the next attempt must wait: nothing
    below `slow_after` failures, then 1, 2, 4 ... s, at most MAX_DELAY."""
    if failures < slow_after:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - slow_after, 16)), MAX_DELAY)


def _refusal_of(scope: Scope, tally: Tally, slow_after: int,
                now: datetime) -> Refusal | None:
    if tally.locked_until is not None and tally.locked_until > now:
        return Refusal(scope, tally.locked_until, locked=True)
    if tally.last_failure is not None:
        ready = tally.last_failure + delay(tally.failures, slow_after)
        if ready > now:
            return Refusal(scope, ready, locked=False)
    return None


def refusal(account: Tally, address: Tally, now: datetime) -> Refusal | None:
    """Why this attempt is refused before its password is read, if it is: a
    lock first (the longer wait), else the longer of the two delays."""
    found = [r for r in (_refusal_of("account", account, ACCOUNT_SLOW_AFTER, now),
                         _refusal_of("address", address, ADDRESS_SLOW_AFTER, now))
             if r is not None]
    if not found:
        return None
    return max(found, key=lambda r: (r.locked, r.until))


def locks_at_failure(scope: Scope, failures: int) -> bool:
    """Whether the failure that brings a key to `failures` locks it."""
    return failures >= (ACCOUNT_LOCK_AT if scope == "account" else ADDRESS_LOCK_AT)


def account_key(name: str) -> str:
    """The name as the database can keep it (no NUL, no lone surrogate)."""
    text = name[:_MAX_KEY].encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def address_key(host: str | None) -> str:
    """The address a client is counted by: an IPv6 address by its /64 (one
    home or host holds a whole /64, so counting single addresses would count
    nothing); anything else as it is."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:_MAX_KEY]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
