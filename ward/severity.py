"""How fast someone must act on an alert: the one order of severities that the
engine's rules, the alerts tables, the API, the dashboard and the CLI share.

Stored and sent as lower-case names (``alerts.severity`` holds 'info', 'low',
'urgent', 'emergency'); compared as the enum, so ``max`` and ``>`` mean what
they say.  SQL that orders by severity takes ``SEVERITIES`` as a parameter
(``array_position(%s::text[], severity)``) rather than spelling the order out.
"""

from __future__ import annotations

import enum


class Severity(enum.IntEnum):
    """How fast someone must act; ordered, so ``max`` and ``>`` mean what they say."""

    INFO = 1  # nothing clinical yet, worth knowing (battery low)
    LOW = 2  # look at it on the next round: trends, silent devices, overdue sets
    URGENT = 3  # news2.md low-medium and medium: "urgent ward-based response"
    EMERGENCY = 4  # news2.md high: "emergency response, critical-care team"


# Names as stored, least severe first: a name's index + 1 is its Severity value.
SEVERITIES: tuple[str, ...] = tuple(s.name.lower() for s in sorted(Severity))


def severity_name(s: Severity) -> str:
    return s.name.lower()


def severity_of(name: str) -> Severity:
    """The Severity of a stored name; KeyError for a name that is none."""
    return Severity[name.upper()]


def severity_rank(name: str | None) -> int:
    """0 for none (or an unknown name), 1 (info) .. 4 (emergency)."""
    return SEVERITIES.index(name) + 1 if name in SEVERITIES else 0
