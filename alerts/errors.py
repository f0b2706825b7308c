"""Errors of the alerts stage."""

from __future__ import annotations

from collections.abc import Iterable

from ward.errors import WardError


class AlertsError(Exception):
    """Base class for errors raised by the alerts stage."""


class ScoringInputError(AlertsError, ValueError):
    """Scoring input that cannot be scored: names the parameter and the first bad rows.

    Parameters
    ----------
    parameter : str
        Name of the offending argument (``"spo2"``, ``"spo2_scale"``, ...).
    rows : iterable of int
        Indices of the first offending rows (at most a handful); empty when the
        fault is not a row's (arrays of unequal length).
    message : str
        What is wrong, for a human.
    """

    def __init__(self, parameter: str, rows: Iterable[int], message: str) -> None:
        self.parameter = parameter
        self.rows = tuple(int(r) for r in rows)
        self.message = message
        where = f" (rows {', '.join(map(str, self.rows))})" if self.rows else ""
        super().__init__(f"{parameter}: {message}{where}")

    def __reduce__(self) -> tuple[type[ScoringInputError], tuple[str, tuple[int, ...], str]]:
        return (type(self), (self.parameter, self.rows, self.message))


class CommandError(AlertsError, WardError):
    """A command line the alerts commands cannot act on (a bad time, an unknown id)."""


class OutboxError(AlertsError):
    """The broker did not take an event; the watermark stays and the batch is retried."""
