"""Errors of the shared domain."""


class WardError(Exception):
    """Base class for errors the ward reports to a user."""


class ConfigError(WardError):
    """A setting is missing or unsafe."""


class ServiceError(WardError):
    """A service (PostgreSQL, Mosquitto) could not be started or reached."""


class NotFound(WardError):
    """A ward, patient, device or alert does not exist."""


class Conflict(WardError):
    """The request contradicts what is stored (a device already assigned, ...)."""
