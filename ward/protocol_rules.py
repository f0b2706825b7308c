"""The protocols' rules as pure numpy functions over arrays (one element per
patient, or per reading with a patient index), in ward/ because two stages
need them: the alerts engine raises its alerts with them
(alerts/protocol_conditions.py) and the ward view shows the same figures
(the SpO2 level, the weight change) by the very rule the engine alerts on.
The tables are ward/protocols.py's; no clock read (``now`` passed in).

Bad input is refused with the reason, never guessed at: a value outside what a
body and a device can produce (ward/domain.py TYPES) or not finite is a
ValueError naming it; NaN means "no reading" and decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ward.domain import TYPES, ReadingType
from ward.news2_chart import BAND_SEVERITY
from ward.overdue import overdue, overdue_after
from ward.protocols import Gain, Protocol, Threshold
from ward.severity import Severity

# Weights are compared to the gram: 80.3 - 79.3 is 1.0000000000000142 in binary
# floating point, and must not count as "more than 1 kg".  A home scale shows
# 0.1 kg (some 0.05), so rounding the difference to 0.001 loses nothing real.
GAIN_DECIMALS = 3


def check_values(values: ArrayLike, reading: ReadingType) -> NDArray[np.float64]:
    """``values`` as float64, NaN kept (no reading); ValueError for a value that is
    not finite or outside the reading type's plausible range."""
    v = np.asarray(values, dtype=np.float64)
    info = TYPES[reading]
    bad = ~np.isnan(v) & ~((v >= info.low) & (v <= info.high))
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"{reading.value} {float(v[bad][0])!r} (rows {rows}) is not a plausible"
                         f" reading: {info.low:g}-{info.high:g} {info.unit}")
    return v


def threshold_level(values: ArrayLike, threshold: Threshold) -> NDArray[np.int8]:
    """Per value, the index of its level in ``threshold.levels`` (0: the worst);
    -1 for NaN (no reading).

    values : the latest reading per patient [the reading's unit]
    """
    v = check_values(values, threshold.reading)
    edges = np.asarray(threshold.edges, dtype=np.float64)
    below = np.asarray(threshold.at_or_below, dtype=bool)
    col = v[:, None]
    above = np.where(below, col > edges, col >= edges)  # edges the value has passed
    level = above.sum(axis=1).astype(np.int8)
    return np.where(np.isnan(v), np.int8(-1), level).astype(np.int8)


@dataclass(frozen=True, slots=True)
class GainResult:
    """Per patient: ``holds`` the rule, the ``latest`` value and its ``latest_time``,
    the ``lowest`` earlier value in the window and its ``lowest_time`` (NaN / NaT
    if none), and ``change`` = latest - lowest, to the gram (NaN if no pair)."""

    holds: NDArray[np.bool_]
    latest: NDArray[np.float64]
    latest_time: NDArray[np.datetime64]
    lowest: NDArray[np.float64]
    lowest_time: NDArray[np.datetime64]
    change: NDArray[np.float64]


def gain(patient: ArrayLike, time: ArrayLike, value: ArrayLike, rule: Gain, *,
         n_patients: int) -> GainResult:
    """Per patient: whether its latest value exceeds the lowest earlier value within
    ``rule.window + rule.slack`` before it by more than ``rule.rise``.

    patient : int array 0..n_patients-1;  time : datetime64 array;  value : [unit]
    Readings of one patient at one time: the last in input order is the latest.
    """
    p = np.asarray(patient, dtype=np.int64)
    t = np.asarray(time).astype("datetime64[us]")
    v = check_values(value, rule.reading)
    if not (len(p) == len(t) == len(v)):
        raise ValueError(f"{len(p)} patients, {len(t)} times, {len(v)} values")
    if len(p) and (p.min() < 0 or p.max() >= n_patients):
        raise ValueError(f"patient index out of 0..{n_patients - 1}")
    keep = ~np.isnan(v) & ~np.isnat(t)
    p, t, v = p[keep], t[keep], v[keep]
    order = np.lexsort((t, p))
    p, t, v = p[order], t[order], v[order]
    last = np.r_[p[1:] != p[:-1], True] if len(p) else np.zeros(0, bool)
    latest = np.full(n_patients, np.nan)
    latest_time = np.full(n_patients, np.datetime64("NaT"), dtype="datetime64[us]")
    latest[p[last]] = v[last]
    latest_time[p[last]] = t[last]
    reach = np.timedelta64(rule.window + rule.slack)
    end = latest_time[p]
    earlier = (t < end) & (t >= end - reach)
    lowest = np.full(n_patients, np.inf)
    np.fmin.at(lowest, p[earlier], v[earlier])
    lowest = np.where(np.isinf(lowest), np.nan, lowest)
    # The time of the lowest (the latest such reading when it repeats).
    lowest_time = np.full(n_patients, np.datetime64("NaT"), dtype="datetime64[us]")
    at = earlier & (v == lowest[p])
    lowest_time[p[at]] = t[at]
    change = np.round(latest - lowest, GAIN_DECIMALS)
    holds = np.nan_to_num(change, nan=-np.inf) > rule.rise
    return GainResult(holds, latest, latest_time, lowest, lowest_time, change)


def level_monitoring(protocol: Protocol, level: ArrayLike) -> NDArray[np.timedelta64]:
    """Per patient, the longest gap between the protocol's readings that its level
    (index into the threshold's levels; -1: none known) allows."""
    lv = np.asarray(level, dtype=np.int64)
    if protocol.monitoring is None:
        raise ValueError(f"protocol {protocol.name!r} has no monitoring of its own")
    out = np.full(lv.shape, np.timedelta64(protocol.monitoring), dtype="timedelta64[us]")
    if protocol.threshold is not None:
        for i, level_ in enumerate(protocol.threshold.levels):
            out[lv == i] = np.timedelta64(level_.monitoring)
    return out


@dataclass(frozen=True, slots=True)
class ProtocolReadings:
    """Each patient's protocol reading (its protocol's ``reading``): the latest and
    those within the longest gain window before it.  patient : index into the
    caller's ids;  time : datetime64[us];  value : [the reading's unit]"""

    patient: NDArray[np.int64]
    time: NDArray[np.datetime64]
    value: NDArray[np.float64]

    @classmethod
    def empty(cls) -> ProtocolReadings:
        return cls(np.empty(0, np.int64), np.empty(0, "datetime64[us]"), np.empty(0))


def latest(r: ProtocolReadings, n_patients: int,
           ) -> tuple[NDArray[np.float64], NDArray[np.datetime64]]:
    """Per patient, its latest reading and the time (NaN / NaT if none); of readings
    at one time, the lowest (an SpO2 is never read better than the data says)."""
    value = np.full(n_patients, np.nan)
    when = np.full(n_patients, np.datetime64("NaT"), dtype="datetime64[us]")
    if len(r.patient):
        order = np.lexsort((-r.value, r.time, r.patient))
        p, t, v = r.patient[order], r.time[order], r.value[order]
        last = np.r_[p[1:] != p[:-1], True]
        value[p[last]], when[p[last]] = v[last], t[last]
    return value, when


@dataclass(frozen=True, slots=True)
class Overdue:
    """Per patient on a protocol ward: ``late`` (the protocol's reading has not come
    within ``interval``, the interval its ``level`` allows), ``news2_late`` (NEWS2's
    complete set is late while its monitoring band demands an urgent response)."""

    late: NDArray[np.bool_]
    news2_late: NDArray[np.bool_]
    level: NDArray[np.int64]
    interval: NDArray[np.timedelta64]

    @property
    def overdue(self) -> NDArray[np.bool_]:
        return self.late | self.news2_late


def protocol_overdue(protocols: Sequence[Protocol], admitted_at: ArrayLike,
                     last_reading: ArrayLike, last_value: ArrayLike, last_complete: ArrayLike,
                     monitoring_band: Sequence[str | None], now) -> Overdue:
    """Overdue on a protocol ward (the one rule of the engine's alert and the ward
    view): counted from the later of the latest protocol reading and admission, with
    the interval of that reading's level (ward/overdue.py ``overdue_after``); and
    NEWS2's own rule while the NEWS2 monitoring band is urgent or above (low-medium,
    medium, high), so that a deterioration NEWS2 saw is watched at NEWS2's pace.

    last_reading, last_value : the latest protocol reading per patient (NaT / NaN)
    last_complete, monitoring_band : NEWS2's last complete set and monitoring band
    """
    n = len(protocols)
    value = np.asarray(last_value, dtype=np.float64)
    level = np.full(n, -1, dtype=np.int64)
    names = np.array([p.name for p in protocols], dtype=object)
    for proto in {p.name: p for p in protocols}.values():
        if proto.threshold is not None:
            mine = names == proto.name
            level[mine] = threshold_level(value[mine], proto.threshold)
    interval = np.array([level_monitoring(p, level[i:i + 1])[0]
                         for i, p in enumerate(protocols)], dtype="timedelta64[us]")
    if not n:
        empty = np.zeros(0, dtype=bool)
        return Overdue(empty, empty, level, interval)
    late = overdue_after(last_reading, interval, now, admitted_at)
    bands = np.array(["" if b is None else b for b in monitoring_band], dtype=object)
    urgent = np.array([(BAND_SEVERITY.get(b or "zero") or 0) >= Severity.URGENT
                       for b in bands], dtype=bool)
    news2_late = urgent & overdue(last_complete, bands, now, admitted_at)
    return Overdue(late, news2_late, level, interval)
