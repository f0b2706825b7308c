"""Where a sign-in or sign-out post came from; pure.

A form on another site can post to /login (signing the browser in as the
attacker: login CSRF) or to /logout.  Browsers say which site a post comes
from in `Origin` (every current browser on every POST), else in `Referer`.
A post is taken when that origin is the app's own or one configured in
VWARD_WEB_ORIGINS (the address people type when a proxy in front of the app
rewrites Host); a post with neither header comes from no browser (curl, a
script), which has no victim's cookie to ride on, and is taken too."""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(url: str) -> str | None:
    """`scheme://host[:port]` of a URL or an origin, lower case, without a
    default port; None for what has no origin ('null', garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}")


def trusted_origins(setting: str) -> frozenset[str]:
    """VWARD_WEB_ORIGINS: comma-separated origins such as https://ward.example.org."""
    found = (normalise(item) for item in setting.split(",") if item.strip())
    return frozenset(o for o in found if o)


def refusal(*, origin: str | None, referer: str | None, own: str,
            trusted: frozenset[str]) -> str | None:
    """Why a post is refused (it comes from another site), or None to take it."""
    claimed = origin if origin is not None else referer
    if claimed is None:
        return None
    source = normalise(claimed)
    if source is not None and (source == normalise(own) or source in trusted):
        return None
    return (f"this form was sent from {source or 'an unknown origin'}, not from this site"
            f" ({normalise(own)}): refused, so that another site cannot sign you in or out")
