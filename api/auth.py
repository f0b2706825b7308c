"""Passwords, tokens and signed session cookies; pure (stdlib only, no
database, no clock read).  api/accounts.py stores what this makes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

ROLES = ("clinician", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# scrypt with N=2**14, r=8, p=1: 16 MiB and ~50 ms a check on the development
# machine (the OWASP minimum for scrypt), slow enough for guessing, quick
# enough for a login.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32

# Token prefixes say what a token is when one turns up in a log or a script.
USER_TOKEN_PREFIX = "vwu_"
DEVICE_TOKEN_PREFIX = "vwd_"


@dataclass(frozen=True, slots=True)
class User:
    """A person signed in: their name goes into the audit trail."""

    user_id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """A device authenticated by its own bearer token."""

    device_id: str


Principal = User | DeviceIdentity


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None, n: int = _SCRYPT_N,
                  r: int = _SCRYPT_R, p: int = _SCRYPT_P) -> str:
    """`scrypt$N$r$p$salt$key`, for the users table."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    # surrogatepass: a lone surrogate (valid JSON, no valid UTF-8) is hashed,
    # not raised; every other password encodes as plain UTF-8.
    key = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                         dklen=_KEY_BYTES, maxmem=256 * n * r + 1024 * 1024)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        scheme, n, r, p, salt, _key = hashed.split("$")
        if scheme != "scrypt":
            return False
        expected = hash_password(password, salt=_unb64(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:  # a corrupt hash, or scrypt parameters it refuses
        return False
    return hmac.compare_digest(expected, hashed)


def new_password() -> str:
    """A generated password: 96 bits, easy to type from a terminal."""
    return secrets.token_urlsafe(12)


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token or a session id."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(value: str, secret: str) -> str:
    """`value.signature` (HMAC-SHA256 with the ward's secret key)."""
    mac = hmac.new(secret.encode(), value.encode(), hashlib.sha256).digest()
    return f"{value}.{_b64(mac)}"


def unsign(signed: str, secret: str) -> str | None:
    """The value of a signed string, or None when the signature is wrong."""
    value, _, _mac = signed.rpartition(".")
    if not value:
        return None
    return value if hmac.compare_digest(sign(value, secret), signed) else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


SESSION_COOKIE = "vward_session"

