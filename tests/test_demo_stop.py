"""`make demo` stops everything it started within 10 s of Ctrl-C (issue 8,
finding 11).  ward/scripts/demo.sh runs for real, against services of its
own (its files under their VWARD_HOME, never the ward's own .vward/), in a
process group of its own as a terminal's foreground job is; Ctrl-C is SIGINT
to that whole group."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, service_env, wait_for

from ingest import mqtt_session
from ward import scratch, services
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]

STOP_WITHIN = 10.0  # [s]
# A terminal's job gets SIGINT at its default, whatever the test runner's is.
_LAUNCH = ("import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL);"
           " os.execvp('bash', ['bash', 'ward/scripts/demo.sh'])")


@pytest.fixture(scope="module")
def demo_services() -> Iterator[Settings]:
    """Services of the demo's own: it enrols a simulated ward of 30 patients
    and rewrites the broker's password file from its database."""
    s = scratch.new_settings("vward-demo-", demo=True)
    try:
        services.up(s, ingest_session=mqtt_session.ensure)
        yield s
    finally:
        scratch.discard(s)


class Demo:
    def __init__(self, settings: Settings, out: Path) -> None:
        self.settings, self.out = settings, out
        env = service_env(settings, VWARD_WEB_PORT=str(scratch.free_port()))
        with open(out, "wb") as f:
            self.proc = subprocess.Popen([sys.executable, "-c", _LAUNCH], cwd=ROOT, env=env,
                                         stdout=f, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.group = self.proc.pid

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def log(self, name: str) -> str:
        path = self.settings.home / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pid_of(self, name: str) -> int:
        return int(re.search(rf"started {name} \(pid (\d+)", self.output()).group(1))

    def group_alive(self) -> bool:
        self.proc.poll()  # reap the script itself
        try:
            os.killpg(self.group, 0)
        except ProcessLookupError:
            return False
        return True

    def ctrl_c(self) -> float:
        """SIGINT to the whole group; seconds until every process of it is gone."""
        asked = time.monotonic()
        os.killpg(self.group, signal.SIGINT)
        while self.group_alive() and time.monotonic() - asked < 30:
            time.sleep(0.05)
        return time.monotonic() - asked

    def kill(self) -> None:
        if self.group_alive():
            os.killpg(self.group, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def demo(demo_services: Settings, tmp_path: Path) -> Iterator[Demo]:
    d = Demo(demo_services, tmp_path / "demo.out")
    try:
        wait_for(lambda: d.proc.poll() is not None or "running; Ctrl-C to stop" in d.output(),
                 timeout=60, interval=0.2, what="make demo running")
        assert d.proc.poll() is None, d.output()
        wait_for(lambda: "catching up" in d.log("alerts") and "connected to" in d.log("ingest")
                 and "Application startup complete" in d.log("web"), timeout=30,
                 what="ingest, alerts and web serving")
        yield d
    finally:
        d.kill()
        print(f"--- make demo ---\n{d.output()[-4000:]}")
        for name in ("ingest", "alerts", "web"):
            print(f"--- {name}.log ---\n{d.log(name)[-2000:]}")


def _stopped_cleanly(demo: Demo, *names: str) -> None:
    said = {"ingest": "ingest stopped", "alerts": "alerts engine vward-alerts-1 stopped",
            "web": "Application shutdown complete", "simulate": "stopped (signal) after"}
    for name in names:
        text = demo.output() if name == "simulate" else demo.log(name)
        assert said[name] in text, f"{name} did not stop cleanly:\n{text[-2000:]}"


def test_make_demo_stops_everything_within_10_s_of_ctrl_c(demo):
    took = demo.ctrl_c()
    assert took < STOP_WITHIN, f"processes of make demo still running {took:.1f} s after Ctrl-C"
    out = demo.output()
    assert "[demo] stopping the ward's processes" in out and "[demo] stopped" in out
    assert "killing it" not in out
    _stopped_cleanly(demo, "ingest", "alerts", "web", "simulate")


def test_make_demo_kills_a_process_that_does_not_stop_and_says_so(demo):
    hung = demo.pid_of("alerts")
    os.kill(hung, signal.SIGSTOP)  # as good as hung: it cannot act on any signal but SIGKILL
    took = demo.ctrl_c()
    assert took < STOP_WITHIN, f"processes of make demo still running {took:.1f} s after Ctrl-C"
    out = demo.output()
    assert (f"[demo] alerts (pid {hung}) did not stop within 8 s of SIGTERM: killing it"
            " (SIGKILL)") in out
    assert "[demo] stopped" in out
    _stopped_cleanly(demo, "ingest", "web", "simulate")


def test_make_demo_restarts_a_ward_process_that_dies(demo):
    """Issue 9: in `make demo` a crashed worker is started again (and still stops on
    Ctrl-C)."""
    crashed = demo.pid_of("ingest")
    os.kill(crashed, signal.SIGKILL)
    said = wait_for(lambda: re.search(r"\[demo\] ingest exited \(status \d+\): restarted it"
                                      r" \(pid (\d+)\)", demo.output()),
                    timeout=15, interval=0.2, what="the demo restarting ingest")
    again = int(said.group(1))
    assert again != crashed
    os.kill(again, 0)  # running
    wait_for(lambda: demo.log("ingest").count("connected to") >= 2, timeout=20,
             what="the restarted worker connected")
    took = demo.ctrl_c()
    assert took < STOP_WITHIN
    with pytest.raises(ProcessLookupError):
        os.kill(again, 0)
