"""A device's JSON, read strictly; pure.

What the standard library's decoder lets through and the ward must not:

- NaN and Infinity (not JSON numbers): refused.
- A document nested thousands deep: the C decoder stops at the interpreter's
  recursion limit with `RecursionError`, which is not a `ValueError`; it
  becomes `TooDeep` here, so that such a message is refused like any other.
- Duplicate keys, which `json` resolves silently last-wins
  (`{"type": "spo2", "type": "heart_rate"}` would store a heart rate): every
  object is built by `_pairs`, which marks one with a key given twice as
  `Ambiguous` (naming the keys), for the decoder to refuse the reading or the
  message it belongs to.  Measured on this 2-core machine: +0.5 us on a
  single-reading message (3.5 us to decode), +0.4 us per reading.
- Text PostgreSQL cannot store: NUL, and lone UTF-16 surrogates (`"\\ud800"`),
  which `storable` tells apart.
"""

from __future__ import annotations

import json
from typing import Any


class TooDeep(ValueError):
    """Nested deeper than the decoder goes (about 1,000 levels)."""


class Ambiguous(dict):
    """An object in which a key was given more than once (its last value
    kept, as `json` would); `duplicates` names those keys."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        self.duplicates = tuple(sorted({k for k, _ in pairs if k in seen or seen.add(k)}))


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    return d if len(d) == len(pairs) else Ambiguous(pairs)


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


# Built once: json.loads with a keyword builds a decoder per call, which was
# half of decoding a single-reading message (12 of 24 us).
_DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_pairs)


# Without the hook, for long messages whose keys are then counted instead
# (`keys_unambiguous`): 50 readings decode in 31 us so, 53 us with the hook,
# and counting their keys costs 10 us.
_PLAIN = json.JSONDecoder(parse_constant=_no_constants)
_WHITESPACE = b" \t\n\r"  # JSON's, the only bytes allowed between a key and its colon


def parse(payload: bytes, *, marking: bool = True) -> Any:
    """json.loads(payload) with the encoding detected (UTF-8, -16 or -32),
    refusing NaN and Infinity, marking objects with duplicate keys (unless
    not `marking`: then see `keys_unambiguous`).  Raises `TooDeep`, or
    `ValueError` / `UnicodeDecodeError` for what is not JSON."""
    text = payload.decode(json.detect_encoding(payload), "surrogatepass")
    try:
        return (_DECODER if marking else _PLAIN).decode(text)
    except RecursionError:
        raise TooDeep("nested deeper than about 1,000 levels") from None


def keys_unambiguous(payload: bytes, keys: int) -> bool:
    """Whether a document parsed without marking, whose objects hold `keys`
    keys in all (or: those counted; uncounted ones make this False), gave no
    key twice.  With JSON's whitespace taken out, every key written ends in
    `":`; a string may yield `":` too (its own, or once its spaces are gone),
    which only makes the count larger.  So `":` counted exactly `keys` times
    means no more keys were written than the objects hold: none twice.
    (UTF-8 only: these bytes never occur inside a multi-byte character; in
    UTF-16 the count fails.)  False sends the caller to `parse` with
    marking, which tells for sure."""
    return payload.translate(None, _WHITESPACE).count(b'":') == keys


def duplicates(value: Any) -> tuple[str, ...]:
    """The keys an object gave twice (none for anything else)."""
    return value.duplicates if type(value) is Ambiguous else ()


def storable(text: str) -> bool:
    """Whether PostgreSQL can keep `text` in a text or jsonb column: no NUL,
    no lone surrogate (which UTF-8 cannot encode)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str, limit: int = 80) -> str:
    """`text` as a reason may quote it: escaped (repr) and cut short."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
