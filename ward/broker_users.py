"""The credentials each of the ward's services gives the broker (issue 10):
its own user (ward/broker_names.py), and a password that `vward up`
generates on first start and keeps under VWARD_HOME/secrets/ (owner only),
or, for a broker the ward does not run, the one the operator gives in
VWARD_<SERVICE>_BROKER_PASSWORD.  No password of the ward is fixed in code."""

from __future__ import annotations

from dataclasses import dataclass

from ward import broker_names as names
from ward import secret_files
from ward.settings import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def client_id(self, suffix: str) -> str:
        """An MQTT client id this user may take: its name, a dash, `suffix`."""
        return f"{self.username}-{suffix}"


def secret_name(service: str) -> str:
    return f"broker-{service}"


def credentials(settings: Settings, service: str) -> Credentials:
    """Who `service` (names.INGEST, ALERTS, MONITOR) is at the broker."""
    if service not in names.SERVICES:
        raise ValueError(f"no broker user for {service!r}")
    given = getattr(settings, f"{service}_broker_password")
    password = given or secret_files.secret(settings.home, secret_name(service))
    return Credentials(names.service_user(service), password)


def all_credentials(settings: Settings) -> list[Credentials]:
    """Every service user, as `vward up` gives them to the broker it runs."""
    return [credentials(settings, s) for s in names.SERVICES]
