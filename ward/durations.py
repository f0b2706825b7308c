"""Lengths of time as people read and type them: one formatter (`text`) and
one parser (`parse`), pure.

Every message, page and log line says a length of time the same way: whole
units, largest first, `d`, `h`, `min`, `s` ('2 h 5 min', '40 s').  What
differs between callers is how precise the reader needs it, and that is
all the parameters say:

- a heartbeat's age to the second, both parts always ('10 min 0 s': the
  status line is read by someone comparing beats), `parts=2, zeros=True`;
- a clinician's "how long ago" to the minute in the first hours, then in
  hours, then in days ('2 h 5 min', '13 h', '1 d 3 h', '4 d'),
  `finest="min", alone_from={"h": 6, "d": 3}`;
- a grid cell one unit ('11 h'), `parts=1`;
- a device's clock skew in hours at most ('48 h', '5 h 30 min'): a clock set
  to the wrong time zone reads as its offset, `largest="h"`;
- a configured rule or interval exactly ('every 1 h', '1 h 30 min'),
  `parts=EXACT`: a clinical reason never rounds a setting.

Lengths are rounded down: never longer than they are, nor shorter by a
whole unit of the last part.  Words around the length ('just now', 'ago',
'<1 min') are the caller's."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta

UNITS: tuple[tuple[str, int], ...] = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
_SIZE = dict(UNITS)
EXACT = len(UNITS)  # parts= for a length shown whole: a setting, a rule's window
_NAMES = tuple(name for name, _ in UNITS)

# What people type: '90' (seconds), '90s', '10m', '10 min', '2h', '0.5h', '1d'.
_TYPED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$")
_TYPED_S = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
FORMS = "a positive number with s, m, h or d, such as 90s, 10m, 2h or 1d"


def text(seconds: float | timedelta, *, parts: int = 2, finest: str = "s",
         largest: str = "d", zeros: bool = False,
         alone_from: Mapping[str, int] | None = None) -> str:
    """A length of time [s] as people read it: '40 s', '4 min 3 s', '2 h 5 min'.

    `parts`: at most this many units, each the next smaller one.  `finest`:
    no unit finer than this ('5 min' for 5 min 59 s), unless the length is
    shorter than one of it ('40 s').  `largest`: no unit larger than this
    ('48 h').  `zeros`: keep a zero part after the
    first ('10 min 0 s') rather than drop it ('2 h').  `alone_from`: from
    this many of a unit on, that unit alone ({"h": 6}: '5 h 59 min' but
    '13 h'), as people say a long time roughly.  A ValueError for a negative or not finite
    length: the caller says 'ahead' or 'unknown' in its own words."""
    s = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"a length of time is finite and not negative, got {seconds!r}")
    if parts < 1 or finest not in _SIZE or largest not in _SIZE or _SIZE[largest] < _SIZE[finest]:
        raise ValueError(f"parts >= 1, and finest no larger than largest, both one of"
                         f" {', '.join(_NAMES)}")
    alone_from = alone_from or {}
    if any(name not in _SIZE or count < 1 for name, count in alone_from.items()):
        raise ValueError(f"alone_from counts >= 1 of units among {', '.join(_NAMES)},"
                         f" got {dict(alone_from)!r}")
    units = _units(s, parts, finest, largest)
    if units[0] in alone_from and s >= alone_from[units[0]] * _SIZE[units[0]]:
        units = units[:1]
    whole = math.floor(s / _SIZE[units[-1]]) * _SIZE[units[-1]]
    shown = []
    for i, name in enumerate(units):
        count, whole = divmod(whole, _SIZE[name])
        if i == 0 or count or zeros:
            shown.append(f"{int(count)} {name}")
    return " ".join(shown)


def _units(s: float, parts: int, finest: str, largest: str) -> tuple[str, ...]:
    """The units to show: from the largest (up to `largest`) that `s` holds
    one of, `parts` of them, none finer than `finest` unless `s` is shorter
    than one of it."""
    top = _NAMES.index(largest)
    first = next((i for i, (_, size) in enumerate(UNITS) if i >= top and s >= size),
                 len(UNITS) - 1)
    last = min(first + parts - 1, len(UNITS) - 1)
    last = max(first, min(last, _NAMES.index(finest)))
    return _NAMES[first:last + 1]


def parse(typed: str) -> timedelta:
    """'90' (seconds), '90s', '10m', '10 min', '2h', '0.5h', '1d' as a length
    of time; a ValueError saying the forms otherwise (zero, negative, another
    unit, an exponent)."""
    match = _TYPED.match(typed)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"a duration is {FORMS}, got {typed!r}")
    return timedelta(seconds=float(match.group(1)) * _TYPED_S[match.group(2)])
