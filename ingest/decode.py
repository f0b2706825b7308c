"""Bytes → readings, or refusals with a reason; pure (design.md, "What bad
input gets").  A refused reading never takes the good readings of the same
message down with it; only an unreadable message is refused whole."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ingest import fhir, units
from ward.domain import ACVPU_CODE, MAX_OXYGEN_FLOW, TYPES, Reading, ReadingType


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
)


_TYPE_BY_NAME = {t.value: t for t in ReadingType}


class _Refused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


# Built once: json.loads with a keyword builds a decoder per call, which was
# half of decoding a single-reading message (12 of 24 us).
_JSON = json.JSONDecoder(parse_constant=_no_constants)


def parse_json(payload: bytes) -> Any:
    """json.loads(payload) refusing NaN and Infinity, with its detection of
    the encoding (UTF-8, -16 or -32)."""
    return _JSON.decode(payload.decode(json.detect_encoding(payload), "surrogatepass"))


def decode_message(
    payload: bytes, device_id: str, *, now: datetime, limits: Limits = Limits()
) -> Decoded:
    """Decode a readings message (ours, or FHIR R4 Observation / Bundle)."""
    if len(payload) > limits.max_payload_bytes:
        return _whole(
            None,
            OVERSIZED,
            f"message of {len(payload)} bytes exceeds the limit of {limits.max_payload_bytes}",
        )
    try:
        doc = parse_json(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return _whole(None, MALFORMED, f"not valid JSON: {exc}")
    if not isinstance(doc, dict):
        return _whole(None, BAD_STRUCTURE, f"expected a JSON object, got {type(doc).__name__}")
    if "resourceType" in doc:
        try:
            message_id, raw = fhir.to_raw_readings(doc)
        except fhir.FhirError as exc:
            return _whole(_str_id(doc.get("id")), BAD_STRUCTURE, str(exc))
    else:
        message_id = _str_id(doc.get("id"))
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


def _whole(message_id: str | None, code: str, reason: str) -> Decoded:
    return Decoded(message_id, (), (Refusal(code, reason, None),))


def _str_id(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)[:128]
    return None


def decode_reading(item: Any, device_id: str, *, now: datetime, limits: Limits) -> Reading:
    if not isinstance(item, dict):
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
        time = datetime.fromisoformat(raw)
    except ValueError:
        raise _Refused(BAD_TIME, f"'time' {raw!r} is not ISO 8601") from None
    if time.tzinfo is None:
        raise _Refused(BAD_TIME, f"'time' {raw!r} has no time zone (use Z for UTC)")
    if time - now > limits.max_future:
        raise _Refused(
            FUTURE_TIME,
            f"'time' {raw} is {_human(time - now)} in the future (is the device's clock set?)",
        )
    if now - time > limits.max_age:
        raise _Refused(TOO_OLD, f"'time' {raw} is older than {limits.max_age.days} days")
    return time


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds / 3600:.1f} h"


def _parse_value(reading_type: ReadingType, value: Any, unit: Any) -> float:
    if unit is not None and not isinstance(unit, str):
        raise _Refused(UNKNOWN_UNIT, f"{reading_type}: unit must be a string, got {unit!r}")
    if reading_type is ReadingType.CONSCIOUSNESS:
        return _consciousness(value)
    if reading_type is ReadingType.ON_OXYGEN:
        return _on_oxygen(value, unit)
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
    raise _Refused(BAD_VALUE, f"consciousness must be one of A, C, V, P, U, got {_short(value)}")


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
    """(reason code, reason text) for a rejected-messages row."""
    codes = sorted({r.code for r in refusals})
    code = codes[0] if len(codes) == 1 else "several"
    return code, "; ".join(r.reason for r in refusals)
