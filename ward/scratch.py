"""Services of their own for tests and benchmarks: PostgreSQL+TimescaleDB and
the broker (VWARD_BROKER: RabbitMQ or Mosquitto) in a new temporary
directory on free ports, never the ward's own `.vward`, started by the same
`vward up` code (ward/services.py) and removed afterwards."""

from __future__ import annotations

import random
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ward import services
from ward.broker_names import RABBITMQ
from ward.errors import ServiceError
from ward.rabbitmq_config import PORT_STEP
from ward.services import IngestSession
from ward.settings import Settings

# Scratch clusters may grow to this many nodes on one host (node i: + PORT_STEP·i).
MAX_NODES = 3


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_settings(prefix: str, **overrides: object) -> Settings:
    """Settings for services of their own, in a new temporary directory on free
    ports: never the ward's own `.vward`."""
    ports = _free_port_block(7)
    values: dict[str, object] = {
        "home": Path(tempfile.mkdtemp(prefix=prefix)), "pg_port": ports[0],
        "mqtt_port": ports[1], "database_url": "", "mqtt_external": False,
        # RabbitMQ's (node i: + 10·i), its Erlang distribution and its own epmd.
        "amqp_port": ports[2], "broker_admin_port": ports[3], "broker_dist_port": ports[4],
        "broker_epmd_port": ports[5], "broker_nodes": 1, "amqp_urls": "",
        "mqtt_tls_port": ports[6],
        "smtp_port": free_port(),  # the demo's mail sink (`vward mail-sink`)
    }
    return Settings(**{**values, **overrides})


def _free_port_block(count: int) -> list[int]:
    """`count` consecutive ports that are free, with every node's offset of
    them free too, drawn below the kernel's ephemeral range: a port the kernel
    hands out (bind to 0) may be the base of node 0 and yet leave node 1's
    `+10` to any outgoing connection, which then holds it when the cluster
    grows (it did, in CI)."""
    low, high = _ephemeral_range()
    span = PORT_STEP * (MAX_NODES - 1) + count
    floor, ceiling = 20000, max(20000 + span + 1, min(low, 61000) - span)
    if low < 21000:  # the ephemeral range starts low: take ports above it
        floor, ceiling = high + 1, 65535 - span
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(floor, ceiling)
        wanted = [base + k + PORT_STEP * i for i in range(MAX_NODES) for k in range(count)]
        if all(_port_is_free(p) for p in wanted):
            return [base + k for k in range(count)]
    raise ServiceError("no block of free ports found for scratch services")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def discard(settings: Settings) -> None:
    """Stop scratch services and remove their directory."""
    try:
        services.down(settings, discarding=True)
    finally:
        shutil.rmtree(settings.home, ignore_errors=True)


@contextmanager
def running(prefix: str, *, ingest_session: IngestSession | None = None,
            **overrides: object) -> Iterator[Settings]:
    """Start PostgreSQL+TimescaleDB and the broker of their own, yield their
    settings, and stop and remove them afterwards, whatever happened.
    `ingest_session` as for `services.up` (needed with broker="mqtt")."""
    settings = new_settings(prefix, **overrides)
    try:
        broker = "RabbitMQ" if settings.broker == RABBITMQ else "Mosquitto"
        print(f"starting PostgreSQL+TimescaleDB and {broker} of their own in {settings.home}"
              " ...", flush=True)
        services.up(settings, ingest_session=ingest_session)
        yield settings
    finally:
        discard(settings)
