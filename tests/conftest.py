"""Fixtures that start the real services the ward uses: a PostgreSQL server
with TimescaleDB and the broker (a RabbitMQ node, or Mosquitto with
VWARD_BROKER=mqtt), each on free ports and in a data directory of the test
run's own, started by the project's own code (`ward.services.up`) and
stopped and removed afterwards, with nothing left running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ingest import mqtt_session
from ward import broker, db, devices, scratch, services
from ward.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

# The markers a test gets from the fixtures it uses, directly or through
# another fixture: `services_up` starts TimescaleDB and the broker together,
# so every test built on it (conn, register, spawn, make_engine, ...) is
# `db` and `broker`, as is one on a module's own Mosquitto ward (`mqtt_ward`,
# tests/mqtt_option.py); Chromium comes only from `browser`.  Applied here,
# not by hand, so that `-m "not browser"` (or "not db and not broker")
# deselects every such test.  A test that starts services of its own,
# without these fixtures, carries its markers by hand.
FIXTURE_MARKERS = {"services_up": ("db", "broker"), "mqtt_ward": ("db", "broker"),
                   "browser": ("browser",)}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = getattr(item, "fixturenames", ())
        for fixture, markers in FIXTURE_MARKERS.items():
            if fixture in used:
                for name in markers:
                    if item.get_closest_marker(name) is None:
                        item.add_marker(name)


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """Settings of this test run's own services (started lazily by `services_up`)."""
    s = scratch.new_settings("vward-test-", demo=True, ingest_batch_ms=20)
    yield s
    scratch.discard(s)


@pytest.fixture(scope="session")
def services_up(settings: Settings) -> Settings:
    services.up(settings, ingest_session=mqtt_session.ensure)
    return settings


@pytest.fixture
def conn(services_up: Settings) -> Iterator[psycopg.Connection]:
    with db.connect(services_up, autocommit=True) as c:
        yield c


def screenshot(name: str, tmp_path: Path) -> Path:
    """Where a browser test saves its picture: docs/NAME (the README's) when
    VWARD_SCREENSHOTS=1, else the test's own scratch directory, so that `make test`
    leaves the tree as it found it."""
    return ROOT / "docs" / name if os.environ.get("VWARD_SCREENSHOTS") == "1" \
        else tmp_path / name


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def on_ward(conn: psycopg.Connection, ward_id: str, *names: str) -> None:
    """Put these clinicians (made when they are no user yet) on ``ward_id``'s team
    (the ward made if new): a clinician sees only their team's wards (issue 14,
    item 6), so a test's clinician is on the wards the test shows them."""
    from api import accounts
    from ward import devices, team_store
    from ward.errors import WardError

    devices.ensure_ward(conn, ward_id)
    for name in names:
        if accounts.find_user(conn, name) is None:
            with contextlib.suppress(WardError):  # made meanwhile by another test
                accounts.create_user(conn, name, "clinician", f"pw-{uuid.uuid4().hex}")
        team_store.join(conn, ward_id, name, by="test")


class RegisteredDevice:
    def __init__(self, device_id: str, patient_id: str, ward_id: str, password: str) -> None:
        self.device_id, self.patient_id, self.ward_id, self.password = (
            device_id,
            patient_id,
            ward_id,
            password,
        )


@pytest.fixture
def register(services_up: Settings):
    """Register a fresh device for a fresh patient, through the same path as
    `vward device add`; returns a RegisteredDevice."""
    from datetime import UTC, datetime, timedelta

    def _register(
        *,
        patient_id: str | None = None,
        ward_id: str = "ward-test",
        kind: str = "generic",
        valid_from=None,
    ) -> RegisteredDevice:
        device_id = unique("dev")
        patient_id = patient_id or unique("pat")
        valid_from = valid_from or datetime.now(UTC) - timedelta(days=2)
        with db.connect(services_up) as c:
            pw = devices.register_devices(
                c, [devices.NewDevice(device_id, patient_id, ward_id, kind)], valid_from=valid_from
            )
            broker.write_credentials(services_up, devices.password_hashes(c))
        return RegisteredDevice(device_id, patient_id, ward_id, pw[device_id])

    return _register


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VWARD_")}
    env.update(settings.as_env())
    env["VWARD_SECRET_KEY"] = settings.secret_key
    env.update(extra)
    return env


class Process:
    """A ward service (`vward ...`) run as a real process, as an operator would."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ward.cli", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        return self

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def spawn(services_up: Settings, tmp_path: Path):
    """Start `vward ARGS` processes; any still running at the end are stopped."""
    started: list[Process] = []

    def _spawn(*args: str, **env: str) -> Process:
        p = Process(
            list(args), service_env(services_up, **env), tmp_path / f"{args[0]}-{len(started)}.log"
        )
        started.append(p.start())
        return p

    yield _spawn
    for p in started:
        if p.running:
            p.terminate()
        # Shown by pytest only when the test failed: what the service said.
        print(f"--- vward {' '.join(p.args)} ---\n{p.output()[-6000:]}")


def wait_for(predicate, *, timeout: float = 20, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what} (last: {value!r})"
            )
        time.sleep(interval)


@pytest.fixture
def make_engine(services_up: Settings):
    """make_engine(ward, **kw): an alerts engine of the ward's on its own connection, with
    a clock the test drives (``run_once``/``drain``/``tick`` take ``now``); closed after
    the test."""
    from datetime import timedelta

    from alerts.engine import Engine

    made = []

    def _make(ward: str, **kw):
        kw.setdefault("engine_id", unique("engine"))
        kw.setdefault("freshness", timedelta(hours=12))
        made.append(Engine(db.connect(services_up, autocommit=True), wards=[ward], **kw))
        return made[-1]

    yield _make
    for e in made:
        e.conn.close()


@pytest.fixture(scope="module")
def browser():
    """browser(width, height): a headless Chromium (selenium), quit at the end
    of the module.  The one way a test gets a browser, so that the `browser`
    marker follows from using it (FIXTURE_MARKERS)."""
    from dashboard.screenshot import chrome

    drivers = []

    def _open(width: int = 1600, height: int = 1000):
        drivers.append(chrome(width, height))
        drivers[-1].implicitly_wait(0)
        return drivers[-1]

    yield _open
    for d in drivers:
        d.quit()
