"""Capacity and flow, pure (issue 14, item 5): what NHS England asks a virtual
ward to report each month, from the ward's stays and capacity changes.  No
clock, no database (ward/flow_store.py reads; the dashboard and the API's CSV
show).  Days are days of the ward's own time zone: a day of a clock change is
23 or 25 hours long, and a patient on the ward all that day fills one bed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

import numpy as np

from ward.errors import WardError

SOURCES = ("step-up", "step-down")
OUTCOMES = ("home", "hospital", "died")
# NHS England's readmission measure: an admission to hospital within 30 days of
# the discharge from the virtual ward (day 30 included).
READMISSION_DAYS = 30
# Length of stay in whole days (discharge date minus admission date): a stay
# begun and ended the same day is 0.  Stays of LOS_CAP days or more share a bar.
LOS_CAP = 21
TABLES = ("occupancy", "admissions", "discharges", "los", "capacity")


@dataclass(frozen=True, slots=True)
class Stay:
    patient_id: str
    admitted_at: datetime
    discharged_at: datetime | None
    source: str | None
    outcome: str | None
    readmitted_on: date | None


@dataclass(frozen=True, slots=True)
class CapacityChange:
    valid_from: date
    beds: int
    set_by: str
    set_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    capacity: int | None
    patients: int          # on the ward at some time of the day
    occupied_beds: float   # patient-hours / the day's hours
    admissions: int
    discharges: int

    @property
    def occupancy(self) -> float | None:
        """Occupied beds / capacity [1]; None without a capacity."""
        return self.occupied_beds / self.capacity if self.capacity else None


@dataclass(frozen=True, slots=True)
class Month:
    ward_id: str
    month: str
    days: tuple[Day, ...]
    admitted: tuple[Stay, ...]      # admitted in the month
    discharged: tuple[Stay, ...]    # discharged in the month
    los_days: tuple[int, ...]       # of the discharged, in their order
    capacity_changes: tuple[CapacityChange, ...]  # in force in the month, or made in it


def month_days(month: str) -> tuple[date, ...]:
    """The calendar days of a month written 2026-11, or a WardError saying why not."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1970:
        raise WardError(f"not a month: {month!r} (write it as YYYY-MM, e.g. 2026-11)")
    first = date(int(m[1]), int(m[2]), 1)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return tuple(first + timedelta(days=i) for i in range((after - first).days))


def day_edges(days: Sequence[date], tz: ZoneInfo) -> list[datetime]:
    """Local midnights from the first day to the day after the last, aware:
    len(days) + 1 edges (a day between clock changes is 23, 24 or 25 hours)."""
    return [datetime.combine(d, time(), tzinfo=tz)
            for d in (*days, days[-1] + timedelta(days=1))]


def _seconds(ts: Sequence[datetime | None], missing: float) -> np.ndarray:
    return np.array([t.timestamp() if t is not None else missing for t in ts], dtype=np.float64)


def occupancy(admitted: Sequence[datetime], discharged: Sequence[datetime | None],
              edges: Sequence[datetime]) -> tuple[np.ndarray, np.ndarray]:
    """Per day between consecutive `edges`: patients on the ward at some time
    of it [1], and occupied beds, each patient's time on the ward that day
    over the day's length [1].  A stay is [admitted, discharged); discharged
    None: still on the ward.  A patient admitted and discharged within a day
    is on it (however short the stay); one discharged at midnight is not on
    the day that midnight begins."""
    a = _seconds(admitted, 0.0)[:, None]
    d = _seconds(discharged, np.inf)[:, None]
    e = _seconds(edges, 0.0)
    start, end = e[None, :-1], e[None, 1:]
    present = (a < end) & ((d > start) | ((d == a) & (a >= start)))
    overlap = np.clip(np.minimum(d, end) - np.maximum(a, start), 0.0, None)
    return present.sum(axis=0), (overlap / (end - start)).sum(axis=0)


def capacity_by_day(changes: Sequence[CapacityChange], days: Sequence[date]) -> list[int | None]:
    """The beds in force each day: the change with the latest `valid_from` on or
    before it (the latest set among changes from the same day); None before the
    first."""
    ordered = sorted(changes, key=lambda c: (c.valid_from, c.set_at))
    out: list[int | None] = []
    for d in days:
        beds = None
        for c in ordered:
            if c.valid_from > d:
                break
            beds = c.beds
        out.append(beds)
    return out


def local_day(t: datetime, tz: ZoneInfo) -> date:
    return t.astimezone(tz).date()


def los_days(stay: Stay, tz: ZoneInfo) -> int:
    """Length of a finished stay in whole days of the ward's calendar: 0 for a
    stay begun and ended the same day."""
    if stay.discharged_at is None:
        raise ValueError(f"patient {stay.patient_id} is still on the ward")
    return (local_day(stay.discharged_at, tz) - local_day(stay.admitted_at, tz)).days


def los_histogram(los: Sequence[int]) -> list[tuple[str, int]]:
    """Stays per length: one bar per day 0 .. LOS_CAP-1, then LOS_CAP or more."""
    counts = np.bincount(np.minimum(np.asarray(los, dtype=np.int64), LOS_CAP),
                         minlength=LOS_CAP + 1)
    return [(str(i) if i < LOS_CAP else f"{LOS_CAP}+", int(n)) for i, n in enumerate(counts)]


def readmission_problem(discharged_on: date, readmitted_on: date, outcome: str | None,
                        today: date) -> str | None:
    """Why a readmission on `readmitted_on` cannot be recorded for a patient
    discharged on `discharged_on` (both days of the ward's calendar), or None."""
    if outcome == "died":
        return "the patient died on the virtual ward"
    if outcome == "hospital":
        return "the patient was discharged to hospital: that is the discharge's outcome already"
    if readmitted_on > today:
        return f"{readmitted_on} is in the future"
    if readmitted_on < discharged_on:
        return f"{readmitted_on} is before the discharge on {discharged_on}"
    if not readmitted_within(discharged_on, readmitted_on):
        return (f"{readmitted_on} is {(readmitted_on - discharged_on).days} days after the"
                f" discharge on {discharged_on}: only readmissions within {READMISSION_DAYS}"
                " days are recorded")
    return None


def readmitted_within(discharged_on: date, readmitted_on: date | None,
                      days: int = READMISSION_DAYS) -> bool:
    """Readmitted to hospital within `days` of the discharge (day `days` included)."""
    return readmitted_on is not None and 0 <= (readmitted_on - discharged_on).days <= days


def month(ward_id: str, month_text: str, tz: ZoneInfo, stays: Sequence[Stay],
          changes: Sequence[CapacityChange], *, now: datetime) -> Month:
    """A month of the ward's flow from every stay that overlaps it and every
    capacity change (ward/flow_store.py reads them), as known at `now`: the
    current month's days run to today, a patient still on the ward fills
    their bed until `now` (today so far), never beyond."""
    today = local_day(now, tz)
    days = tuple(d for d in month_days(month_text) if d <= today)
    if not days:
        raise WardError(f"{month_text} is still to come on the ward's calendar (today is"
                        f" {today})")
    edges = day_edges(days, tz)
    stays = sorted(stays, key=lambda s: (s.admitted_at, s.patient_id))
    if stays:
        patients, beds = occupancy([s.admitted_at for s in stays],
                                   [s.discharged_at or max(now, s.admitted_at) for s in stays],
                                   edges)
    else:
        patients, beds = np.zeros(len(days), np.int64), np.zeros(len(days))
    adm = [local_day(s.admitted_at, tz) for s in stays]
    dis = [local_day(s.discharged_at, tz) if s.discharged_at else None for s in stays]
    capacity = capacity_by_day(changes, days)
    rows = tuple(Day(d, capacity[i], int(patients[i]), float(beds[i]), adm.count(d), dis.count(d))
                 for i, d in enumerate(days))
    first, last = days[0], days[-1]
    admitted = tuple(s for s, d in zip(stays, adm, strict=True) if first <= d <= last)
    discharged = tuple(sorted((s for s, d in zip(stays, dis, strict=True)
                               if d is not None and first <= d <= last),
                              key=lambda s: (s.discharged_at, s.patient_id)))
    in_force = [c for c in changes if c.valid_from <= last]
    before = [c for c in in_force if c.valid_from < first]
    keep = ([max(before, key=lambda c: (c.valid_from, c.set_at))] if before else []) + [
        c for c in sorted(changes, key=lambda c: (c.valid_from, c.set_at))
        if first <= c.valid_from <= last or first <= local_day(c.set_at, tz) <= last]
    return Month(ward_id, month_text, rows, admitted, discharged,
                 tuple(los_days(s, tz) for s in discharged), tuple(dict.fromkeys(keep)))


def median_los(m: Month) -> float | None:
    return float(median(m.los_days)) if m.los_days else None


def sources(m: Month) -> list[tuple[str, int]]:
    """Admissions in the month by where they came from, 'not recorded' last."""
    return [(s, sum(a.source == s for a in m.admitted)) for s in SOURCES] + [
        ("not recorded", sum(a.source is None for a in m.admitted))]


def outcomes(m: Month, tz: ZoneInfo) -> list[tuple[str, int]]:
    """Discharges in the month by where the patient went, then those readmitted
    to hospital within READMISSION_DAYS (as recorded so far)."""
    return [(o, sum(s.outcome == o for s in m.discharged)) for o in OUTCOMES] + [
        ("not recorded", sum(s.outcome is None for s in m.discharged)),
        (f"readmitted within {READMISSION_DAYS} days", readmissions(m, tz))]


def readmissions(m: Month, tz: ZoneInfo) -> int:
    return sum(readmitted_within(local_day(s.discharged_at, tz), s.readmitted_on)
               for s in m.discharged if s.discharged_at is not None)


def table(m: Month, name: str, tz: ZoneInfo) -> tuple[list[str], list[list[object]]]:
    """One of TABLES as a header and rows, for a CSV file."""
    def iso(t: datetime | None) -> str:
        return t.astimezone(tz).isoformat(timespec="seconds") if t else ""

    if name == "occupancy":
        return (["date", "capacity_beds", "patients", "occupied_beds", "occupancy_pct",
                 "admissions", "discharges"],
                [[d.day.isoformat(), "" if d.capacity is None else d.capacity, d.patients,
                  round(d.occupied_beds, 2),
                  "" if d.occupancy is None else round(100 * d.occupancy, 1),
                  d.admissions, d.discharges] for d in m.days])
    if name == "admissions":
        return (["patient_id", "admitted_at", "source"],
                [[s.patient_id, iso(s.admitted_at), s.source or "not recorded"]
                 for s in m.admitted])
    if name == "discharges":
        return (["patient_id", "admitted_at", "discharged_at", "los_days", "outcome",
                 "readmitted_on", f"readmitted_within_{READMISSION_DAYS}_days"],
                [[s.patient_id, iso(s.admitted_at), iso(s.discharged_at), los,
                  s.outcome or "not recorded", s.readmitted_on or "",
                  "yes" if s.discharged_at and readmitted_within(
                      local_day(s.discharged_at, tz), s.readmitted_on) else "no"]
                 for s, los in zip(m.discharged, m.los_days, strict=True)])
    if name == "los":
        return (["los_days", "stays"], [[b, n] for b, n in los_histogram(m.los_days)])
    if name == "capacity":
        return (["valid_from", "beds", "set_by", "set_at", "reason"],
                [[c.valid_from.isoformat(), c.beds, c.set_by, iso(c.set_at), c.reason]
                 for c in m.capacity_changes])
    raise WardError(f"no table {name!r}: one of {', '.join(TABLES)}")
