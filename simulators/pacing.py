"""Where a run sits in time, pure: its simulated start, the mapping between
real and simulated seconds, how late each send was, and the progress line.

Readings are stamped in simulated time and the ingest refuses a reading more
than max_future_seconds ahead of its own clock, so a run faster than real time
lies in the past: it starts `span` simulated seconds before the present, runs
at its speed until it has caught up with the present, and from there on in
real time (it never runs ahead of the present)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

# Without --duration a fast run covers this much simulated time before it
# reaches the present: long enough for the built-in courses to play out at
# speed (sepsis: 1.5-2.5 h), short of the scoring's 12 h freshness window so
# that the ward shows current scores from the first minute.
DEFAULT_CATCH_UP_S = 6 * 3600.0
# No run starts further back than this: the ingest refuses readings older
# than max_age_days (30 by default).
MAX_CATCH_UP_S = 7 * 86400.0

def catch_up_span(speed: float, duration_s: float | None) -> float:
    """How far before the present [s] a run at `speed` starts: with a
    duration, so that it ends at the present; without one, DEFAULT_CATCH_UP_S
    (none at speed <= 1).  At most MAX_CATCH_UP_S."""
    if speed <= 1:
        return 0.0
    span = (speed - 1.0) * duration_s if duration_s is not None else DEFAULT_CATCH_UP_S
    return min(span, MAX_CATCH_UP_S)


def choose_start(now: datetime, speed: float, duration_s: float | None) -> datetime:
    """The simulated start of a run that begins at real time `now`, to the second."""
    start = now - timedelta(seconds=catch_up_span(speed, duration_s))
    return start.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Real seconds since the run began <-> simulated seconds since its start.

    speed : simulated s per real s.  lead_s : how far the simulated start lies
    before the present when the run begins [s]; the simulated clock runs at
    `speed` until it reaches the present, then in real time.
    """

    speed: float
    lead_s: float

    def sim_at(self, real_s: float) -> float:
        """Simulated seconds since start at real_s [s] after the run began."""
        return max(0.0, min(self.speed * real_s, self.lead_s + real_s))

    def real_at(self, sim_s: float) -> float:
        """When, in real seconds after the run began, simulated second sim_s comes."""
        return max(sim_s / self.speed, sim_s - self.lead_s)

    @property
    def caught_up_at(self) -> float:
        """Real second at which the simulated clock reaches the present (inf: never)."""
        if self.speed <= 1:
            return 0.0 if self.lead_s <= 0 else float("inf")
        return max(0.0, self.lead_s / (self.speed - 1.0))


class LagRecorder:
    """How late sends were [s], for percentiles: keeps every value up to
    `capacity`, then a uniform sample of them (reservoir sampling)."""

    def __init__(self, capacity: int = 1_000_000, seed: int = 0) -> None:
        self._values = np.empty(capacity)
        self._n = 0
        self._rng = np.random.default_rng(seed)
        self.max = 0.0
        self.last = 0.0

    def add(self, lag_s: float) -> None:
        self.last = lag_s
        self.max = max(self.max, lag_s)
        cap = len(self._values)
        if self._n < cap:
            self._values[self._n] = lag_s
        else:
            j = int(self._rng.integers(0, self._n + 1))
            if j < cap:
                self._values[j] = lag_s
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def percentile(self, q: float) -> float:
        """The q-th percentile [s] (0 to 100); nan before any value."""
        if not self._n:
            return float("nan")
        return float(np.percentile(self._values[: min(self._n, len(self._values))], q))


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a run did.  Times in real seconds; lag: how late sends were."""

    devices: int
    connected: int  # at the end of sending
    # acked and refused: by the broker, including the acks waited for at the end
    failed: int  # devices the broker never let in
    sent: Counter[str]  # by kind: readings, status
    acked: int
    refused: int  # PUBACKs with a failure reason code
    connect_s: float
    run_s: float
    cpu_s: float  # this process's CPU while sending
    sim_seconds: float  # simulated time covered
    lag_p50_s: float
    lag_p99_s: float
    lag_max_s: float
    stopped_by: str  # "duration", "signal"


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a run, for the progress line and the final summary."""

    patients: int
    devices: int
    connected: int
    sent: int
    acked: int
    refused: int
    rate: float  # messages/s over the last interval
    sim_time: datetime
    speed: float
    lag_s: float  # how late the latest send was [s]
    dropped: int = 0  # devices offline on purpose (a fault)


def format_progress(p: Progress) -> str:
    refused = f", {p.refused:,} refused" if p.refused else ""
    dropped = f" ({p.dropped:,} offline on purpose)" if p.dropped else ""
    return (
        f"patients {p.patients:,} · devices {p.connected:,}/{p.devices:,} connected{dropped}"
        f" · sent {p.sent:,} (acked {p.acked:,}{refused}) · {p.rate:,.0f} msg/s"
        f" · sim {p.sim_time:%Y-%m-%d %H:%M:%S}Z ({p.speed:g}×) · lag {p.lag_s:.2f} s"
    )
