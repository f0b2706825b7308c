"""deploy/systemd: every unit is valid for systemd, runs a real `vward` command,
restarts what dies and stops within the ward's 10 s."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
VWARD = Path(sys.executable).parent / "vward"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path)
    return parser


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_every_unit_verifies(path: Path, tmp_path: Path) -> None:
    """systemd's own checker, with the unit pointing at this checkout's vward."""
    name = path.name.replace("@.", "@1.")
    (tmp_path / name).write_text(path.read_text().replace("/opt/vward/.venv/bin/vward",
                                                          str(VWARD)))
    done = subprocess.run([shutil.which("systemd-analyze") or "systemd-analyze", "verify",
                           "--man=no", str(tmp_path / name)],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 0 and problems == [], problems


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_every_unit_restarts_runs_a_vward_command_and_stops_in_time(path: Path) -> None:
    service = _unit(path)["Service"]
    command = service["ExecStart"].split()
    assert command[0] == "/opt/vward/.venv/bin/vward"
    helped = subprocess.run([str(VWARD), command[1], "--help"], capture_output=True,
                            timeout=60)
    assert helped.returncode == 0, f"vward {command[1]} is not a command"
    assert service["Restart"] == "always" and float(service["RestartSec"]) <= 1
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) > 10
    assert service["User"] == "vward" and service["NoNewPrivileges"] == "yes"
