"""Every process stops within 10 s of SIGINT or SIGTERM, and cleanly (issue 8,
finding 11: Ctrl-C of `make demo` left `vward alerts` running).  Each `vward`
process is started for real against the test run's services, waited for
until it serves, signalled, and judged by its exit status, its time to stop
and the work a clean stop does.

Three ways a stop is asked for: SIGINT from a terminal (Python's default
handler), SIGINT to a process that a shell started in the background (a
non-interactive shell starts `cmd &` with SIGINT ignored, as `make demo`
does, so only a handler of the process's own hears Ctrl-C; the alerts engine
had none), and SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, service_env, unique, wait_for

from ward import db, devices, scratch
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]

STOP_WITHIN = 10.0  # [s] the finding's promise

# Starts `vward ARGS` with SIGINT as given (exec keeps SIG_IGN, and resets a
# handler to the default), whatever the test runner's own SIGINT is.
_LAUNCH = ("import os, signal, sys; signal.signal(signal.SIGINT, getattr(signal, sys.argv[1]));"
           " os.execv(sys.executable, [sys.executable, '-m', 'ward.cli', *sys.argv[2:]])")


@dataclass
class Running:
    name: str
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Case:
    """How to start one process, when it serves, and what its clean stop does."""

    args: list[str]
    ready: Callable[[str], bool]
    stopped_cleanly: Callable[[Running], None]
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def start(services_up: Settings, tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def _start(name: str, case: Case, *, sigint: str) -> Running:
        log = tmp_path / f"{name}-{len(started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, sigint, *case.args],
                                    env=service_env(services_up, **case.env), cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT)
        started.append(Running(name, proc, log))
        return started[-1]

    yield _start
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait(10)
        print(f"--- {r.name} ---\n{r.output()[-4000:]}")  # shown when a test failed


def _db_now(settings: Settings) -> datetime:
    with db.connect(settings, autocommit=True) as c:
        return c.execute("SELECT now()").fetchone()[0]


def _heartbeat(settings: Settings, component: str, instance: str) -> tuple | None:
    with db.connect(settings, autocommit=True) as c:
        return c.execute("SELECT started_at, stopped_at FROM service_heartbeats"
                         " WHERE component = %s AND instance_id = %s",
                         (component, instance)).fetchone()


def _stopped_since(settings: Settings, component: str, instance: str, t0: datetime) -> None:
    """Its heartbeat row says this run of it stopped cleanly (`vward status`)."""
    row = _heartbeat(settings, component, instance)
    assert row is not None, f"no heartbeat of {component} {instance}"
    started_at, stopped_at = row
    assert started_at >= t0 and stopped_at is not None and stopped_at >= started_at, row


def _ingest(settings: Settings) -> Case:
    t0 = _db_now(settings)

    def clean(r: Running) -> None:
        out = r.output()
        assert "flushing and stopping" in out and "ingest stopped" in out
        _stopped_since(settings, "ingest", settings.ingest_client_id, t0)

    return Case(["ingest"], lambda out: "connected to" in out, clean)


def _alerts(settings: Settings) -> Case:
    """An engine of its own ward and name; a claim it holds (a patient it
    failed to score, of a ward it does not serve, so it cannot finish it)
    must be handed back by the stop."""
    engine, ward, other = unique("engine"), unique("ward"), unique("ward")
    patient = unique("pat")
    t0 = _db_now(settings)
    with db.connect(settings) as c:
        devices.register_devices(c, [devices.NewDevice(unique("dev"), patient, other)],
                                 valid_from=datetime.now(UTC) - timedelta(hours=1))
        c.execute("INSERT INTO score_queue (patient_id, since, claimed_by, claimed_until,"
                  " claimed_since) VALUES (%s, now(), %s, now() + interval '1 hour', now())",
                  (patient, engine))

    def claimed() -> str | None:
        with db.connect(settings, autocommit=True) as c:
            row = c.execute("SELECT claimed_by FROM score_queue WHERE patient_id = %s",
                            (patient,)).fetchone()
        return row[0] if row else "(no queue row)"

    def clean(r: Running) -> None:
        assert f"alerts engine {engine} stopped" in r.output()
        assert claimed() is None, "the engine's claims were not released"
        _stopped_since(settings, "alerts", engine, t0)

    assert claimed() == engine
    return Case(["alerts"], lambda out: "catching up on the queue" in out, clean,
                {"VWARD_ALERTS_ENGINE_ID": engine, "VWARD_ALERTS_WARDS": ward,
                 "VWARD_ALERTS_TICK_SECONDS": "1"})


def _web(settings: Settings) -> Case:
    def clean(r: Running) -> None:
        out = r.output()
        assert "Application shutdown complete" in out and "Finished server process" in out

    return Case(["web"], lambda out: "Application startup complete" in out, clean,
                {"VWARD_WEB_PORT": str(scratch.free_port()), "VWARD_WEB_HOST": "127.0.0.1"})


def _simulate(settings: Settings) -> Case:
    seed = str(900_000 + uuid.uuid4().int % 99_999)

    def clean(r: Running) -> None:
        assert "stopped (signal) after" in r.output()

    return Case(["simulate", "--patients", "2", "--scenario", "quiet", "--speed", "10",
                 "--seed", seed],
                lambda out: re.search(r"devices (\d+)/\1 connected", out) is not None, clean)


CASES: dict[str, Callable[[Settings], Case]] = {
    "ingest": _ingest, "alerts": _alerts, "web": _web, "simulate": _simulate}


def _stop(services_up: Settings, start, name: str, sig: signal.Signals, *, sigint: str) -> None:
    case = CASES[name](services_up)
    r = start(name, case, sigint=sigint)
    wait_for(lambda: r.proc.poll() is not None or case.ready(r.output()), timeout=30,
             what=f"{name} serving")
    assert r.proc.poll() is None, f"{name} ended before it was signalled:\n{r.output()}"
    asked = time.monotonic()
    r.proc.send_signal(sig)
    try:
        status = r.proc.wait(STOP_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"vward {name} still running {STOP_WITHIN:g} s after {sig.name}")
    took = time.monotonic() - asked
    assert status == 0, f"vward {name} exited with {status} after {sig.name}:\n{r.output()}"
    assert took < STOP_WITHIN
    case.stopped_cleanly(r)


@pytest.mark.parametrize("name", list(CASES))
def test_every_process_stops_within_10_s_of_sigint(services_up, start, name):
    _stop(services_up, start, name, signal.SIGINT, sigint="SIG_DFL")


@pytest.mark.parametrize("name", list(CASES))
def test_every_process_stops_within_10_s_of_sigint_when_a_shell_started_it_in_the_background(
        services_up, start, name):
    """`make demo`'s case: SIGINT ignored from the start, as a shell's `&` leaves it."""
    _stop(services_up, start, name, signal.SIGINT, sigint="SIG_IGN")


@pytest.mark.parametrize("name", list(CASES))
def test_every_process_stops_within_10_s_of_sigterm(services_up, start, name):
    _stop(services_up, start, name, signal.SIGTERM, sigint="SIG_DFL")
