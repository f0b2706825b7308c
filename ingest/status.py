"""A device's status message → the fields the ward keeps, or a refusal with
a reason; pure (design.md, "What bad input gets").

`{"battery": 81, "firmware": "1.2", "signal": -61, "online": true}`, kept as
a row of `device_status` with the whole document as jsonb.  A field of the
wrong kind is dropped, not guessed (`"battery": "87"` keeps no battery, and
the document keeps the text); what could only be stored wrong, or not at all,
refuses the whole status (`bad_status`, its reason naming what, with the
code a readings message would get for bad JSON: `malformed_json`,
`too_deep`, `duplicate_key`), told to the device like a refused reading: a battery outside
0-100 % (or 1e400, or 400 digits), a number the document cannot hold (jsonb
has no Infinity), text with a NUL or an unpaired surrogate anywhere."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ingest import decode, jsontext

BATTERY_RANGE = (0.0, 100.0)  # [%]
# A status document is flat; this leaves room for a maker's own details and
# keeps the jsonb (and json.dumps) far from any recursion limit.
MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Status:
    online: bool | None
    battery: float | None
    firmware: str | None
    signal: float | None
    raw: dict


def decode_status(payload: bytes, limits: decode.Limits) -> Status | decode.Refusal:
    doc = decode.read_json(payload, limits)
    if type(doc) is decode.Refusal:
        return _refused(f"{doc.code}: {doc.reason}")
    if not isinstance(doc, dict):
        return _refused(f"expected a JSON object, got {type(doc).__name__}")
    try:
        _check(doc, 0, "the message")
        battery = _number(doc.get("battery"), "battery")
        signal = _number(doc.get("signal"), "signal")
    except _Refusal as exc:
        return exc.refusal
    if battery is not None and not BATTERY_RANGE[0] <= battery <= BATTERY_RANGE[1]:
        return _refused(f"battery {_short(doc['battery'])} is outside 0–100 %")
    online, firmware = doc.get("online"), doc.get("firmware")
    return Status(
        online if isinstance(online, bool) else None,
        battery,
        firmware if isinstance(firmware, str) else None,
        signal,
        doc,
    )


class _Refusal(Exception):
    def __init__(self, refusal: decode.Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


def _refused(reason: str) -> decode.Refusal:
    return decode.Refusal(decode.BAD_STATUS, f"status message refused: {reason}")


def _number(value: Any, name: str) -> float | None:
    """A number field as a float; None for another kind (dropped).  Raises
    _Bad for a number no float holds (checked before: never non-finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        raise _Refusal(_refused(f"{name} {_short(value)} is too large")) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _check(value: Any, depth: int, where: str) -> None:
    """What jsonb cannot hold or the ward must not guess at, anywhere in the
    document: NUL or unpaired surrogates, non-finite numbers (1e400 reads as
    infinity), duplicate keys, nesting past MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise _Refusal(_refused(f"{decode.TOO_DEEP}: nested deeper than {MAX_DEPTH} levels"))
    if isinstance(value, dict):
        if type(value) is jsontext.Ambiguous:
            keys = ", ".join(jsontext.printable(k, 40) for k in value.duplicates[:5])
            raise _Refusal(_refused(
                f"{decode.DUPLICATE_KEY}: {where} gives the key(s) {keys} more than once:"
                " ambiguous, so not read"))
        for k, v in value.items():
            if not jsontext.storable(k):
                raise _Refusal(_refused(
                    f"key {jsontext.printable(k)} holds a NUL or an unpaired surrogate"))
            _check(v, depth + 1, repr(k)[:40])
    elif isinstance(value, list):
        for v in value:
            _check(v, depth + 1, where)
    elif isinstance(value, str):
        if not jsontext.storable(value):
            raise _Refusal(_refused(
                f"{where}: text {jsontext.printable(value)} holds a NUL or an unpaired"
                " surrogate, which the ward cannot record"))
    elif isinstance(value, float) and not math.isfinite(value):
        raise _Refusal(_refused(f"{where}: a number too large for the ward to record"))
