"""Is alerting running?  The one judgement of the ward's heartbeats, pure, shared
by `GET /api/v1/health`, `vward status` and the dashboard's banner.

If `vward alerts` dies there are no new alerts, no overdue checks and no
escalations, and a quiet ward looks exactly like a well one (issue 8, finding
7).  So every engine records each tick it completes (ward/heartbeats.py) and
this module says, from those rows alone, whether that has stopped and since
when.  The rules:

* An engine *ticks* while its latest completed tick is younger than
  ``STOPPED_AFTER`` of the intervals it recorded (its VWARD_ALERTS_TICK_SECONDS).
  An engine that beats without ticking is *waiting*: another engine of its ward
  set holds the tick (or its own tick is stuck).  One that has started and not
  yet ticked is *starting* for as long.
* Engines partition by ward.  A ward set is covered by every engine whose set
  contains it (an engine of every ward covers them all).  Alerting runs for a
  set while an engine covering it ticks or is starting; two engines of one set
  are a spare, and the death of one stops nothing.
* Alerting is *stopped* when a ward set that some engine has served is covered
  by none, or when no engine has ever run.  It stopped *since* the latest tick
  of an engine covering that set: the last time the checks are known to have
  run.  Nothing but heartbeats is needed, so an engine retired for good is
  forgotten by hand (`vward status --forget`).
* Times come from the database's clock, and ``now`` too.  A time more than
  ``SKEW_TOLERANCE`` ahead of ``now`` is not believed (a clock was stepped): it
  counts as no tick, so a wrong clock can raise the alarm, never hide it.

Ingest workers are reported (running while they beat) but never stop the
ward's health: a silent worker leaves patients without readings, and the
engine's overdue alerts are what say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ward import durations
from ward.records import HeartbeatRow

STOPPED_AFTER = 3  # intervals without a completed tick: alerting has stopped
SKEW_TOLERANCE = timedelta(seconds=5)  # a time further ahead than this is not believed
ALL_WARDS: tuple[str, ...] = ()

# Engine states.
TICKING, WAITING, STARTING, STOPPED = "ticking", "waiting", "starting", "stopped"


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether a service answered; ``detail`` is for the operator (it may name
    hosts and ports, never a password)."""

    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class EngineState:
    row: HeartbeatRow
    state: str  # TICKING, WAITING, STARTING or STOPPED
    tick: datetime | None  # the latest completed tick, if believed
    skewed: bool  # a time of this row is ahead of the database's clock

    @property
    def wards(self) -> tuple[str, ...]:
        return tuple(sorted(self.row.wards))

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.row.interval_seconds)


@dataclass(frozen=True, slots=True)
class WardSet:
    wards: tuple[str, ...]  # ALL_WARDS: every ward
    running: bool
    last_tick: datetime | None  # latest believed tick of an engine covering it


@dataclass(frozen=True, slots=True)
class Alerting:
    now: datetime
    engines: tuple[EngineState, ...]
    ward_sets: tuple[WardSet, ...]

    @property
    def stopped_sets(self) -> tuple[WardSet, ...]:
        return tuple(s for s in self.ward_sets if not s.running)

    @property
    def running(self) -> bool:
        return bool(self.engines) and not self.stopped_sets

    @property
    def since(self) -> datetime | None:
        """Stopped since: the earliest stop among the stopped ward sets (None
        when running, or when what stopped never ticked)."""
        ticks = [s.last_tick for s in self.stopped_sets if s.last_tick is not None]
        return None if self.running or not ticks else min(ticks)

    @property
    def last_tick(self) -> datetime | None:
        ticks = [e.tick for e in self.engines if e.tick is not None]
        return max(ticks) if ticks else None

    @property
    def headline(self) -> str:
        """The message without ward names (for a caller who is not signed in)."""
        if self.running or not self.engines:
            return self.message
        if self.since is None:
            return "alerting stopped: no engine has completed a check"
        return f"alerting stopped since {when(self.since, self.now)}"

    @property
    def message(self) -> str:
        if not self.engines:
            return ("alerting stopped: no alerts engine has ever run (start `vward alerts`):"
                    " no alerts, overdue checks or escalations")
        if self.running:
            return f"alerting running: last check {when(self.last_tick, self.now)}"
        parts = []
        for s in self.stopped_sets:
            where = "" if s.wards == ALL_WARDS else f" for wards {', '.join(s.wards)}"
            parts.append(f"alerting stopped since {when(s.last_tick, self.now)}{where}"
                         if s.last_tick else f"alerting stopped{where}: no engine has completed"
                         " a check")
        return "; ".join(parts) + ": no new alerts, overdue checks or escalations"


@dataclass(frozen=True, slots=True)
class IngestState:
    row: HeartbeatRow
    running: bool


@dataclass(frozen=True, slots=True)
class NotifierState:
    """A `vward notifier` (issue 13): running while it beats.  One that stopped
    leaves the dashboard alerting but pages nobody: the ward is degraded."""

    row: HeartbeatRow
    running: bool


@dataclass(frozen=True, slots=True)
class Health:
    now: datetime
    database: Probe
    broker: Probe
    alerting: Alerting | None  # None: the database could not be read
    ingest: tuple[IngestState, ...]
    notifiers: tuple[NotifierState, ...] = ()

    @property
    def status(self) -> str:
        """database_unreachable and alerting_stopped fail the check (HTTP 503,
        `vward status` exits 1); degraded is a part down that stops no alert."""
        if not self.database.ok or self.alerting is None:
            return "database_unreachable"
        if not self.alerting.running:
            return "alerting_stopped"
        if (not self.broker.ok or not all(w.running for w in self.ingest)
                or not all(n.running for n in self.notifiers)
                or any(e.state == STOPPED for e in self.alerting.engines)):
            return "degraded"
        return "ok"

    @property
    def failing(self) -> bool:
        return self.status in ("database_unreachable", "alerting_stopped")

    @property
    def message(self) -> str:
        if self.alerting is None:
            return "database unreachable: whether alerting runs cannot be known"
        return self.alerting.message


# ---------------------------------------------------------------- the judgement

def judge_alerting(rows: Iterable[HeartbeatRow], now: datetime) -> Alerting:
    """Alerting from the engines' rows, at ``now`` (the database's clock)."""
    engines = tuple(_engine(r, now) for r in rows if r.component == "alerts")
    sets = []
    for wards in sorted({e.wards for e in engines}):
        covering = [e for e in engines if _covers(e.wards, wards)]
        ticks = [e.tick for e in covering if e.tick is not None]
        sets.append(WardSet(wards, any(e.state in (TICKING, STARTING) for e in covering),
                            max(ticks) if ticks else None))
    return Alerting(now, engines, tuple(sets))


def judge_ingest(rows: Iterable[HeartbeatRow], now: datetime) -> tuple[IngestState, ...]:
    return tuple(IngestState(r, r.stopped_at is None and _fresh(r.beat_at, r, now))
                 for r in rows if r.component == "ingest")


def assess(rows: Sequence[HeartbeatRow] | None, now: datetime, *, database: Probe,
           broker: Probe) -> Health:
    """The ward's health: ``rows`` None when the database could not be read."""
    if rows is None:
        return Health(now, database, broker, None, ())
    return Health(now, database, broker, judge_alerting(rows, now), judge_ingest(rows, now),
                  judge_notifiers(rows, now))


def judge_notifiers(rows: Iterable[HeartbeatRow], now: datetime) -> tuple[NotifierState, ...]:
    return tuple(NotifierState(r, r.stopped_at is None and _fresh(r.beat_at, r, now))
                 for r in rows if r.component == "notifier")


def _engine(r: HeartbeatRow, now: datetime) -> EngineState:
    limit = STOPPED_AFTER * timedelta(seconds=r.interval_seconds)
    tick = believed(r.last_tick_at, now)
    skewed = any(t is not None and believed(t, now) is None
                 for t in (r.last_tick_at, r.beat_at, r.started_at))
    beating = r.stopped_at is None and _fresh(r.beat_at, r, now)
    if r.stopped_at is not None:
        state = STOPPED  # stopped cleanly: its last tick was its last
    elif tick is not None and now - tick < limit:
        state = TICKING
    elif beating and (tick is None or tick < r.started_at) and _fresh(r.started_at, r, now):
        state = STARTING
    else:
        state = WAITING if beating else STOPPED
    return EngineState(r, state, tick, skewed)


def _fresh(t: datetime, r: HeartbeatRow, now: datetime) -> bool:
    seen = believed(t, now)
    return seen is not None and now - seen < STOPPED_AFTER * timedelta(seconds=r.interval_seconds)


def believed(t: datetime | None, now: datetime) -> datetime | None:
    """``t``, unless it lies more than SKEW_TOLERANCE ahead of ``now``; a time
    a little ahead (clocks read a moment apart) is taken as ``now``."""
    if t is None or t - now > SKEW_TOLERANCE:
        return None
    return min(t, now)


def _covers(engine: tuple[str, ...], wards: tuple[str, ...]) -> bool:
    return engine == ALL_WARDS or (wards != ALL_WARDS and set(wards) <= set(engine))


# ---------------------------------------------------------------- words for people

def age(delta: timedelta) -> str:
    """'0.4 s', '42 s', '4 min 3 s', '2 h 5 min', '3 d 4 h'."""
    s = delta.total_seconds()
    if s < 0:
        return f"{age(-delta)} ahead"
    if s < 10:  # beats come every few seconds: tenths tell a late one
        return f"{s:.1f} s"
    return durations.text(s, zeros=True)  # to the second, both parts: beats are compared


def when(t: datetime | None, now: datetime) -> str:
    """'08:00:05Z (4 min 3 s ago)', with the date when it is not today's (UTC)."""
    if t is None:
        return "never"
    t_utc = t.astimezone(UTC)
    stamp = (f"{t_utc:%H:%M:%S}Z" if t_utc.date() == now.astimezone(UTC).date()
             else f"{t_utc:%Y-%m-%d %H:%M:%S}Z")
    return f"{stamp} ({age(now - t)} ago)" if t <= now else f"{stamp} ({age(now - t)})"


def status_lines(h: Health) -> list[str]:
    """`vward status`: one line per part, its state first, then times and ages."""
    lines = [_line("database", "OK" if h.database.ok else "UNREACHABLE",
                   f"{h.database.detail}; its clock {h.now:%Y-%m-%d %H:%M:%S}Z"
                   if h.database.ok else h.database.detail),
             _line("broker", "OK" if h.broker.ok else "UNREACHABLE", h.broker.detail)]
    if h.alerting is not None:
        a = h.alerting
        lines.append(_line("alerting", "OK" if a.running else "STOPPED", a.message))
        lines += [_line("engine", "STOPPED" if e.state == STOPPED else "OK", _engine_text(e, h.now))
                  for e in a.engines]
        lines += [_line("ingest", "OK" if w.running else "STOPPED", _ingest_text(w, h.now))
                  for w in h.ingest]
        if not h.ingest:
            lines.append(_line("ingest", "NONE", "no ingest worker has ever run"))
        lines += [_line("notifier", "OK" if n.running else "STOPPED",
                        f"{_who(n.row)}: {n.row.messages or 0:,} notifications planned since"
                        f" start; {_since_start(n.row, h.now)}") for n in h.notifiers]
    lines.append(f"ward: {h.status.replace('_', ' ').upper()}")
    return lines


def _line(part: str, state: str, text: str) -> str:
    return f"{part:<9} {state:<11} {text}"


def _who(r: HeartbeatRow) -> str:
    return f"{r.instance_id} (pid {r.pid} on {r.host}, every {r.interval_seconds:g} s)"


def _since_start(r: HeartbeatRow, now: datetime) -> str:
    if r.stopped_at is not None:
        return f"stopped cleanly at {when(r.stopped_at, now)}"
    return f"beat {when(r.beat_at, now)}, started {when(r.started_at, now)}"


def _engine_text(e: EngineState, now: datetime) -> str:
    wards = "all wards" if e.wards == ALL_WARDS else f"wards {', '.join(e.wards)}"
    doing = {TICKING: "ticking", STARTING: "starting",
             WAITING: "beating without ticking (another engine of its wards holds the tick)",
             STOPPED: "no heartbeat"}[e.state]
    skew = "; a time ahead of the database's clock, not believed" if e.skewed else ""
    return (f"{_who(e.row)} {wards}: {doing}; last tick {when(e.row.last_tick_at, now)};"
            f" {_since_start(e.row, now)}{skew}")


def _ingest_text(w: IngestState, now: datetime) -> str:
    r = w.row
    broker = {True: "broker connected", False: "BROKER DISCONNECTED", None: "broker unknown"}
    return (f"{_who(r)}: last batch {when(r.last_batch_at, now)}; {r.messages or 0:,} messages,"
            f" {r.readings or 0:,} readings since start; {broker[r.broker_connected]};"
            f" {_since_start(r, now)}")
