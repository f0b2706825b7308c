"""Errors of the notifier."""

from __future__ import annotations

from ward.errors import WardError


class NotifyError(WardError):
    """Base class for errors the notifier reports."""


class DeliveryError(NotifyError):
    """One attempt at one message failed; the message says why, for the attempt's
    record and the operator (never a password)."""
