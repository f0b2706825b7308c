"""Re-measure before a spot-check alarm: pure decisions, no I/O, ``now`` passed in.

One home spot check is one reading of a patient sitting at a kitchen table: a
cold finger in the oximeter or a cuff put on over a sleeve raises a score that
a second measurement a minute later does not.  Philips IntelliVue Guardian asks
for a re-measurement before it notifies on a single spot-check value; so does
this ward, where its protocol allows it, for ``urgent`` only.  Whether to ask
is ``needs_remeasure``; what the answer means is ``outcome``.  The clinical
rules and their reasons: docs/alerts.md, "Re-measure before a spot-check
alarm"; the engine's side (reads, writes, the command): alerts/remeasure_gate.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from alerts.rules import Severity
from ward.domain import TYPES, ReadingType
from ward.news2_chart import ACVPU

# Devices that measure when the patient takes a reading, and can be asked to take
# another.  A wearable patch streams every minute: its next reading comes anyway,
# so waiting on it adds nothing; an unknown ('generic') device may not implement
# the commands topic, and a command nobody reads only costs the deadline.
SPOT_CHECK_KINDS = frozenset({"oximeter", "bp_cuff", "thermometer", "tablet"})
# Asked within the hour before, a second urgent score is a pattern, not one bad
# reading: NEWS2 asks hourly observations in the urgent bands, so within that
# hour it is the same episode, and the alert opens at once.
ASK_AGAIN_AFTER = timedelta(hours=1)
# A set measured longer ago than this (a backlog, a device clock behind) is already
# late: the urgent alert's own escalation time has passed, and it opens at once.
LATE_AFTER = timedelta(minutes=15)

Outcome = Literal["confirmed", "not_confirmed", "unanswered", "superseded", "cancelled"]
CONFIRMED: Outcome = "confirmed"
NOT_CONFIRMED: Outcome = "not_confirmed"
UNANSWERED: Outcome = "unanswered"
SUPERSEDED: Outcome = "superseded"
CANCELLED: Outcome = "cancelled"
OUTCOMES: tuple[Outcome, ...] = (CONFIRMED, NOT_CONFIRMED, UNANSWERED, SUPERSEDED, CANCELLED)


@dataclass(frozen=True, slots=True)
class SetSource:
    """One device's readings at the time of the score that raised the alert."""

    device_id: str
    kind: str
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Protocol:
    """The ward's: whether it asks (wards.remeasure_allowed), and how long an urgent
    alert may wait for the answer (wards.remeasure_deadline)."""

    allowed: bool
    deadline: timedelta


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask ``device_id`` to measure ``types`` again before ``deadline``."""

    device_id: str
    types: tuple[str, ...]
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Verdict:
    """``ask`` None: the alert opens at once, for the reason ``why``."""

    ask: Ask | None
    why: str


def needs_remeasure(severity: Severity, sources: Sequence[SetSource], protocol: Protocol,
                    last_asked: datetime | None, now: datetime, *,
                    measured_at: datetime | None = None) -> Verdict:
    """Whether an alert of ``severity`` that would open now waits for a re-measurement.

    sources : the devices whose readings are at the raising score's time
    last_asked : when this patient's latest re-measurement was asked (None: never)
    measured_at : when the raising set was measured (None: now)
    Only an urgent alert raised by one spot-check device's set, measured within
    ``LATE_AFTER``, on a ward that allows it, and not within ``ASK_AGAIN_AFTER`` of the
    last ask, waits.
    """
    if severity != Severity.URGENT:
        return Verdict(None, f"{severity.name.lower()}: only an urgent alert waits")
    if not protocol.allowed:
        return Verdict(None, "the ward's protocol does not ask for re-measurements")
    if protocol.deadline <= timedelta(0):
        return Verdict(None, f"the ward's deadline {protocol.deadline} is not a wait")
    if len(sources) != 1:
        return Verdict(None, f"raised by {len(sources)} devices' readings, not one spot check")
    [source] = sources
    if source.kind not in SPOT_CHECK_KINDS:
        return Verdict(None, f"raised by a {source.kind} device, not a spot check"
                             f" ({', '.join(sorted(SPOT_CHECK_KINDS))})")
    if not source.types:
        return Verdict(None, "no reading types to measure again")
    if measured_at is not None and now - measured_at > LATE_AFTER:
        return Verdict(None, f"measured at {measured_at:%H:%M}Z, already late: the alert"
                             " opens at once")
    if last_asked is not None and now - last_asked < ASK_AGAIN_AFTER:
        return Verdict(None, f"a re-measurement was asked at {last_asked:%H:%M}Z, within the"
                             f" hour: a second urgent score is the same episode")
    return Verdict(Ask(source.device_id, tuple(sorted(set(source.types))),
                       now + protocol.deadline), "a single spot-check set")


def outcome(asked: Sequence[str], answered: Sequence[str], severity_now: Severity | None,
            deadline: datetime, now: datetime) -> Outcome | None:
    """What a pending re-measurement has come to at ``now``; None: wait on.

    asked : the types asked for;  answered : those measured again since (scored)
    severity_now : what the patient's latest score demands (None: no alert)
    - the score reached emergency: the alert opens at once, whatever came back
      (``confirmed`` if something did, else ``superseded``);
    - something came back and the score is still urgent or worse: ``confirmed``;
    - every type asked came back and the score no longer demands urgent:
      ``not_confirmed`` (no alert: resolved by re-measurement);
    - the deadline passed otherwise (nothing, or part of it that did not confirm):
      ``unanswered``; the alert opens: only a whole answer may stand it down.
    """
    got = set(answered)
    wanted = set(asked)
    if not wanted:
        raise ValueError("a re-measurement asks for at least one type")
    some = bool(got & wanted)
    if severity_now is not None and severity_now >= Severity.EMERGENCY:
        return CONFIRMED if some else SUPERSEDED
    if some and severity_now is not None and severity_now >= Severity.URGENT:
        return CONFIRMED
    if wanted <= got:
        return NOT_CONFIRMED
    if now >= deadline:
        return UNANSWERED
    return None


def opens(result: Outcome) -> bool:
    """Whether the held alert opens on this outcome."""
    return result in (CONFIRMED, UNANSWERED, SUPERSEDED)


def outcome_text(result: Outcome, *, device_id: str, asked_at: datetime, deadline: datetime,
                 answer: str | None) -> str:
    """What the alert's reason (or the patient page) says of the re-measurement."""
    asked = f"Re-measurement asked of {device_id} at {asked_at:%H:%M:%S}Z"
    if result == CONFIRMED:
        return f"{asked}; it confirmed: {answer}"
    if result == NOT_CONFIRMED:
        return f"{asked}; not confirmed: {answer} (resolved by re-measurement)"
    if result == SUPERSEDED:
        return (f"{asked}; the score reached emergency before any answer"
                + (f" ({answer})" if answer else ""))
    if result == CANCELLED:
        return f"{asked}; cancelled: the patient was discharged"
    partial = f" (only {answer}, which did not confirm)" if answer else ""
    return f"{asked}; no answer by the deadline {deadline:%H:%M:%S}Z{partial}"


def answer_text(readings: Sequence[tuple[str, float]], total: int | None,
                band: str | None) -> str:
    """'SpO2 96 %, heart rate 80 /min: NEWS2 2 (low)': what came back and what it scored."""
    parts = [_reading_text(name, value) for name, value in readings]
    score = f"NEWS2 {total} ({band})" if total is not None and band else "not scored yet"
    return f"{', '.join(parts) or 'nothing'}: {score}"


def _reading_text(name: str, value: float) -> str:
    info = TYPES[ReadingType(name)]
    if name == "consciousness":
        code = int(value)
        return f"ACVPU {ACVPU[code] if 0 <= code < len(ACVPU) else '?'}"
    if name == "on_oxygen":
        return "on oxygen" if value else "on air"
    number = f"{value:.1f}" if name == "temperature" else f"{value:g}"
    return f"{info.display} {number} {info.unit_text or info.unit}"
