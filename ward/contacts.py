"""How a person can be reached, checked before it is stored: an email
address, a phone number for SMS, a webhook URL.  Pure.

Why strict: an address that cannot work is a rota gap nobody sees until
the night an alert goes nowhere, so a bad one is refused at the door with
the reason, not stored and found out later.  Each checker returns the value
as stored (trimmed; a phone without spaces) or None for "none", and raises
WardError saying what is wrong."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ward.errors import WardError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EMAIL_MAX = 254  # RFC 5321's limit on a forward path
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164: at most 15 digits
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_URL_MAX = 2000
# Plain http only to this host itself: a notification names a patient and
# their alert, which must not cross a network in clear text.
_LOOPBACK_NAMES = {"localhost"}


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def email(value: str | None) -> str | None:
    if _blank(value):
        return None
    assert value is not None
    v = value.strip()
    if len(v) > _EMAIL_MAX or not _EMAIL.match(v):
        raise WardError(f"email {value!r} is not an address such as name@example.org")
    return v


def phone(value: str | None) -> str | None:
    """A number for SMS in international form (+44 7700 900123 → +447700900123)."""
    if _blank(value):
        return None
    assert value is not None
    v = _PHONE_SEPARATORS.sub("", value)
    if not _PHONE.match(v):
        raise WardError(f"phone {value!r} is not an international number such as"
                        " +44 7700 900123 (a '+', the country code, then the number)")
    return v


def webhook_url(value: str | None) -> str | None:
    """An https URL (http only to this machine: localhost, 127.0.0.1, ::1)."""
    if _blank(value):
        return None
    assert value is not None
    v = value.strip()
    try:
        parts = urlsplit(v)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise WardError(f"webhook URL {value!r} is not a URL") from None
    if len(v) > _URL_MAX or any(c.isspace() for c in v) or not host:
        raise WardError(f"webhook URL {value!r} is not a URL such as https://example.org/hook")
    if parts.scheme == "https":
        return v
    if parts.scheme == "http" and _loopback(host):
        return v
    raise WardError(f"webhook URL {value!r}: use https (plain http only to this machine:"
                    " a notification names a patient)")


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
