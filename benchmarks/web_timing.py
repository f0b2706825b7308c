"""What `vward bench web` times and how, shared by its API part (web.py) and
its dashboard part (web_dashboard.py), so that neither imports the other for
it: the seeded ward, one timed read, and the loop that measures it.

The loop alternates a request with the same SQL alone, so that both see the
same load on a busy machine; the app's own time is read from its
`Server-Timing` header (time inside the app up to its first byte)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

_WARM_UP = 2  # rounds not counted: plans, caches


@dataclass(frozen=True, slots=True)
class Seed:
    """What the benchmark stored, for whoever times pages over it."""

    ward_id: str
    patient_ids: list[str]
    week_patient: str  # the one with 7 days of one-minute data
    now: datetime


@dataclass(slots=True)
class Timing:
    label: str
    server_ms: float  # median Server-Timing
    client_ms: float  # median round trip
    sql_ms: float | None  # median of the SQL alone
    note: str = ""
    samples: list[float] = field(default_factory=list)


def median_ms(samples: list[float]) -> float:
    """Median of samples [s], in [ms]."""
    return statistics.median(samples) * 1000


def time_request(request: Callable[[], httpx.Response], label: str, reps: int, *,
                 sql: Callable[[], object] | None = None, note: str = "") -> Timing:
    """Median server and client time of ``request()``, and of ``sql()`` alone
    [ms].  The two alternate, request then SQL; the first rounds warm up."""
    server, client_side, sql_side = [], [], []
    for i in range(reps + _WARM_UP):
        t0 = time.perf_counter()
        r = request()
        elapsed = time.perf_counter() - t0
        r.raise_for_status()
        t1 = time.perf_counter()
        if sql is not None:
            sql()
        sql_elapsed = time.perf_counter() - t1
        if i >= _WARM_UP:
            server.append(float(r.headers["server-timing"].split("dur=")[1]) / 1000)
            client_side.append(elapsed)
            sql_side.append(sql_elapsed)
    return Timing(label, median_ms(server), median_ms(client_side),
                  median_ms(sql_side) if sql is not None else None, note, server)
