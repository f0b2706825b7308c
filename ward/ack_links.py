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
still acknowledge, and that the link matches the notification it went out in:
`refusal` decides from what the caller read.  `form_nonce`/`form_fresh` bind
the landing page's button to a page this link showed recently, and `DOORS`,
`valid_via` and `via_text` say how any acknowledgement was made
(alerts.ack_via)."""

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
# How long the landing page's button stays good after the page was shown: an
# acknowledgement means "I have seen the patient's state", so a page left open
# for longer is shown again, with the state as it is now, before it counts.
FORM_MAX_AGE = timedelta(minutes=15)
# The doors a signed-in person acknowledges through; a link's via is
# 'link:<channel>' (LinkClaim.via).  Stored in alerts.ack_via (migration 015).
DOORS: tuple[str, ...] = ("dashboard", "api", "cli")


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


@dataclass(frozen=True, slots=True)
class Sent:
    """The notification a link went out in, as the outbox holds it."""

    recipient: str
    alert_id: int
    channel: str


@dataclass(frozen=True, slots=True)
class Use:
    """A link already used: by whom (its recipient), when, how."""

    user: str
    used_at: datetime
    via: str


def valid_via(via: str) -> bool:
    """Whether `via` says how an acknowledgement was made (a door or a link)."""
    if via in DOORS or via == "link":
        return True
    kind, _, channel = via.partition(":")
    return kind == "link" and channel in CHANNELS[1:]


_VIA_TEXT = {"dashboard": "on the dashboard", "api": "through the API",
             "cli": "with the vward command", "link": "from a notification's link"}


def via_text(via: str | None) -> str:
    """How an acknowledgement was made, in words ('from the email link');
    '' where unknown (made before migration 015)."""
    if not via:
        return ""
    kind, _, channel = via.partition(":")
    if kind == "link" and channel:
        return f"from the {'SMS' if channel == 'sms' else channel} link"
    return _VIA_TEXT.get(via, via)


def refusal(claim: LinkClaim, *, used: Use | None, user_exists: bool,
            sent: Sent | None, outbox: bool) -> LinkRefused | None:
    """Why a genuine, unexpired link may not act (None: it may).  `outbox`:
    whether the notifications table exists to check `sent` against (a link
    must name a notification sent to its user about its alert)."""
    if used is not None:
        return LinkRefused("used", f"This link was already used, by {used.user} at"
                           f" {used.used_at:%Y-%m-%d %H:%M} UTC. A link acknowledges once.")
    if not user_exists:
        return LinkRefused("not_allowed", f"{claim.user} may no longer acknowledge alerts on"
                           " this ward. Sign in to the ward's dashboard instead.")
    if outbox and (sent is None or sent.recipient != claim.user
                   or sent.alert_id != claim.alert_id):
        return LinkRefused("wrong_alert", "This link does not match a notification sent to"
                           f" {claim.user} about this alert.")
    return None


def form_nonce(key: bytes, token: str, shown: datetime) -> str:
    """The landing page's hidden field: when it showed the patient's state,
    bound to this link, so the button acts only on a page seen recently."""
    seconds = int(shown.timestamp() // 1)
    return f"{seconds}.{_b64(_form_mac(key, token, seconds))}"


def form_fresh(key: bytes, token: str, nonce: str, now: datetime,
               max_age: timedelta = FORM_MAX_AGE) -> bool:
    """Whether `nonce` was made by `form_nonce` for this token within `max_age`
    of `now` (and not in the future)."""
    head, _, tail = nonce.partition(".")
    mac = _unb64(tail)
    if not head.isascii() or not head.isdigit() or len(head) > 12 or mac is None:
        return False
    seconds = int(head)
    if not hmac.compare_digest(mac, _form_mac(key, token, seconds)):
        return False
    age = now.timestamp() - seconds
    return 0 <= age < max_age.total_seconds()


def _form_mac(key: bytes, token: str, seconds: int) -> bytes:
    # Prefixed: a link's payload begins with its version byte, never 'f'.
    return _mac(key, b"form\x00" + token.encode() + b"\x00" + str(seconds).encode())


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


def expiry(now: datetime, ttl_seconds: int) -> datetime:
    """When a link made at `now` stops working (VWARD_ACK_LINK_TTL)."""
    return now + timedelta(seconds=ttl_seconds)


def url(public_url: str, token: str) -> str:
    """The link itself: the web app's address (VWARD_PUBLIC_URL) + /ack/<token>."""
    return f"{public_url.rstrip('/')}/ack/{token}"


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
