"""psycopg only: users, bearer tokens and dashboard sessions (migration
003).  The hashing and signing is in api/auth.py."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from api import auth
from ward import contacts
from ward.errors import Conflict, NotFound, WardError

# A token's last_used is written at most this often, so that a busy client
# does not turn every read into a write.
_LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: int
    name: str
    role: str
    created_at: datetime
    tokens: int
    last_used: datetime | None
    email: str | None
    phone: str | None
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class ContactChange:
    """A change of contact: None leaves a field as it is, "" removes it."""

    email: str | None = None
    phone: str | None = None
    webhook_url: str | None = None

    def checked(self) -> dict[str, str | None]:
        """The fields to write, each as stored (None: remove); WardError for a bad one."""
        given = {"email": (self.email, contacts.email), "phone": (self.phone, contacts.phone),
                 "webhook_url": (self.webhook_url, contacts.webhook_url)}
        return {k: check(v) for k, (v, check) in given.items() if v is not None}


def _check(name: str, role: str) -> None:
    if not auth.valid_name(name):
        raise WardError(f"user name {name!r} is not valid: 1-64 letters, digits, '.', '_' or '-',"
                        " starting with a letter or digit")
    if role not in auth.ROLES:
        raise WardError(f"role must be one of {', '.join(auth.ROLES)}, not {role!r}")


def create_user(conn: psycopg.Connection, name: str, role: str, password: str,
                contact: ContactChange = ContactChange()) -> auth.User:
    _check(name, role)
    if len(password) < 8:
        raise WardError("a password has at least 8 characters")
    reach = contact.checked()
    hashed = auth.hash_password(password)
    with conn.transaction(), conn.cursor(row_factory=class_row(auth.User)) as cur:
        row = cur.execute(
            "INSERT INTO users (name, role, password_hash, email, phone, webhook_url)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (name) DO NOTHING RETURNING user_id, name, role",
            (name, role, hashed, reach.get("email"), reach.get("phone"),
             reach.get("webhook_url"))).fetchone()
    if row is None:
        raise Conflict(f"user {name} exists already")
    return row


def find_user(conn: psycopg.Connection, name: str) -> auth.User | None:
    with conn.cursor(row_factory=class_row(auth.User)) as cur:
        return cur.execute("SELECT user_id, name, role FROM users WHERE name = %s",
                           (name,)).fetchone()


def list_users(conn: psycopg.Connection, name: str | None = None) -> list[UserRow]:
    """Every user (or the one named), with token use and contacts."""
    with conn.cursor(row_factory=class_row(UserRow)) as cur:
        return cur.execute(
            "SELECT u.user_id, u.name, u.role, u.created_at,"
            " count(t.token_id) FILTER (WHERE t.revoked_at IS NULL)::int AS tokens,"
            " max(t.last_used) AS last_used, u.email, u.phone, u.webhook_url"
            " FROM users u LEFT JOIN api_tokens t ON t.user_id = u.user_id"
            " WHERE %(name)s::text IS NULL OR u.name = %(name)s"
            " GROUP BY u.user_id ORDER BY u.name", {"name": name}).fetchall()


def authenticate(conn: psycopg.Connection, name: str, password: str) -> auth.User | None:
    """The user whose name and password these are, else None."""
    # A name no user can have (a NUL, a lone surrogate: the database cannot
    # even be asked about it) is looked up nowhere.
    row = (conn.execute("SELECT user_id, name, role, password_hash FROM users WHERE name = %s",
                        (name,)).fetchone() if auth.valid_name(name) else None)
    if row is None:
        # Spend the same time as a real check, so that timing does not tell
        # which names exist.
        auth.verify_password(password, _dummy_hash())
        return None
    if not auth.verify_password(password, row[3]):
        return None
    return auth.User(row[0], row[1], row[2])


def set_password(conn: psycopg.Connection, name: str, password: str) -> None:
    """A new password; the user's dashboard sessions end (whoever knew the old
    one is signed out), their bearer tokens stay (revoke those one by one)."""
    if len(password) < 8:
        raise WardError("a password has at least 8 characters")
    hashed = auth.hash_password(password)
    with conn.transaction():
        user = conn.execute("UPDATE users SET password_hash = %s WHERE name = %s"
                            " RETURNING user_id", (hashed, name)).fetchone()
        if user is None:
            raise NotFound(f"no user {name}")
        conn.execute("UPDATE sessions SET ended_at = now() WHERE user_id = %s"
                     " AND ended_at IS NULL", (user[0],))


def set_contact(conn: psycopg.Connection, name: str, change: ContactChange) -> UserRow:
    """Change how a person is reached.  Removing the last contact of someone
    on a ward's rota is refused: they would be on call and unreachable."""
    fields = change.checked()
    if not fields:
        raise WardError("give --email, --phone or --webhook (an empty value removes one)")
    with conn.transaction():
        sets = ", ".join(f"{k} = %({k})s" for k in fields)
        row = conn.execute(f"UPDATE users SET {sets} WHERE name = %(name)s"
                           " RETURNING email, phone, webhook_url", {**fields, "name": name}
                           ).fetchone()
        if row is None:
            raise NotFound(f"no user {name}")
        if not any(row):
            wards = [r[0] for r in conn.execute(
                "SELECT DISTINCT s.ward_id FROM rota_shifts s JOIN users u USING (user_id)"
                " WHERE u.name = %s AND s.ended_at IS NULL ORDER BY 1", (name,))]
            if wards:
                raise Conflict(f"user {name} is on the rota of {', '.join(wards)}: keep at"
                               " least one contact (or take them off the rota first)")
    return list_users(conn, name)[0]


@functools.cache
def _dummy_hash() -> str:
    return auth.hash_password("not a password", salt=b"0" * 16)


# ---------------------------------------------------------------- tokens


def issue_user_token(conn: psycopg.Connection, user: auth.User, label: str = "") -> str:
    token = auth.new_token(auth.USER_TOKEN_PREFIX)
    conn.execute("INSERT INTO api_tokens (token_hash, user_id, label) VALUES (%s, %s, %s)",
                 (auth.token_hash(token), user.user_id, label))
    return token


def issue_device_token(conn: psycopg.Connection, device_id: str) -> str:
    """A device's one bearer token: any earlier one is revoked."""
    token = auth.new_token(auth.DEVICE_TOKEN_PREFIX)
    with conn.transaction():
        conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE device_id = %s"
                     " AND revoked_at IS NULL", (device_id,))
        conn.execute("INSERT INTO api_tokens (token_hash, device_id, label) VALUES (%s, %s, %s)",
                     (auth.token_hash(token), device_id, "device"))
    return token


def revoke_token(conn: psycopg.Connection, token: str) -> bool:
    cur = conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s"
                       " AND revoked_at IS NULL", (auth.token_hash(token),))
    return cur.rowcount > 0


def principal_for_token(conn: psycopg.Connection, token: str,
                        now: datetime) -> auth.Principal | None:
    row = conn.execute(
        "SELECT t.token_id, t.last_used, t.device_id, u.user_id, u.name, u.role"
        " FROM api_tokens t LEFT JOIN users u ON u.user_id = t.user_id"
        " WHERE t.token_hash = %s AND t.revoked_at IS NULL",
        (auth.token_hash(token),)).fetchone()
    if row is None:
        return None
    token_id, last_used, device_id, user_id, name, role = row
    if last_used is None or now - last_used > _LAST_USED_EVERY:
        conn.execute("UPDATE api_tokens SET last_used = %s WHERE token_id = %s", (now, token_id))
    if device_id is not None:
        return auth.DeviceIdentity(device_id)
    return auth.User(user_id, name, role)


# ---------------------------------------------------------------- sessions


def open_session(conn: psycopg.Connection, user: auth.User, *, now: datetime,
                 lifetime: timedelta) -> str:
    """A new session; returns the session token to sign into the cookie."""
    token = auth.new_token("")
    conn.execute("INSERT INTO sessions (session_hash, user_id, created_at, expires_at)"
                 " VALUES (%s, %s, %s, %s)",
                 (auth.token_hash(token), user.user_id, now, now + lifetime))
    return token


def user_for_session(conn: psycopg.Connection, token: str, now: datetime) -> auth.User | None:
    with conn.cursor(row_factory=class_row(auth.User)) as cur:
        return cur.execute(
            "SELECT u.user_id, u.name, u.role FROM sessions s JOIN users u USING (user_id)"
            " WHERE s.session_hash = %s AND s.ended_at IS NULL AND s.expires_at > %s",
            (auth.token_hash(token), now)).fetchone()


def end_session(conn: psycopg.Connection, token: str, now: datetime) -> None:
    conn.execute("UPDATE sessions SET ended_at = %s WHERE session_hash = %s AND ended_at IS NULL",
                 (now, auth.token_hash(token)))


def identify(conn: psycopg.Connection, *, authorization: str | None, cookie: str | None,
             secret: str, now: datetime) -> auth.Principal | None:
    """Who is asking: a bearer token first, else a signed session cookie."""
    token = auth.bearer_token(authorization)
    if token is not None:
        return principal_for_token(conn, token, now)
    if cookie:
        session = auth.unsign(cookie, secret)
        if session is not None:
            return user_for_session(conn, session, now)
    return None
