"""The patient's own view (issue 14, item 4): the one-time link that opens it,
the patient session it starts, and what the page says.  Pure: no database, no
clock read (pass `now`); ward/patient_access.py stores and reads.

A link is 256 random bits (its SHA-256 alone is stored), made for one patient
by a clinician, working once until it expires or is revoked.  Using it starts a
patient session: a random token in a cookie of its own (`COOKIE`, path /me,
signed with a key derived from VWARD_SECRET_KEY for this use alone, so a staff
session cookie can never pass as a patient's nor a patient's as a staff one).
A session is bound to the link's patient: no URL names a patient, so nothing a
patient types into the address bar shows anyone else's data."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from ward import overdue, protocol_rules
from ward.errors import WardError
from ward.news2_chart import BAND_SEVERITY
from ward.protocols import Protocol
from ward.severity import Severity

COOKIE = "vward_patient"
COOKIE_PATH = "/me"
# The kind of the per-patient device the page's answers arrive from (ingest's own
# door, as any device's readings): not a device that can go offline or run flat.
SELF_REPORT_KIND = "self-report"
# How long the page's answer form stays good after the page was shown: a person
# may take a while to answer, and a form older than this is shown again.
FORM_MAX_AGE = timedelta(hours=1)
_KEY_CONTEXT = b"vward patient-session v1"
_TOKEN_BYTES = 32
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{2,29}")  # migration 021's check


def new_token() -> str:
    """A link's or a session's token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def derive_key(secret_key: str) -> bytes:
    """The patient sessions' key: HMAC of a fixed context under VWARD_SECRET_KEY."""
    if not secret_key:
        raise ValueError("the ward's secret key is empty")
    return hmac.new(secret_key.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def sign_session(key: bytes, token: str) -> str:
    """The cookie's value: `token.mac`."""
    return f"{token}.{_mac(key, token)}"


def unsign_session(key: bytes, cookie: str) -> str | None:
    """The session token of a genuine cookie, else None."""
    token, _, mac = cookie.rpartition(".")
    if not token or len(cookie) > 200:
        return None
    return token if hmac.compare_digest(mac, _mac(key, token)) else None


def _mac(key: bytes, token: str) -> str:
    return hmac.new(key, b"session\x00" + token.encode(), hashlib.sha256).hexdigest()[:32]


def self_report_device(patient_id: str) -> str:
    """The id of the patient's own answers' device (device ids are at most 64
    characters: a long patient id is shortened by its hash)."""
    device = f"self-{patient_id}"
    if len(device) <= 64:
        return device
    return f"self-{patient_id[:32]}-{hashlib.sha256(patient_id.encode()).hexdigest()[:16]}"


def check_phone(value: str) -> str:
    """A ward's phone number as stored, or WardError saying why not."""
    text = " ".join(value.split())
    if not _PHONE.fullmatch(text):
        raise WardError(f"phone {value!r}: digits, spaces, brackets and '-', optionally"
                        " starting with '+' (3 to 30 characters), e.g. 0161 555 0100")
    return text


# ---------------------------------------------------------------- links


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A link as stored, with its patient's discharge."""

    link_id: int
    patient_id: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    discharged_at: datetime | None


Reason = Literal["unknown", "used", "revoked", "expired", "discharged"]


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a link opens nothing, in words for the patient holding it."""

    reason: Reason
    message: str


_ASK = " Ask your care team for a new link."


def refusal(link: LinkRow | None, now: datetime) -> Refused | None:
    """Why this link may not open a session now (None: it may).  A link is good
    while now < expires_at."""
    if link is None:
        return Refused("unknown", "This link is not one of ours: it may have been cut short"
                       " when copied." + _ASK)
    if link.discharged_at is not None:
        return Refused("discharged", "You have left the virtual ward, so this page is closed."
                       " If you feel unwell, call your GP or NHS 111; in an emergency, 999.")
    if link.revoked_at is not None:
        return Refused("revoked", "This link was cancelled by your care team." + _ASK)
    if link.used_at is not None:
        return Refused("used", "This link was already used: a link opens your page once."
                       " If you signed out or changed phone, ask your care team for a new"
                       " link.")
    if now >= link.expires_at:
        return Refused("expired", "This link has expired." + _ASK)
    return None


def link_url(public_url: str, token: str) -> str:
    """The link itself: the web app's address + /me/link/<token>."""
    return f"{public_url.rstrip('/')}/me/link/{token}"


# ---------------------------------------------------------------- the page


Review = Literal["told", "reviewed", "reported", "quiet"]


def review(open_alerts: int, acknowledged_alerts: int, *,
           reported_breathless: bool = False) -> Review:
    """What the page says of the team: 'told' while an alert about the patient is
    waiting for someone to look at it; 'reviewed' when every live alert has been
    looked at; 'quiet' when nothing is live.  Never which rule or score.

    'reported' instead of 'quiet' when the patient's latest answer says they are
    more breathless than usual: that answer is stored and shown to the team but
    raises no alert (breathlessness is scored by no rule), so "your readings have
    not needed your team's attention" would reassure them falsely (hazard H67);
    the page asks them to call if they have not heard from the team."""
    if open_alerts > 0:
        return "told"
    if acknowledged_alerts > 0:
        return "reviewed"
    return "reported" if reported_breathless else "quiet"


def next_due(last_complete: datetime | None, admitted_at: datetime,
             monitoring_band: str | None, *, protocol: Protocol | None = None,
             last_reading: datetime | None = None,
             last_value: float | None = None) -> datetime:
    """When the patient's next readings are due: the engine's overdue rule read
    forwards.  NEWS2 (ward/overdue.py): from the later of the last complete set and
    admission, by the interval the latest score's band demands.  On a protocol
    ward (ward/protocols.py), from the later of its reading's latest (`last_reading`,
    `last_value`) and admission, by the interval that reading's level allows; and
    NEWS2's too while its band demands an urgent response, the earlier of the two
    (alerts/protocol_conditions.py judges overdue so)."""
    start = admitted_at if last_complete is None else max(last_complete, admitted_at)
    interval = overdue.monitoring_interval(np.array([monitoring_band or ""], dtype=object))[0]
    news2 = start + _timedelta(interval)
    if protocol is None or protocol.reading is None:
        return news2
    level = -1
    if protocol.threshold is not None and last_value is not None:
        level = int(protocol_rules.threshold_level(np.array([last_value]),
                                                   protocol.threshold)[0])
    own = protocol_rules.level_monitoring(protocol, np.array([level]))[0]
    due = (admitted_at if last_reading is None else max(last_reading, admitted_at)) \
        + _timedelta(own)
    urgent = (BAND_SEVERITY.get(monitoring_band or "zero") or 0) >= Severity.URGENT
    return min(due, news2) if urgent else due


def _timedelta(interval: np.timedelta64) -> timedelta:
    return timedelta(microseconds=int(interval / np.timedelta64(1, "us")))


def answer_readings(*, breathless: bool | None, confused: bool | None,
                    at: str) -> list[dict[str, object]]:
    """The readings a questionnaire's answers become (a device contract message's
    `readings`; `at` an ISO 8601 time).  New confusion is consciousness C, which
    NEWS2 scores; "no new confusion" is stored as nothing, never as A: a patient's
    answer must not lower a score a clinician's or a device's C raised."""
    out: list[dict[str, object]] = []
    if breathless is not None:
        out.append({"time": at, "type": "breathlessness", "value": breathless})
    if confused:
        out.append({"time": at, "type": "consciousness", "value": "C"})
    return out


def base_url(public_url: str, web_host: str, web_port: int) -> str:
    """Where people reach the web app (VWARD_PUBLIC_URL, else `vward web`'s address)."""
    return public_url or f"http://{web_host}:{web_port}"
