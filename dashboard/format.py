"""Pure text and time helpers for the dashboard: how long ago, the ward's
local time (zoneinfo, so right across the clock changes), the values of the
vital signs as a clinician writes them, and time-axis ticks in local time.

Times reach here as aware datetimes (UTC from the database); no clock is
read here: ``now`` is passed in."""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts import ALERT_KINDS
from ward import durations
from ward.domain import ACVPU

FALLBACK_ZONE = "UTC"

# Candidate tick spacings for a time axis, shortest first.
_TICK_STEPS = (
    timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=15),
    timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), timedelta(hours=3),
    timedelta(hours=6), timedelta(hours=12), timedelta(days=1), timedelta(days=2),
    timedelta(days=7),
)


@functools.lru_cache(maxsize=64)
def zone(name: str | None) -> ZoneInfo:
    """The ward's time zone; an unknown name falls back to UTC rather than
    breaking the page (the label then says UTC, so nobody is misled)."""
    try:
        return ZoneInfo(name or FALLBACK_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(FALLBACK_ZONE)


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: the ward stores times in UTC, pass them aware")
    return t


def to_local(t: datetime, tz: str | None) -> datetime:
    """An aware time in the ward's zone."""
    return _aware(t).astimezone(zone(tz))


def local_text(t: datetime | None, tz: str | None, *, date: bool = True,
               seconds: bool = False) -> str:
    """'Sun 25 Oct 01:30 GMT': the zone's abbreviation tells BST from GMT in
    the hour that happens twice."""
    if t is None:
        return "—"
    local = to_local(t, tz)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    pattern = f"%a %d %b {clock} %Z" if date else f"{clock} %Z"
    return local.strftime(pattern)


def ago(then: datetime | None, now: datetime) -> str:
    """'just now', '40 s ago', '5 min ago', '2 h 5 min ago', '3 d ago', 'never'."""
    if then is None:
        return "never"
    seconds = (_aware(now) - _aware(then)).total_seconds()
    if seconds < -60:
        return f"in {_span(-seconds)} (clock ahead)"
    if seconds < 10:
        return "just now"
    return f"{_span(seconds)} ago"


# From 6 h on, hours alone; from 3 d on, days alone: '2 h 5 min', '13 h', '1 d 3 h',
# '10 d', as the dashboard said them before they were formatted by ward/durations.py.
_ROUGHLY_FROM = {"h": 6, "d": 3}


def _span(seconds: float) -> str:
    """To the minute in the first hours, then coarser, as a clinician says how
    long ago (ward/durations.py): a set 13 h ago or a review in 10 d is read
    in hours or days, its minutes would only be noise on a ward's board."""
    return durations.text(seconds, finest="min", alone_from=_ROUGHLY_FROM)


def age_text(age: timedelta | None) -> str:
    """A value's age, short enough for a grid cell: '<1 min', '40 min', '11 h',
    '3 d'; '' when unknown.  Whole units, rounded down: never younger than it is
    by more than the unit."""
    if age is None:
        return ""
    seconds = age.total_seconds()
    if seconds < 60:
        return "<1 min" if seconds > -60 else "ahead"
    return durations.text(seconds, parts=1)


def duration_text(seconds: float | None) -> str:
    """A length of time for the ward's figures: '45 s', '12 min', '3 h'."""
    if seconds is None or math.isnan(seconds):
        return "—"
    return _span(max(seconds, 0.0))


# ---------------------------------------------------------------- vital signs

def vital_text(parameter: str, value: float | None) -> str:
    """A value as the chart writes it; '' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if parameter == "consciousness":
        code = round(value)
        return ACVPU[code] if 0 <= code < len(ACVPU) else "?"
    if parameter == "on_oxygen":
        return "O₂" if value >= 0.5 else "Air"
    if parameter == "breathlessness":  # the questionnaire: more breathless than usual?
        return "Yes" if value >= 0.5 else "No"
    if parameter == "temperature":
        return f"{value:.1f}"
    return f"{value:.0f}"


def battery_text(battery: float | None) -> str:
    return "—" if battery is None else f"{battery:.0f} %"


def kind_text(kind: str) -> str:
    """An alert kind in words: the engine's title ('retrospective' -> 'Found in late
    readings', 'review_due' -> 'Setting review due'), 'NEWS2' for news2; an unknown
    kind spelled out ('spo2_low' -> 'SpO2 low')."""
    if kind.lower() == "news2":
        return "NEWS2"
    if kind in ALERT_KINDS:
        return ALERT_KINDS[kind].title
    text = kind.replace("_", " ").replace("-", " ").strip()
    text = text.replace("news2", "NEWS2").replace("spo2", "SpO2")
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- time axis

def tick_step(span: timedelta, target: int = 8) -> timedelta:
    """The shortest spacing that puts at most ``target`` ticks on ``span``."""
    for step in _TICK_STEPS:
        if span / step <= target:
            return step
    return _TICK_STEPS[-1] * math.ceil(span / (_TICK_STEPS[-1] * target))


def local_ticks(start: datetime, end: datetime, tz: str | None,
                target: int = 8) -> list[tuple[datetime, str]]:
    """Ticks for a time axis plotted in UTC and labelled in the ward's wall
    time: (naive UTC position, label), at round local times.

    Across a clock change the axis stays linear in real time: the skipped
    hour has no tick, the repeated one has two, each labelled with its zone
    abbreviation (01:00 BST, then 01:00 GMT).  The date is shown at the
    first tick of each local day, the zone whenever it changes.
    """
    _aware(start), _aware(end)
    if end <= start:
        return []
    tzinfo = zone(tz)
    step = tick_step(end - start, target)
    wall = _floor_wall(start.astimezone(tzinfo).replace(tzinfo=None), step)
    last_wall = end.astimezone(tzinfo).replace(tzinfo=None) + timedelta(hours=2)
    ticks: list[tuple[datetime, str]] = []
    prev: datetime | None = None
    while wall <= last_wall:
        for instant in _instants(wall, tzinfo):
            if start <= instant <= end:
                ticks.append((instant.astimezone(UTC).replace(tzinfo=None),
                              _tick_label(instant.astimezone(tzinfo), prev, step)))
                prev = instant.astimezone(tzinfo)
        wall += step
    return ticks


def _floor_wall(wall: datetime, step: timedelta) -> datetime:
    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        return midnight
    seconds = (wall - midnight).total_seconds()
    return midnight + timedelta(seconds=seconds - seconds % step.total_seconds())


def _instants(wall: datetime, tzinfo: ZoneInfo) -> list[datetime]:
    """The real instants (aware) at which the clocks of ``tzinfo`` show
    ``wall``: none in a spring-forward gap, two in a fall-back hour."""
    out: list[datetime] = []
    for fold in (0, 1):
        aware = wall.replace(tzinfo=tzinfo, fold=fold)
        utc = aware.astimezone(UTC)
        if utc.astimezone(tzinfo).replace(tzinfo=None) != wall:
            continue  # does not exist on this day's clocks
        if all(utc != o for o in out):
            out.append(utc)
    return out


def _tick_label(local: datetime, prev: datetime | None, step: timedelta) -> str:
    new_day = prev is None or local.date() != prev.date()
    new_zone = prev is None or local.tzname() != prev.tzname()
    if step >= timedelta(days=1):
        return local.strftime("%a %d %b") + (f" ({local.tzname()})" if new_zone else "")
    label = local.strftime("%H:%M")
    if new_zone:
        label += f" {local.tzname()}"
    if new_day:
        label += local.strftime("<br>%a %d %b")
    return label
