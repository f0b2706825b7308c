"""What `vward bench realtime` makes of its measurements, pure: percentiles,
one load's figures, which loads the ward held, and the printed table.

No clock, no I/O: the edge (benchmarks/realtime.py) passes delays [s] in."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

# Alert events caused by the set their condition names (an update or a
# resolution may name an earlier one).
EVENTS_MEASURED = ("opened", "escalated")
# Issue 12's target: a set's score stored within 600 ms of its publication, at p99.
P99_LIMIT_MS = 600.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the smallest value with at least p % of them at
    or below it); NaN for no values.  p in [0, 100]."""
    if not values:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0-100")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Delays:
    """p50, p99 and max of a list of delays [ms], and how many there were."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @staticmethod
    def of(seconds: Sequence[float]) -> Delays:
        ms = [1000.0 * s for s in seconds]
        return Delays(len(ms), percentile(ms, 50), percentile(ms, 99),
                      max(ms) if ms else math.nan)


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """One load: `patients` devices each publishing a set a second for `seconds`.

    published : sets the devices published (stamped with their publish time).
    scored : those whose score was stored within the wait after publishing.
    score : publish → stored score (`scores.scored_at` minus the publish time).
    alerts : publish → alert event received by an MQTT subscriber, for the events
        whose condition is one of the published sets.
    rate : sets scored per second, from the first publication to the last score
        stored [/s].  publish_lag_p99_ms : how late the devices published against
        their schedule (a busy publisher lowers the offered load).
    """

    patients: int
    seconds: float
    published: int
    scored: int
    score: Delays
    alerts: Delays
    rate: float
    publish_lag_p99_ms: float

    @property
    def unscored(self) -> int:
        return self.published - self.scored

    def as_record(self) -> dict[str, float]:
        """The figures as flat numbers, for the results file (to 0.1 ms and 0.1/s)."""
        return {"patients": self.patients, "seconds": self.seconds,
                "published": self.published, "scored": self.scored,
                "score_p50_ms": round(self.score.p50_ms, 1),
                "score_p99_ms": round(self.score.p99_ms, 1),
                "score_max_ms": round(self.score.max_ms, 1), "rate": round(self.rate, 1),
                "alert_events": self.alerts.count, "alert_p50_ms": round(self.alerts.p50_ms, 1),
                "alert_p99_ms": round(self.alerts.p99_ms, 1),
                "alert_max_ms": round(self.alerts.max_ms, 1),
                "publish_lag_p99_ms": round(self.publish_lag_p99_ms, 1)}


def held(f: LoadFigures, limit_ms: float = P99_LIMIT_MS) -> bool:
    """The ward held this load: every published set scored, p99 under the limit."""
    return f.published > 0 and f.unscored == 0 and f.score.p99_ms < limit_ms


def largest_held(loads: Sequence[LoadFigures], limit_ms: float = P99_LIMIT_MS) -> int | None:
    """The most patients of a load held (`held`), or None when none was."""
    return max((f.patients for f in loads if held(f, limit_ms)), default=None)


def sustained_rate(scored: int, first_publish: float, last_scored: float) -> float:
    """Sets scored per second from the first publication to the last stored score
    [epoch s both]; 0 when nothing was scored."""
    span = last_scored - first_publish
    return scored / span if scored and span > 0 else 0.0


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def load_figures(n: int, seconds: float, sets: Mapping[tuple[str, datetime], float],
                 lag_s: Sequence[float], scored: Mapping[tuple[str, datetime], float],
                 events: Iterable[tuple]) -> LoadFigures:
    """One load's figures from what was published, scored and received.

    sets : (patient, set time) → publish time [epoch s] (the set time is the
    publish time).  lag_s : how late each set was published [s].  scored :
    (patient, set time) → its first `scored_at` [epoch s].  events : (received
    [epoch s], event, patient, condition_time ISO) of the alert events that
    arrived; only EVENTS_MEASURED ones whose condition is a published set count."""
    score_delays = [scored[k] - sent for k, sent in sets.items() if k in scored]
    alert_delays = []
    for received, event, patient, condition in events:
        key = (patient, _parse_time(condition))
        if event in EVENTS_MEASURED and key in sets:
            alert_delays.append(received - sets[key])
    first = min(sets.values(), default=0.0)
    last = max((scored[k] for k in sets if k in scored), default=first)
    return LoadFigures(n, seconds, len(sets), len(score_delays), Delays.of(score_delays),
                       Delays.of(alert_delays), sustained_rate(len(score_delays), first, last),
                       percentile([1000 * s for s in lag_s], 99))


def _ms(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:,.0f}"


HEADER = (f"{'patients':>8} {'sets':>8} {'scored':>8}  {'score p50':>9} {'p99':>7} {'max':>7}"
          f"  {'rate/s':>7}  {'alerts':>6} {'p50':>6} {'p99':>6} {'max':>6}  {'pub lag p99':>11}")


def table_line(f: LoadFigures) -> str:
    """One row of the table under HEADER (times in ms)."""
    mark = "" if held(f) else "  (not held)"
    return (f"{f.patients:>8,} {f.published:>8,} {f.scored:>8,}  {_ms(f.score.p50_ms):>9}"
            f" {_ms(f.score.p99_ms):>7} {_ms(f.score.max_ms):>7}  {f.rate:>7,.0f}"
            f"  {f.alerts.count:>6,} {_ms(f.alerts.p50_ms):>6} {_ms(f.alerts.p99_ms):>6}"
            f" {_ms(f.alerts.max_ms):>6}  {_ms(f.publish_lag_p99_ms):>11}{mark}")


def verdict(loads: Sequence[LoadFigures], limit_ms: float = P99_LIMIT_MS) -> str:
    best = largest_held(loads, limit_ms)
    if best is None:
        return f"largest load held with p99 publish → score under {limit_ms:.0f} ms: none"
    return (f"largest load held with p99 publish → score under {limit_ms:.0f} ms:"
            f" {best:,} patients × 1 set/s")
