"""Errors of the simulators."""

from __future__ import annotations

from ward.errors import WardError


class SimulatorError(WardError):
    """Base class for errors the simulators report to a user."""


class ScenarioError(SimulatorError, ValueError):
    """A scenario file (or its in-memory equivalent) is not valid; says where and why."""
