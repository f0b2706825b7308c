"""The benchmarks' results file (issue 12, "figures that stay true"):
benchmarks/results.jsonl holds, one JSON object a line, each run whose figures
went into the README: when, at which commit, the command, and its figures.
A bench appends its run when asked (`--record`), and every run compares its
figures with the last recorded run of the same bench, so a regression shows
the day it happens.

The comparison is pure (`last_run`, `ratios`, `ratio_lines`); reading and
appending the file and asking git for the commit are the small edge below."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

RESULTS_FILE = Path(__file__).resolve().parent / "results.jsonl"


@dataclass(frozen=True, slots=True)
class Run:
    """One recorded run.  bench : e.g. 'realtime'; variant : what must match for
    two runs to be compared (the broker); figures : {group: {name: number}},
    e.g. {'1000': {'score_p99_ms': 412.0, ...}}."""

    date: str
    commit: str
    bench: str
    variant: str
    command: str
    figures: Mapping[str, Mapping[str, float]]
    note: str = ""
    machine: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps({"date": self.date, "commit": self.commit, "bench": self.bench,
                           "variant": self.variant, "command": self.command,
                           "machine": dict(self.machine), "note": self.note,
                           "figures": {g: dict(v) for g, v in self.figures.items()}},
                          allow_nan=False, default=_finite)

    @staticmethod
    def from_json(line: str) -> Run:
        d = json.loads(line)
        return Run(d["date"], d["commit"], d["bench"], d.get("variant", ""), d["command"],
                   d["figures"], d.get("note", ""), d.get("machine", {}))


def _finite(value: Any) -> Any:
    raise TypeError(f"{value!r} cannot go into the results file")


def clean(figures: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Figures without NaN (JSON has none; a missing figure is left out)."""
    return {g: {k: v for k, v in f.items() if not (isinstance(v, float) and math.isnan(v))}
            for g, f in figures.items()}


def parse(lines: Iterable[str]) -> list[Run]:
    """The runs of the file's lines; blank lines skipped."""
    return [Run.from_json(line) for line in lines if line.strip()]


def last_run(runs: Iterable[Run], bench: str, variant: str) -> Run | None:
    """The latest run of the same bench and variant (the file is in order)."""
    found = None
    for r in runs:
        if r.bench == bench and r.variant == variant:
            found = r
    return found


def ratios(today: Mapping[str, Mapping[str, float]], last: Mapping[str, Mapping[str, float]],
           names: Iterable[str]) -> dict[str, dict[str, float]]:
    """today / last for each figure in `names` of each group both runs have
    (a group or figure missing from either, or a zero last, is left out)."""
    wanted = tuple(names)
    out: dict[str, dict[str, float]] = {}
    for group, now in today.items():
        before = last.get(group)
        if before is None:
            continue
        r = {n: now[n] / before[n] for n in wanted
             if n in now and n in before and before[n] and not math.isnan(now[n])}
        if r:
            out[group] = r
    return out


def ratio_lines(today: Mapping[str, Mapping[str, float]], last: Run | None,
                names: Mapping[str, str], group_label: str = "") -> list[str]:
    """Lines saying today's figures as ratios of the last recorded run's;
    `names` maps a figure to how it is shown."""
    if last is None:
        return ["no recorded run of this bench to compare with (--record keeps this one)"]
    lines = [f"today ÷ last recorded run ({last.date[:10]}, {last.commit}, `{last.command}`):"]
    r = ratios(today, last.figures, names)
    if not r:
        return [*lines, "  no load in common"]
    for group, figs in r.items():
        shown = ", ".join(f"{names[n]} ×{v:.2f}" for n, v in figs.items())
        lines.append(f"  {group}{group_label}: {shown}")
    return lines


# --- the edge: the file and git ---------------------------------------------------------


def read(path: Path = RESULTS_FILE) -> list[Run]:
    try:
        return parse(path.read_text().splitlines())
    except FileNotFoundError:
        return []


def append(run: Run, path: Path = RESULTS_FILE) -> None:
    with open(path, "a") as f:
        f.write(run.as_json() + "\n")


def commit(root: Path = RESULTS_FILE.parent.parent) -> str:
    """The checked-out commit, short; 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def new_run(bench: str, variant: str, command: str, figures: Mapping[str, Mapping[str, float]],
            *, now: datetime, machine: Mapping[str, Any], note: str = "") -> Run:
    return Run(now.isoformat(timespec="seconds").replace("+00:00", "Z"), commit(), bench,
               variant, command, clean(figures), note, machine)
