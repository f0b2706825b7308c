"""What TLS the broker needs, pure: where its files are, which names its
server certificate must carry, and whether the one on file will do
(docs/operating.md, "MQTT over TLS").  ward/tls_files.py makes, reads and
installs the files; this module only decides.

Home devices publish over the public internet, so the broker listens with
TLS on VWARD_MQTT_TLS_PORT beside its plain loopback port.  Either the
operator names their own CA, certificate and key (VWARD_TLS_*_FILE), which
the ward uses as they are, or `vward up` keeps a CA of the ward's own under
VWARD_HOME/tls/ and issues the broker a server certificate from it, anew
when the one on file nears its end or names other hosts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ward.settings import Settings

# A server certificate is reissued this long before it ends: `vward up` runs
# at least at every restart, and a month leaves room for one that rarely does.
RENEW_BEFORE = timedelta(days=30)
# 397 days: the longest server certificate many TLS clients still accept
# (Apple's and the browsers' rule since 2020), which devices may follow.
SERVER_DAYS = 397
# The CA lives as long as the devices that trust it are kept; replacing it
# means giving every device the new one.
CA_DAYS = 3650
# The operator is told when their CA or certificate ends within this.
WARN_BEFORE = timedelta(days=60)
# Names every server certificate carries: the ward's own clients and tests
# reach the broker on loopback.
LOOPBACK_NAMES = ("localhost", "127.0.0.1")
# The file names of a broker's own copy of its TLS files (tls_files.install).
CA_NAME, CERT_NAME, KEY_NAME = "ca.pem", "server.pem", "server.key"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the broker's TLS files are: the operator's, or the ward's own
    (then `ca_key` is the CA's private key, mode 0600)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    ca_key: Path | None = None

    @property
    def own(self) -> bool:
        return self.ca_key is not None


@dataclass(frozen=True, slots=True)
class Certificate:
    """What the ward needs to know of a certificate on file."""

    names: frozenset[str]  # its subjectAltName's DNS names and IP addresses
    not_after: datetime  # aware, UTC
    issued_by_ca: bool  # signed by the CA on file (not a CA replaced since)


def tls_dir(home: Path) -> Path:
    return home / "tls"


def layout(settings: Settings) -> Layout:
    if settings.tls_cert_file:
        return Layout(ca_cert=Path(settings.tls_ca_file), server_cert=Path(settings.tls_cert_file),
                      server_key=Path(settings.tls_key_file))
    d = tls_dir(settings.home)
    return Layout(ca_cert=d / "ca.pem", server_cert=d / "server.pem",
                  server_key=d / "server.key", ca_key=d / "ca.key")


def ca_file(settings: Settings) -> Path:
    """The CA certificate a device (and the ward's own TLS clients) trusts."""
    return layout(settings).ca_cert


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an MQTT client of the ward connects: plain on loopback, or
    over TLS trusting `ca_file`."""

    host: str
    port: int
    ca_file: Path | None = None


def mqtt_endpoint(settings: Settings, *, use_tls: bool | None = None) -> Endpoint:
    """The broker's plain port, or with `use_tls` (VWARD_MQTT_TLS when None)
    its TLS port and the CA a device trusts."""
    if settings.mqtt_tls if use_tls is None else use_tls:
        return Endpoint(settings.mqtt_host, settings.mqtt_tls_port, ca_file(settings))
    return Endpoint(settings.mqtt_host, settings.mqtt_port)


def server_names(settings: Settings, hostname: str) -> tuple[str, ...]:
    """The names the broker's certificate must carry: loopback, the host
    devices are told (VWARD_MQTT_HOST) and this host's name; each once, in
    that order, DNS names in lower case."""
    out: list[str] = []
    for name in (*LOOPBACK_NAMES, settings.mqtt_host, hostname):
        name = name.strip()
        if not name:
            continue
        name = name if is_ip(name) else name.lower().rstrip(".")
        if name not in out:
            out.append(name)
    return tuple(out)


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def renewal_reason(present: Certificate | None, wanted: Iterable[str],
                   now: datetime) -> str | None:
    """Why the ward's own server certificate must be issued anew, or None
    when the one on file will do.  Names that differ either way count: a
    host the ward no longer has should not stay in its certificate."""
    if present is None:
        return "none yet"
    if not present.issued_by_ca:
        return "not issued by the CA on file"
    wanted_ = frozenset(wanted)
    if present.names != wanted_:
        return f"its names {sorted(present.names)} are not {sorted(wanted_)}"
    if present.not_after - now < RENEW_BEFORE:
        return f"it ends {present.not_after:%Y-%m-%d}"
    return None


def operator_notes(server: Certificate, ca: Certificate, mqtt_host: str,
                   now: datetime) -> list[str]:
    """What the operator should hear of their own files at `vward up`: the
    ward never replaces them, so an end near or past, a certificate the CA
    did not issue, or one that does not name VWARD_MQTT_HOST (devices would
    refuse it) are theirs to fix."""
    notes = []
    for what, cert in (("server certificate", server), ("CA certificate", ca)):
        if cert.not_after <= now:
            notes.append(f"warning: your TLS {what} ended on {cert.not_after:%Y-%m-%d}")
        elif cert.not_after - now < WARN_BEFORE:
            notes.append(f"warning: your TLS {what} ends on {cert.not_after:%Y-%m-%d}")
    if not server.issued_by_ca:
        notes.append("warning: your TLS server certificate was not issued by VWARD_TLS_CA_FILE:"
                     " devices that trust that CA will refuse the broker")
    host = mqtt_host if is_ip(mqtt_host) else mqtt_host.lower().rstrip(".")
    if not _covers(server.names, host):
        notes.append(f"warning: your TLS server certificate does not name {mqtt_host}"
                     " (VWARD_MQTT_HOST): devices told that host will refuse it")
    return notes


def _covers(names: frozenset[str], host: str) -> bool:
    if host in names:
        return True
    rest = host.partition(".")[2]
    return bool(rest) and not is_ip(host) and f"*.{rest}" in names
