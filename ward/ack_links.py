"""Acknowledge links: the credential a notification carries so that the
person it was sent to may acknowledge that one alert, once, for a limited
time, without signing in (issue 13, item 3).  Pure: no database, no clock
read (pass `now`).

A token is `<payload>.<mac>`, both unpadded URL-safe base64, so it sits in a
URL path, an email and an SMS unchanged.  The payload is packed binary, not
JSON, to keep an SMS link short (~70 characters) and to leave nothing to
parse ambiguously (no duplicate keys, no number forms):

    version (1) | notification_id (8) | alert_id (8) | expires, Unix s (8)
    | channel code (1) | user, UTF-8 (rest)

The MAC is HMAC-SHA256 under a key derived from the ward's secret key for
this use alone (`derive_key`): a session cookie, signed with the secret key
itself, can never pass as a link nor a link as a cookie.  It is truncated to
128 bits (NIST SP 800-107 allows it; a forger still needs 2**128 tries, and
the landing page is rate-limited).  Comparison is constant-time.

What a valid signature does NOT prove, and the caller checks: that the link
was never used (a row per used link, migration 015), that the user may
still acknowledge, and that the alert is the one the page acts on."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_VERSION = 1
_HEADER = struct.Struct(">BQQqB")
_MAC_BYTES = 16
_MAX_USER_BYTES = 64  # api/auth.py's user names: 64 characters of ASCII
_MAX_TOKEN_CHARS = 256
# The channel a link went out on, so an acknowledgement can say how it was
# made ('link:email') even where the notification row is not consulted.
# Codes are part of the token format: append, never renumber.
CHANNELS: tuple[str, ...] = ("", "email", "webhook", "sms")
_KEY_CONTEXT = b"vward ack-link v1"
DEFAULT_TTL = timedelta(hours=1)


class LinkRefused(Exception):
    """The token is not a valid link; `reason` is a short code for logs and
    tests, the message a sentence for the person holding the link."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a valid link says: who may acknowledge which alert until when."""

    notification_id: int
    alert_id: int
    user: str
    expires: datetime
    channel: str = ""

    @property
    def via(self) -> str:
        """How an acknowledgement through this link is recorded (alerts.ack_via)."""
        return f"link:{self.channel}" if self.channel else "link"


def derive_key(secret_key: str) -> bytes:
    """The link key: HMAC of a fixed context under the ward's VWARD_SECRET_KEY."""
    if not secret_key:
        raise ValueError("the ward's secret key is empty")
    return hmac.new(secret_key.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def sign(key: bytes, *, notification_id: int, alert_id: int, user: str, expires: datetime,
         channel: str = "") -> str:
    """A URL-safe token for `user` to acknowledge `alert_id` until `expires`
    (an aware time; whole seconds, rounded down: a link never lasts longer
    than asked)."""
    if expires.tzinfo is None:
        raise ValueError("expires must be an aware datetime")
    if channel not in CHANNELS:
        raise ValueError(f"channel {channel!r}: one of {', '.join(c for c in CHANNELS if c)}")
    name = user.encode()
    if not name or len(name) > _MAX_USER_BYTES:
        raise ValueError(f"user {user!r}: 1 to {_MAX_USER_BYTES} bytes")
    for value, what in ((notification_id, "notification_id"), (alert_id, "alert_id")):
        if not 0 < value < 2**63:
            raise ValueError(f"{what} {value}: a positive 64-bit integer")
    payload = _HEADER.pack(_VERSION, notification_id, alert_id,
                           int(expires.timestamp() // 1), CHANNELS.index(channel)) + name
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def verify(key: bytes, token: str, now: datetime) -> LinkClaim:
    """The claim of a genuine, unexpired token, or LinkRefused.  A link is
    valid while now < expires: at its expiry second it is refused."""
    if len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        raise _malformed()
    head, _, tail = token.partition(".")
    payload, mac = _unb64(head), _unb64(tail)
    if payload is None or mac is None or len(mac) != _MAC_BYTES:
        raise _malformed()
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise LinkRefused("bad_signature", "This link is not genuine: it was altered or"
                          " not made by this ward.")
    if len(payload) <= _HEADER.size:
        raise _malformed()
    version, notification_id, alert_id, expires_s, code = _HEADER.unpack_from(payload)
    if version != _VERSION or code >= len(CHANNELS):
        raise _malformed()
    try:
        user = payload[_HEADER.size:].decode()
        expires = datetime.fromtimestamp(expires_s, UTC)
    except (UnicodeDecodeError, OverflowError, OSError, ValueError):
        raise _malformed() from None
    if now >= expires:
        raise LinkRefused("expired", f"This link expired at {expires:%Y-%m-%d %H:%M} UTC.")
    return LinkClaim(notification_id=notification_id, alert_id=alert_id, user=user,
                     expires=expires, channel=CHANNELS[code])


def _malformed() -> LinkRefused:
    return LinkRefused("malformed", "This is not an acknowledge link of this ward: it may have"
                       " been cut short when copied.")


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes | None:
    if not text or set(text) - _B64_CHARS:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
