"""Where a run sits in time, and what `vward simulate` prints: pure."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from simulators import commands, scenario
from simulators.pacing import (
    DEFAULT_CATCH_UP_S,
    MAX_CATCH_UP_S,
    LagRecorder,
    Progress,
    RunReport,
    Timeline,
    catch_up_span,
    choose_start,
    format_progress,
)
from simulators.plan import Simulation
from simulators.summary import describe, final

NOW = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)


def test_a_runs_duration_is_typed_as_everywhere_else() -> None:
    """`vward simulate --duration` reads ward/durations.py's forms
    (tests/ward/test_durations.py), and refuses anything else."""
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["simulate", "--duration", "10 min"])
    assert args.duration == 600.0
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--duration", "0"])


def test_a_fast_run_with_a_duration_ends_at_the_present() -> None:
    start = choose_start(NOW, 60.0, 600.0)
    assert start == (NOW - timedelta(seconds=59 * 600)).replace(microsecond=0)
    timeline = Timeline(60.0, (NOW - start).total_seconds())
    end = start + timedelta(seconds=timeline.sim_at(600.0))
    assert abs((end - (NOW + timedelta(seconds=600))).total_seconds()) < 1


def test_catch_up_span() -> None:
    assert catch_up_span(1.0, 600.0) == 0 and catch_up_span(0.5, None) == 0
    assert catch_up_span(60.0, None) == DEFAULT_CATCH_UP_S
    assert catch_up_span(1000.0, 86400.0) == MAX_CATCH_UP_S


def test_the_simulated_clock_never_runs_ahead_of_the_present() -> None:
    t = Timeline(speed=60.0, lead_s=3600.0)
    assert t.caught_up_at == pytest.approx(3600 / 59)
    for real in (0.0, 1.0, 30.0, 61.0, 100.0, 1000.0):
        sim = t.sim_at(real)
        assert sim <= 3600.0 + real + 1e-9  # the present, in simulated seconds
        assert t.real_at(sim) == pytest.approx(real)
    assert t.sim_at(10.0) == 600.0  # at speed until caught up
    assert t.sim_at(1000.0) == 4600.0  # then in real time
    slow = Timeline(speed=0.5, lead_s=0.0)
    assert slow.sim_at(10.0) == 5.0 and slow.real_at(5.0) == 10.0


def test_lag_percentiles_sample_beyond_capacity() -> None:
    lag = LagRecorder(capacity=1000, seed=1)
    assert lag.percentile(50) != lag.percentile(50)  # nan before any value
    for i in range(10_000):
        lag.add(i / 10_000)
    assert len(lag) == 10_000 and lag.max == pytest.approx(0.9999)
    assert lag.percentile(50) == pytest.approx(0.5, abs=0.06)


def test_progress_line() -> None:
    line = format_progress(Progress(30, 129, 120, 1234, 1200, 2, 45.6, NOW, 60.0, 0.012, 3))
    assert "patients 30" in line and "120/129 connected (3 offline on purpose)" in line
    assert "sent 1,234 (acked 1,200, 2 refused)" in line and "46 msg/s" in line
    assert "sim 2026-11-23 12:00:00Z (60×)" in line and "lag 0.01 s" in line


def test_summary_says_who_should_deteriorate() -> None:
    sim = Simulation(scenario.load("mixed"), seed=5, speed=60, start=NOW - timedelta(hours=6))
    lines = describe(sim, Timeline(60.0, 6 * 3600.0), None)
    text = "\n".join(lines)
    assert "30 patients" in text and "seed 5" in text
    assert "reaches the present after about 6 min" in text
    assert "duplicate 2.0% of messages" in text
    for p in sim.patients:
        if p.course in ("sepsis", "sudden_hypoxia", "copd_exacerbation", "bleed"):
            line = next(x for x in lines if p.patient_id in x)
            assert "simulated" in line and "after sending starts" in line
    sepsis = next(i for i, x in enumerate(lines) if "course sepsis" in x)
    assert lines[sepsis].endswith("deteriorating")
    assert any("course stable on SpO2 scale 2" in x for x in lines)
    assert any("recovering" in x and x.endswith("improving") for x in lines)
    # A 10 s run at 60× covers 10 simulated minutes: the bleed (onset 10-30 min) comes later.
    short = "\n".join(describe(sim, Timeline(60.0, 6 * 3600.0), 10.0))
    assert "for 10 s real time" in short and "after this run ends" in short


def test_final_summary() -> None:
    report = RunReport(
        10,
        9,
        1,
        Counter(readings=100, status=20),
        118,
        2,
        1.0,
        10.0,
        1.0,
        600.0,
        0.001,
        0.01,
        0.05,
        "signal",
    )
    text = "\n".join(final(report, NOW))
    assert "stopped (signal) after 10 s" in text and "12:10:00Z" in text
    assert "100 readings and 20 status messages (12 msg/s)" in text
    assert "acked 118, refused 2" in text and "1 never let in" in text
