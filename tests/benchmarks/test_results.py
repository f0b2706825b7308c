"""benchmarks/results.py: the results file's runs, the last run of the same
bench, and today's figures as ratios of it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks import results

NAMES = {"score_p99_ms": "p99", "rate": "rate"}


def _run(date: str, variant: str, p99: float, *, bench: str = "realtime") -> results.Run:
    return results.Run(date, "abc1234", bench, variant, f"vward bench {bench}",
                       {"1000": {"score_p99_ms": p99, "rate": 1000.0}})


def test_a_run_goes_to_a_line_and_back() -> None:
    r = _run("2026-12-01T10:00:00Z", "rabbitmq", 412.0)
    line = r.as_json()
    assert "\n" not in line
    assert results.Run.from_json(line) == r


def test_nan_is_left_out_of_the_file() -> None:
    figures = results.clean({"100": {"alert_p99_ms": math.nan, "score_p99_ms": 50.0}})
    assert figures == {"100": {"score_p99_ms": 50.0}}
    with pytest.raises(ValueError):  # json refuses NaN rather than write a file nobody reads
        results.Run("d", "c", "b", "v", "cmd", {"1": {"x": math.nan}}).as_json()


def test_the_last_run_is_the_latest_of_the_same_bench_and_variant() -> None:
    runs = [_run("2026-12-01", "rabbitmq", 400), _run("2026-12-02", "mqtt", 300),
            _run("2026-12-03", "rabbitmq", 500), _run("2026-12-04", "rabbitmq", 1, bench="x")]
    assert results.last_run(runs, "realtime", "rabbitmq").date == "2026-12-03"
    assert results.last_run(runs, "realtime", "mqtt").date == "2026-12-02"
    assert results.last_run(runs, "scoring", "rabbitmq") is None


def test_ratios_are_today_over_last_for_what_both_have() -> None:
    today = {"100": {"score_p99_ms": 60.0, "rate": 99.0}, "1000": {"score_p99_ms": 800.0},
             "3000": {"score_p99_ms": 5000.0}}
    last = {"100": {"score_p99_ms": 40.0, "rate": 100.0}, "1000": {"score_p99_ms": 400.0,
                                                                  "rate": 0.0}}
    r = results.ratios(today, last, NAMES)
    assert r == {"100": {"score_p99_ms": 1.5, "rate": 0.99}, "1000": {"score_p99_ms": 2.0}}


def test_ratio_lines_name_the_run_compared_with() -> None:
    last = _run("2026-12-01T10:00:00Z", "rabbitmq", 400.0)
    lines = results.ratio_lines({"1000": {"score_p99_ms": 600.0, "rate": 900.0}}, last, NAMES,
                                " patients")
    assert "2026-12-01" in lines[0] and "abc1234" in lines[0]
    assert lines[1] == "  1000 patients: p99 ×1.50, rate ×0.90"
    assert "no recorded run" in results.ratio_lines({}, None, NAMES)[0]
    assert results.ratio_lines({"5": {"rate": 1.0}}, last, NAMES)[-1] == "  no load in common"


def test_runs_are_appended_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    assert results.read(path) == []
    first = results.new_run("realtime", "rabbitmq", "vward bench realtime",
                            {"100": {"score_p99_ms": 50.0, "alert_p99_ms": math.nan}},
                            now=datetime(2026, 12, 3, 9, 0, tzinfo=UTC), machine={"cpus": 2})
    results.append(first, path)
    results.append(_run("2026-12-04T00:00:00Z", "rabbitmq", 70.0), path)
    runs = results.read(path)
    assert [r.date for r in runs] == ["2026-12-03T09:00:00Z", "2026-12-04T00:00:00Z"]
    assert runs[0].figures == {"100": {"score_p99_ms": 50.0}} and runs[0].machine == {"cpus": 2}
    assert runs[0].commit  # the checkout's commit, or 'unknown'
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_the_projects_results_file_reads() -> None:
    """Whatever is recorded in benchmarks/results.jsonl parses."""
    for r in results.read():
        assert r.bench and r.command.startswith("vward bench") and r.figures


def test_the_command_line_plan_and_the_command_that_reproduces_it() -> None:
    from argparse import Namespace

    from benchmarks import realtime
    from ward.errors import ConfigError

    none = {"loads": None, "seconds": None, "history_days": None, "quick": False}
    assert realtime.plan_of(Namespace(**none)) == realtime.Plan()
    assert realtime.plan_of(Namespace(**{**none, "quick": True})) == realtime.QUICK
    plan = realtime.plan_of(Namespace(**{**none, "loads": (1000,), "seconds": 30.0}))
    assert plan.loads == (1000,) and plan.seconds == 30.0 and plan.history_days == 3.0
    assert realtime.command_of(plan, "mqtt") == (
        "vward bench realtime --loads 1000 --seconds 30 --history-days 3 --broker mqtt")
    for bad in ({"seconds": 0.0}, {"history_days": 0.0}, {"loads": (0, 100)}):
        with pytest.raises(ConfigError):
            realtime.plan_of(Namespace(**{**none, **bad}))
