"""Where `vward bench realtime`'s CPU goes during a load: the broker, PostgreSQL (the
postmaster and every backend), ingest and the engine, from /proc (Linux).

A share is CPU seconds over wall seconds, of one core: 0.63 is 63 % of a core.  A
process is counted from the first sample it is in (a backend that starts during
the load from zero) to the last one it is in (one that ends before the second
sample is not counted)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ward import mosquitto, postgres, rabbitmq
from ward.broker_names import RABBITMQ
from ward.settings import Settings

_TICK = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")
Sample = dict[str, dict[int, float]]  # part → pid → CPU seconds


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of ``pid`` [s]; None when it is gone."""
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    out = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out


def parts(settings: Settings, ingest: int, engine: int) -> dict[str, list[int]]:
    """The pids of each part, now."""
    if settings.broker == RABBITMQ:
        broker = [p for n in rabbitmq.known_nodes(settings) if (p := rabbitmq.node_pid(n))]
        name = "RabbitMQ"
    else:
        broker = [p] if (p := mosquitto.pid(settings)) else []
        name = "Mosquitto"
    try:
        head = (postgres.Paths(settings.home).data / "postmaster.pid").read_text().split()
        pg = [int(head[0]), *children(int(head[0]))]
    except (FileNotFoundError, IndexError, ValueError):
        pg = []
    return {name: broker, "PostgreSQL": pg, "ingest": [ingest], "engine": [engine]}


def sample(pids: Mapping[str, list[int]]) -> Sample:
    return {part: {p: s for p in ps if (s := cpu_seconds(p)) is not None}
            for part, ps in pids.items()}


def shares(before: Sample, after: Sample, seconds: float) -> dict[str, float]:
    """Each part's CPU between the samples, of one core."""
    return {part: sum(s - before.get(part, {}).get(p, 0.0) for p, s in now.items())
            / max(seconds, 1e-9) for part, now in after.items()}


def line(used: Mapping[str, float], devices: float) -> str:
    cores = os.cpu_count() or 1
    parts_ = ", ".join(f"{k} {v:.0%}" for k, v in [*used.items(), ("devices", devices)])
    total = sum(used.values()) + devices
    return (f"  CPU from the first publication until every set was seen scored, of one core:"
            f" {parts_}; in all {total:.0%} of {cores * 100} %")

