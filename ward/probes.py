"""The network edge of the ward's health: does the broker answer, can the
database be read; then ward/health.py judges.  `vward status` calls ``check``
with its own connection, the web app with one from its pool.

The broker probe is one MQTT 3.1.1 CONNECT as the ward's monitor user, read
to its CONNACK, then DISCONNECT: a few dozen bytes, cheaper than a client
library's loop, and it proves more than a TCP connect (the broker speaks MQTT
and lets the ward's own services in)."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import psycopg

from ward import broker_names, broker_users, db, heartbeats
from ward.errors import ServiceError
from ward.health import Health, Probe, assess
from ward.settings import Settings

BROKER_TIMEOUT = 2.0  # [s] for the TCP connect and again for the CONNACK
DATABASE_TIMEOUT = 3  # [s] to connect

_CONNACK_CODES = {1: "unacceptable protocol version", 2: "client id refused",
                  3: "server unavailable", 4: "bad user name or password",
                  5: "not authorised"}

Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


def check(settings: Settings, connect: Connect | None = None) -> Health:
    """The ward's health now: the broker probed while the heartbeats are read."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vward-probe") as pool:
        creds = broker_users.credentials(settings, broker_names.MONITOR)
        broker = pool.submit(probe_broker, settings.mqtt_host, settings.mqtt_port,
                             username=creds.username, password=creds.password)
        database, now, rows = _read(settings, connect)
        return assess(rows, now, database=database, broker=broker.result())


def _read(settings: Settings, connect: Connect | None):
    connect = connect or (lambda: db.connect(settings, autocommit=True,
                                             connect_timeout=DATABASE_TIMEOUT))
    try:
        with connect() as conn:
            now, rows = heartbeats.read(conn)
    except psycopg.errors.UndefinedTable:
        return (Probe(False, "the database has no service_heartbeats table: run `vward up`"
                      " (migration 007)"), datetime.now(UTC), None)
    except (ServiceError, psycopg.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Probe(False, f"database unreachable: {first}"), datetime.now(UTC), None
    except Exception as exc:  # the pool's timeout and the like: still an answer, not a 500
        return Probe(False, f"database unreachable: {type(exc).__name__} {exc}"), \
            datetime.now(UTC), None
    return Probe(True, "reachable"), now, rows


def probe_broker(host: str, port: int, *, username: str, password: str,
                 timeout: float = BROKER_TIMEOUT) -> Probe:
    """Whether the broker at host:port answers MQTT and accepts the service user."""
    where = f"{host}:{port}"
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            # The broker takes only a client id that begins with the user's name.
            s.sendall(connect_packet(f"{username}-probe-{os.getpid()}-{os.urandom(3).hex()}",
                                     username, password))
            answer = _read_exactly(s, 4)
            if answer[:2] == b"\x20\x02" and answer[3] == 0:
                s.sendall(b"\xe0\x00")  # DISCONNECT
    except TimeoutError:
        return Probe(False, f"broker {where} did not answer within {timeout:g} s")
    except OSError as exc:
        return Probe(False, f"broker {where} unreachable: {exc.strerror or exc}")
    ms = (time.perf_counter() - started) * 1000
    if answer[:2] != b"\x20\x02":
        return Probe(False, f"{where} answered, but not as an MQTT broker")
    code = answer[3]
    if code == 0:
        return Probe(True, f"broker {where} answers MQTT and accepts the service user"
                           f" ({ms:.0f} ms)")
    why = _CONNACK_CODES.get(code, f"code {code}")
    if code == 1:  # it speaks MQTT, only not 3.1.1
        return Probe(True, f"broker {where} answers MQTT ({why}) ({ms:.0f} ms)")
    return Probe(False, f"broker {where} answers but refuses the service user {username!r}:"
                        f" {why}")


def connect_packet(client_id: str, username: str, password: str, *,
                   keepalive: int = 10) -> bytes:
    """An MQTT 3.1.1 CONNECT with user name and password, clean session."""
    body = (_string(b"MQTT") + bytes([4, 0b1100_0010]) + struct.pack("!H", keepalive)
            + _string(client_id.encode()) + _string(username.encode())
            + _string(password.encode()))
    return b"\x10" + _remaining_length(len(body)) + body


def _string(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_exactly(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = s.recv(n - len(data))
        if not part:
            break  # closed early: whatever came is judged
        data += part
    return data.ljust(n, b"\xff")
