"""Services of a test module's own for the MQTT v5 option (`VWARD_BROKER=mqtt`):
PostgreSQL+TimescaleDB and Mosquitto started by `ward.services.up`, as for the
default broker, but apart from the test run's services, since these tests kill
and restart the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from conftest import ROOT, RegisteredDevice, service_env, unique, wait_for

from ingest import mqtt_session
from ward import broker, db, devices, mosquitto, scratch, services
from ward.settings import Settings


@contextmanager
def mqtt_services(prefix: str) -> Iterator[Settings]:
    s = scratch.new_settings(prefix, broker="mqtt", demo=True, ingest_batch_ms=20,
                                  ingest_heartbeat_seconds=1.0)
    try:
        services.up(s, ingest_session=mqtt_session.ensure)
        yield s
    finally:
        scratch.discard(s)


def register(settings: Settings, ward_id: str = "ward-mqtt") -> RegisteredDevice:
    """A fresh device for a fresh patient, its credentials given to the broker."""
    device_id, patient_id = unique("dev"), unique("pat")
    with db.connect(settings) as conn:
        pw = devices.register_devices(
            conn, [devices.NewDevice(device_id, patient_id, ward_id, "generic")],
            valid_from=datetime.now(UTC) - timedelta(days=2))
        broker.write_credentials(settings, devices.password_hashes(conn))
    return RegisteredDevice(device_id, patient_id, ward_id, pw[device_id])


def kill_broker(settings: Settings) -> None:
    """SIGKILL Mosquitto: no clean stop, no last save of its persistence."""
    pid = mosquitto.pid(settings)
    assert pid is not None, "Mosquitto is not running"
    os.kill(pid, signal.SIGKILL)
    # broker_pid takes a zombie for dead (issue 9): Mosquitto daemonises, and
    # here nobody may reap it.
    wait_for(lambda: mosquitto.pid(settings) is None, timeout=10, what="Mosquitto dead")


def session_saved(settings: Settings, since: float) -> None:
    """Wait until Mosquitto has written its persistence file after `since`
    (time.time()): the sessions it holds then survive a crash."""
    db_file = mosquitto.Paths(settings.home).dir / "data" / "mosquitto.db"
    wait_for(lambda: db_file.exists() and db_file.stat().st_mtime > since, timeout=15,
             interval=0.2, what="Mosquitto's autosave")


def vward_up(settings: Settings) -> str:
    """`vward up`, run as an operator runs it; returns what it printed."""
    done = subprocess.run([sys.executable, "-m", "ward.cli", "up"], env=service_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def stored(settings: Settings, device_id: str) -> int:
    with db.connect(settings) as conn:
        row = conn.execute("SELECT count(*) FROM observations WHERE device_id = %s",
                           (device_id,)).fetchone()
    return row[0] if row else 0
