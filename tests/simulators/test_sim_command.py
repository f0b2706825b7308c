"""`vward simulate` as an operator runs it: a real process, registering its
devices like `vward device add`, stopping after --duration or on SIGTERM."""

from __future__ import annotations

import pytest
from conftest import wait_for

pytestmark = [pytest.mark.db, pytest.mark.broker]

SCENARIO = """
[ward]
id = "ward-simcmd"
patients = 3
[devices.interval_s]
patch = 60
oximeter = 300
[[groups]]
name = "stable"
course = "stable"
share = 1.0
devices = ["patch"]
[[groups]]
name = "COPD exacerbation"
course = "copd_exacerbation"
count = 1
onset_s = [60, 120]
devices = ["oximeter", "patch"]
"""


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "copd.toml"
    path.write_text(SCENARIO)
    return path


def _patients(conn, seed: int) -> int:
    return conn.execute(
        "SELECT count(DISTINCT patient_id) FROM observations WHERE patient_id LIKE %s",
        (f"sim-p{seed}-%",),
    ).fetchone()[0]


def test_simulate_runs_for_its_duration_and_exits_0(spawn, conn, scenario_file) -> None:
    seed = 940001
    ingest = spawn("ingest")
    wait_for(lambda: "connected to" in ingest.output(), what="ingest connected")
    sim = spawn(
        "simulate",
        "--patients",
        "4",
        "--scenario",
        str(scenario_file),
        "--speed",
        "120",
        "--duration",
        "3s",
        "--seed",
        str(seed),
    )
    assert sim.proc.wait(60) == 0, sim.output()
    out = sim.output()
    assert "who follows which course" in out
    assert f"sim-p{seed}-00003: from" in out  # the COPD exacerbation, named
    assert "devices 5/5 connected" in out and "stopped (duration)" in out
    wait_for(lambda: _patients(conn, seed) == 4, what="readings of every patient stored")
    scale = conn.execute(
        "SELECT patient_id, spo2_scale, set_by FROM patient_settings WHERE patient_id LIKE %s",
        (f"sim-p{seed}-%",),
    ).fetchall()
    assert scale == [(f"sim-p{seed}-00003", 2, "simulator")]
    kinds = dict(
        conn.execute(
            "SELECT device_id, kind FROM devices WHERE device_id LIKE %s", (f"sim-{seed}-%",)
        ).fetchall()
    )
    assert kinds[f"sim-{seed}-00003-oximeter"] == "oximeter" and len(kinds) == 5


def test_simulate_stops_cleanly_on_sigterm(spawn, scenario_file) -> None:
    sim = spawn("simulate", "--scenario", str(scenario_file), "--speed", "60", "--seed", "940002")
    wait_for(lambda: "4/4 connected" in sim.output(), timeout=60, what="devices connected")
    assert sim.terminate() == 0, sim.output()
    assert "stopped (signal)" in sim.output()


def test_bad_arguments_are_refused(spawn, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[ward]\nspeed = -1\n[[groups]]\ncount = 1\n")
    p = spawn("simulate", "--scenario", str(bad))
    assert p.proc.wait(60) == 2
    assert "'speed' must be > 0" in p.output()
    p = spawn("simulate", "--duration", "soon")
    assert p.proc.wait(60) == 2 and "duration" in p.output()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patients", "many"], "argument --patients: not a whole number: 'many'"),
        (["--patients", "0"], "argument --patients: must be at least 1, got 0"),
        (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
        (["--speed", "fast"], "argument --speed: not a number: 'fast'"),
        (["--duration", "inf"], "argument --duration: a duration is a positive number"),
    ],
)
def test_a_bad_number_gets_a_one_line_reason(args, message, capsys) -> None:
    import argparse

    from simulators import commands

    parser = argparse.ArgumentParser(prog="vward")
    commands.register(parser.add_subparsers())
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["simulate", *args])
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("vward simulate: error: ") and message in last
