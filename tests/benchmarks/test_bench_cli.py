"""`vward bench X` runs benchmarks/X.py's ``main``: every choice the command
offers reaches its module, and no bench is left inside a stage (issue 11).
Pure: each bench's ``main`` is replaced, nothing starts."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from ward import cli

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("ward", "ingest", "alerts", "simulators", "api", "dashboard")


def _choices(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The benches `vward bench` offers, as argparse names them when refusing one."""
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench", "no-such-bench"])
    message = capsys.readouterr().err
    listed = re.search(r"choose from (.*)\)", message)
    assert listed, message
    return [name.strip("'\"") for name in listed.group(1).split(", ")]


def test_every_bench_runs_the_main_of_its_module(capsys, monkeypatch) -> None:
    choices = _choices(capsys)
    assert {"ingest", "scoring", "simulate", "web", "durability", "realtime",
            "partition"} <= set(choices)
    for what in choices:
        module = importlib.import_module(f"benchmarks.{what}")
        ran: list[tuple[str, bool]] = []

        def main(args, settings, ran=ran) -> int:
            ran.append((args.what, args.quick))
            return 0

        monkeypatch.setattr(module, "main", main)
        args = cli.build_parser().parse_args(["bench", what, "--quick"])
        assert args.func(args, None) == 0
        assert ran == [(what, True)], what


def test_no_stage_holds_a_bench() -> None:
    found = [p.relative_to(ROOT).as_posix() for stage in STAGES
             for p in (ROOT / stage).rglob("*.py") if "bench" in p.name]
    assert not found, f"benchmarks belong in benchmarks/: {found}"
