"""Bytes → readings, or refusals with a reason; pure (design.md, "What bad
input gets").  A refused reading never takes the good readings of the same
message down with it; only an unreadable message is refused whole."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ingest import fhir, jsontext, units
from ward import durations
from ward.domain import ACVPU_CODE, BOOLEAN, MAX_OXYGEN_FLOW, TYPES, Reading, ReadingType


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int = 256 * 1024
    max_future: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reading (index) or the whole message (index None) was refused."""

    code: str
    reason: str
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    message_id: str | None
    readings: tuple[Reading, ...] = ()
    refusals: tuple[Refusal, ...] = field(default_factory=tuple)
    # Index of each reading in the message's list, to name it in a refusal.
    positions: tuple[int, ...] = ()

    @property
    def whole_refused(self) -> bool:
        return any(r.index is None for r in self.refusals)


# Reason codes, counted by the service and documented in docs/ingest.md.
OVERSIZED = "oversized"
MALFORMED = "malformed_json"
BAD_STRUCTURE = "bad_structure"
UNKNOWN_TYPE = "unknown_type"
UNKNOWN_UNIT = "unknown_unit"
BAD_VALUE = "bad_value"
IMPLAUSIBLE = "implausible"
BAD_TIME = "bad_time"
FUTURE_TIME = "future_time"
TOO_OLD = "too_old"
UNASSIGNED = "unassigned_device"
# A message the broker routed to no queue of ours (RabbitMQ's alternate
# exchange caught it): kept whole, never decoded.
UNROUTED = "unrouted_topic"
# Issue 10: what the standard library's JSON let through, or crashed on.
TOO_DEEP = "too_deep"
DUPLICATE_KEY = "duplicate_key"
BAD_ID = "bad_id"
BAD_STATUS = "bad_status"
REASON_CODES = (
    OVERSIZED,
    MALFORMED,
    BAD_STRUCTURE,
    UNKNOWN_TYPE,
    UNKNOWN_UNIT,
    BAD_VALUE,
    IMPLAUSIBLE,
    BAD_TIME,
    FUTURE_TIME,
    TOO_OLD,
    UNASSIGNED,
    UNROUTED,
    TOO_DEEP,
    DUPLICATE_KEY,
    BAD_ID,
    BAD_STATUS,
)
# A rejection's reason names this many refusals and counts the rest: a
# message of 100,000 bad readings must not make a 4 MB reason.
REASONS_NAMED = 20
_REASON_MAX_CHARS = 300


_TYPE_BY_NAME = {t.value: t for t in ReadingType}


class _Refused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def read_json(payload: bytes, limits: Limits) -> Any:
    """The payload's JSON document, or a whole-message `Refusal` (oversized,
    not JSON, nested too deep)."""
    if len(payload) > limits.max_payload_bytes:
        return Refusal(
            OVERSIZED,
            f"message of {len(payload)} bytes exceeds the limit of {limits.max_payload_bytes}",
        )
    try:
        return jsontext.parse(payload)
    except jsontext.TooDeep as exc:
        return Refusal(TOO_DEEP, f"not read: {exc} (a readings message needs fewer than 10)")
    except (ValueError, UnicodeDecodeError) as exc:
        return Refusal(MALFORMED, f"not valid JSON: {str(exc)[:200]}")


def _ambiguous(what: str, keys: tuple[str, ...]) -> str:
    named = ", ".join(jsontext.printable(k, 40) for k in keys[:5])
    return f"{what} gives the key(s) {named} more than once: ambiguous, so not read"


# Longer messages are parsed without marking duplicate keys, and their keys
# counted instead (jsontext.keys_unambiguous): 50 readings, 30 us instead of 54.
_COUNT_KEYS_FROM = 1024  # [bytes]


def decode_message(
    payload: bytes,
    device_id: str,
    *,
    now: datetime,
    limits: Limits = Limits(),
    _marking: bool = False,
) -> Decoded:
    """Decode a readings message (ours, or FHIR R4 Observation / Bundle)."""
    if len(payload) > limits.max_payload_bytes:
        return _whole(
            None,
            OVERSIZED,
            f"message of {len(payload)} bytes exceeds the limit of {limits.max_payload_bytes}",
        )
    marking = _marking or len(payload) < _COUNT_KEYS_FROM
    try:
        doc = jsontext.parse(payload, marking=marking)
    except jsontext.TooDeep as exc:
        return _whole(None, TOO_DEEP, f"not read: {exc} (a readings message needs fewer than 10)")
    except (ValueError, UnicodeDecodeError) as exc:
        return _whole(None, MALFORMED, f"not valid JSON: {str(exc)[:200]}")
    if type(doc) is not dict:
        if type(doc) is jsontext.Ambiguous:
            return _whole(None, DUPLICATE_KEY, _ambiguous("the message", doc.duplicates))
        return _whole(None, BAD_STRUCTURE, f"expected a JSON object, got {type(doc).__name__}")
    if not marking and ("resourceType" in doc or not jsontext.keys_unambiguous(
            payload, len(doc) + _reading_keys(doc.get("readings")))):
        return decode_message(payload, device_id, now=now, limits=limits, _marking=True)
    message_id = doc.get("id")
    if type(message_id) is not str or not message_id.isascii() or "\x00" in message_id:
        try:
            message_id = _message_id(message_id)
        except _Refused as exc:
            return _whole(None, exc.code, exc.reason)
    else:
        message_id = message_id[:128]
    if "resourceType" in doc:
        try:
            raw = fhir.to_raw_readings(doc)
        except fhir.FhirError as exc:
            return _whole(message_id, BAD_STRUCTURE, str(exc))
    else:
        raw = doc.get("readings")
        if not isinstance(raw, list) or not raw:
            return _whole(message_id, BAD_STRUCTURE, "'readings' must be a non-empty list")
    readings: list[Reading] = []
    refusals: list[Refusal] = []
    positions: list[int] = []
    for index, item in enumerate(raw):
        try:
            readings.append(decode_reading(item, device_id, now=now, limits=limits))
            positions.append(index)
        except _Refused as exc:
            refusals.append(Refusal(exc.code, f"reading {index}: {exc.reason}", index))
    return Decoded(message_id, tuple(readings), tuple(refusals), tuple(positions))


def _reading_keys(raw: Any) -> int:
    """The keys the readings' objects hold (others, nested, are not counted:
    their keys then make the count differ, and the message is parsed again,
    marking)."""
    if type(raw) is not list:
        return 0
    return sum([len(item) for item in raw if type(item) is dict])


def _whole(message_id: str | None, code: str, reason: str) -> Decoded:
    return Decoded(message_id, (), (Refusal(code, reason, None),))


def _message_id(value: Any) -> str | None:
    """The message's `id` (a string or an integer, cut to 128 characters; of
    another kind it is ignored, as ever); a string the ward could not record
    is refused (`bad_id`)."""
    if type(value) is str:
        if not jsontext.storable(value):
            raise _Refused(
                BAD_ID,
                f"'id' {jsontext.printable(value)} holds a NUL or an unpaired surrogate,"
                " which the ward cannot record",
            )
        return value[:128]
    if type(value) is int:
        return str(value)[:128]
    return None


def decode_reading(item: Any, device_id: str, *, now: datetime, limits: Limits) -> Reading:
    if type(item) is not dict:
        if type(item) is jsontext.Ambiguous:
            raise _Refused(DUPLICATE_KEY, _ambiguous("the reading", item.duplicates))
        raise _Refused(BAD_STRUCTURE, f"expected an object, got {type(item).__name__}")
    if "_refused" in item:  # set by the FHIR mapping
        raise _Refused(BAD_STRUCTURE, str(item["_refused"]))
    type_name = item.get("type")
    try:
        reading_type = _TYPE_BY_NAME[type_name]
    except (KeyError, TypeError):
        raise _Refused(UNKNOWN_TYPE, f"unknown type {type_name!r}") from None
    time = _parse_time(item.get("time"), now=now, limits=limits)
    value = _parse_value(reading_type, item.get("value"), item.get("unit"))
    return Reading(time, device_id, reading_type, value)


def _parse_time(raw: Any, *, now: datetime, limits: Limits) -> datetime:
    if not isinstance(raw, str):
        raise _Refused(BAD_TIME, f"'time' must be an ISO 8601 string, got {raw!r}")
    try:
        # (fromisoformat stops reading at a NUL: "...Z\x00junk" would pass.)
        if "\x00" in raw:
            raise ValueError(raw)
        time = datetime.fromisoformat(raw)
    except ValueError:
        raise _Refused(BAD_TIME, f"'time' {raw!r} is not ISO 8601") from None
    if time.tzinfo is None:
        raise _Refused(BAD_TIME, f"'time' {raw!r} has no time zone (use Z for UTC)")
    if time - now > limits.max_future:
        raise _Refused(
            FUTURE_TIME,
            f"'time' {raw} is {durations.text(time - now, largest='h')} in the future"
            " (is the device's clock set?)",
        )
    if now - time > limits.max_age:
        raise _Refused(TOO_OLD, f"'time' {raw} is older than {limits.max_age.days} days")
    return time


def _parse_value(reading_type: ReadingType, value: Any, unit: Any) -> float:
    if unit is not None and not isinstance(unit, str):
        raise _Refused(UNKNOWN_UNIT, f"{reading_type}: unit must be a string, got {unit!r}")
    if reading_type is ReadingType.CONSCIOUSNESS:
        return _consciousness(value)
    if reading_type is ReadingType.ON_OXYGEN:
        return _on_oxygen(value, unit)
    if TYPES[reading_type].kind == BOOLEAN:  # a yes or no (breathlessness)
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        raise _Refused(BAD_VALUE, f"{reading_type} must be true or false, got {_short(value)}")
    number = _finite(value)
    if number is None:
        raise _Refused(BAD_VALUE, f"{reading_type}: value must be a number, got {_short(value)}")
    try:
        converted = units.convert(reading_type, number, unit)
    except KeyError:
        known = ", ".join(units.CONVERSIONS[reading_type])
        raise _Refused(
            UNKNOWN_UNIT, f"{reading_type}: unit {unit!r} is not one we convert (accepted: {known})"
        ) from None
    info = TYPES[reading_type]
    if not info.low <= converted <= info.high:
        shown = f"{value} {unit}" if unit else f"{value}"
        raise _Refused(
            IMPLAUSIBLE,
            f"{reading_type} {shown} is outside what a body and a device "
            f"produce ({info.low:g}–{info.high:g} {info.unit})",
        )
    return converted


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float, else None (bools, strings, and
    integers too large for a float are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _consciousness(value: Any) -> float:
    if isinstance(value, str) and value.strip().upper() in ACVPU_CODE:
        return ACVPU_CODE[value.strip().upper()]
    raise _Refused(BAD_VALUE,
                   f"consciousness must be one of {', '.join(ACVPU_CODE)}, got {_short(value)}")


def _on_oxygen(value: Any, unit: str | None) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    number = _finite(value)
    if number is not None:
        value = number
        scale = units.OXYGEN_FLOW_UNITS.get(unit or "L/min")
        if scale is None:
            raise _Refused(
                UNKNOWN_UNIT,
                f"on_oxygen: flow unit {unit!r} is not one we convert "
                f"(accepted: {', '.join(units.OXYGEN_FLOW_UNITS)})",
            )
        flow = value * scale
        if not 0 <= flow <= MAX_OXYGEN_FLOW:
            raise _Refused(
                IMPLAUSIBLE,
                f"on_oxygen: flow {value} {unit or 'L/min'} is outside 0–{MAX_OXYGEN_FLOW:g} L/min",
            )
        return 1.0 if flow > 0 else 0.0
    raise _Refused(
        BAD_VALUE, f"on_oxygen must be true/false or a flow in L/min, got {_short(value)}"
    )


def describe(refusals: tuple[Refusal, ...] | list[Refusal]) -> tuple[str, str]:
    """(reason code, reason text) for a rejected-messages row: the first
    REASONS_NAMED refusals, each cut to a line, and a count of the rest by
    code (a few kB at most, however many readings were refused)."""
    codes = sorted({r.code for r in refusals})
    code = codes[0] if len(codes) == 1 else "several"
    text = "; ".join(cut_reason(r.reason) for r in refusals[:REASONS_NAMED])
    rest = refusals[REASONS_NAMED:]
    if rest:
        by_code = Counter(r.code for r in rest)
        text += f"; and {len(rest)} more (" + ", ".join(
            f"{c} {n}" for c, n in sorted(by_code.items())
        ) + ")"
    return code, text


def cut_reason(reason: str) -> str:
    """A reason cut to a line (_REASON_MAX_CHARS)."""
    if len(reason) <= _REASON_MAX_CHARS:
        return reason
    return reason[: _REASON_MAX_CHARS - 3] + "..."
