"""Passwords out of what the ward shows: the one place that takes the
password from a database or broker address before it is logged or printed
(`vward config`, `vward ingest`'s start line, connection errors).

Pure.  It knows the two forms an address takes: a URL
(`postgresql://user:PASSWORD@host/db?password=PASSWORD`, `amqp://user:PASSWORD@host`)
and libpq's keywords (`host=h user=u password=PASSWORD`)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "********"

_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.I)
_URL_LIST = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)")  # a comma before a scheme


def redact(address: str) -> str:
    """`address` with every password in it replaced by ``MASK``; a
    comma-separated list of URLs (VWARD_AMQP_URLS) item by item."""
    if "://" not in address:
        return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + MASK, address)
    return ",".join(_redact_url(part) for part in _URL_LIST.split(address))


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # not a URL we can read: show none of it
        return MASK
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostport}"
    query = _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def without_password(address: str) -> str:
    """`address` with its password left out (to compare two addresses)."""
    if "://" not in address:
        return _KEYWORD_PASSWORD.sub("", address).strip()
    parts = urlsplit(address.strip())
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo.split(':', 1)[0]}@{hostport}" if at else parts.netloc
    query = "&".join(q for q in parts.query.split("&") if q and not q.lower().startswith(
        "password="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
