"""Conditions of a ward's protocol (ward/protocols.py): the COVID-19 oximetry
SpO2 level, heart failure's weight gain, and overdue by the protocol's
monitoring.  Pure, as alerts/conditions.py: arrays in, ``lifecycle.Condition``
out, a condition for every patient where a kind holds and for every live key
(so that a cleared one is seen to clear), nothing for the quiet rest.

NEWS2 is judged on every ward as before (alerts/news2_conditions.py): these
rules come on top, never instead (hazard log H60).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts import reasons, rules
from alerts.lifecycle import OVERDUE, Condition, Key
from alerts.numpy_times import aware
from alerts.rules import Severity
from ward import protocol_rules
from ward.domain import TYPES
from ward.news2_chart import MONITORING_INTERVAL
from ward.protocol_rules import ProtocolReadings, latest
from ward.protocols import OVERDUE_FLOOR, Protocol


def protocol_conditions(
    protocols: Sequence[Protocol],
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    readings: ProtocolReadings,
    live: Container[Key],
) -> list[Condition]:
    """The protocol alerts of each patient (``protocols[i]`` its ward's)."""
    n = len(patient_ids)
    names = np.array([p.name for p in protocols], dtype=object)
    value, when = latest(readings, n)
    out: list[Condition] = []
    for proto in {p.name: p for p in protocols}.values():
        mine = names == proto.name
        if proto.threshold is not None:
            out += _threshold(proto, np.flatnonzero(mine), value, when, patient_ids, ward_ids,
                              live)
        if proto.gains:
            out += _gains(proto, mine, readings, patient_ids, ward_ids, live)
    return out


def _threshold(proto: Protocol, idx: NDArray[np.int64], value: NDArray[np.float64],
               when: NDArray[np.datetime64], patient_ids: Sequence[str],
               ward_ids: Sequence[str], live: Container[Key]) -> list[Condition]:
    t = proto.threshold
    assert t is not None
    level = protocol_rules.threshold_level(value[idx], t)
    out = []
    for i, lv in zip(idx.tolist(), level.tolist(), strict=True):
        severity = t.levels[lv].severity if lv >= 0 else None
        if severity is None and (patient_ids[i], t.kind, "") not in live:
            continue
        unit = TYPES[t.reading].unit
        text = (f"{t.reading.value} {value[i]:g} {unit} at {aware(when[i]):%Y-%m-%d %H:%M}Z:"
                f" {t.levels[lv].response}" if lv >= 0 else f"no {t.reading.value} reading")
        out.append(Condition(patient_ids[i], ward_ids[i], t.kind, severity,
                             f"{proto.title}: {text}",
                             condition_time=aware(when[i]) if lv >= 0 else None))
    return out


def _gains(proto: Protocol, mine: NDArray[np.bool_], r: ProtocolReadings,
           patient_ids: Sequence[str], ward_ids: Sequence[str],
           live: Container[Key]) -> list[Condition]:
    n = len(patient_ids)
    keep = mine[r.patient] if len(r.patient) else np.zeros(0, bool)
    results = [protocol_rules.gain(r.patient[keep], r.time[keep], r.value[keep], g,
                                   n_patients=n) for g in proto.gains]
    holding = np.array([res.holds for res in results])  # (rules, patients)
    out = []
    for i in np.flatnonzero(mine).tolist():
        held = [k for k in range(len(results)) if holding[k, i]]
        if not held and (patient_ids[i], proto.gain_kind, "") not in live:
            continue
        first = results[0]
        if np.isnan(first.latest[i]):
            continue  # no reading at all: overdue speaks for it
        at = aware(first.latest_time[i])
        head = (f"{proto.title}: {proto.gains[0].reading.value} {first.latest[i]:g}"
                f" {_unit(proto)} at {at:%Y-%m-%d %H:%M}Z")
        if held:
            parts = [f"+{results[k].change[i]:g} {_unit(proto)} since"
                     f" {aware(results[k].lowest_time[i]):%Y-%m-%d %H:%M}Z"
                     f" ({results[k].lowest[i]:g}), {proto.gains[k].response}" for k in held]
            severity: Severity | None = max(proto.gains[k].severity for k in held)
            text = f"{head}: " + "; ".join(parts)
        else:
            severity = None
            text = f"{head}: " + ", ".join(
                f"{_change(res.change[i])} within {reasons.span(g.window)}"
                for g, res in zip(proto.gains, results, strict=True))
        out.append(Condition(patient_ids[i], ward_ids[i], proto.gain_kind, severity, text,
                             condition_time=at))
    return out


def protocol_overdue_conditions(
    protocols: Sequence[Protocol],
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    admitted_at: ArrayLike,
    last_reading: ArrayLike,
    last_value: ArrayLike,
    last_complete: ArrayLike,
    monitoring_band: Sequence[str | None],
    now,
    live: Container[Key],
) -> list[Condition]:
    """``overdue`` on a protocol ward: its reading has not come within the interval
    the latest reading's level allows (ward/protocols.py), as urgent as that level
    (at least LOW); or NEWS2's own rule, while the NEWS2 monitoring band demands an
    urgent response (low-medium and above: a deterioration NEWS2 saw is watched at
    NEWS2's pace whatever the protocol).  Below urgent, the protocol's schedule
    replaces NEWS2's complete set every 4 or 12 h, which a ward that reads only
    SpO2 or weight would miss by design.

    last_reading, last_value : per patient, the latest protocol reading (NaT / NaN)
    last_complete, monitoring_band : NEWS2's, as conditions.overdue_conditions
    """
    n = len(patient_ids)
    judged = protocol_rules.protocol_overdue(protocols, admitted_at, last_reading, last_value,
                                             last_complete, monitoring_band, now)
    late, news2_late, level, interval = (judged.late, judged.news2_late, judged.level,
                                         judged.interval)
    admitted = np.asarray(admitted_at).astype("datetime64[us]")
    seen = np.asarray(last_reading).astype("datetime64[us]")
    complete = np.asarray(last_complete).astype("datetime64[us]")
    bands = ["" if b is None else b for b in monitoring_band]
    out = []
    for i in range(n):
        proto = protocols[i]
        if not (late[i] or news2_late[i]) and (patient_ids[i], OVERDUE, "") not in live:
            continue
        parts, severity = [], None
        if late[i]:
            severity, text = _late(proto, int(level[i]), seen[i], interval[i])
            parts.append(text)
        if news2_late[i]:
            band = bands[i]
            severity = max(severity or OVERDUE_FLOOR, rules.overdue_severity(band))
            last = None if np.isnat(complete[i]) else aware(complete[i])
            parts.append(reasons.overdue_reason(last, band, MONITORING_INTERVAL[band],
                                                None if np.isnat(admitted[i])
                                                else aware(admitted[i])))
        text = "; ".join(parts) or (f"{proto.title}: reading in time" if not np.isnat(seen[i])
                                    else "no longer overdue")
        anchor = None if np.isnat(seen[i]) else aware(seen[i])
        out.append(Condition(patient_ids[i], ward_ids[i], OVERDUE, severity, text,
                             condition_time=anchor,
                             band=bands[i] if news2_late[i] else ""))
    return out


def _late(proto: Protocol, lv: int, seen: np.datetime64,
          interval: np.timedelta64) -> tuple[Severity, str]:
    """The severity and words of a late protocol reading: as urgent as its level."""
    level = proto.threshold.levels[lv] if proto.threshold is not None and lv >= 0 else None
    severity = max(OVERDUE_FLOOR, (level.severity if level else None) or OVERDUE_FLOOR)
    since = f"since {aware(seen):%Y-%m-%d %H:%M}Z" if not np.isnat(seen) else "since admission"
    what = f" at {level.name}" if level else ""
    reading = proto.reading.value if proto.reading else "reading"
    return severity, (f"{proto.title}: no {reading} {since}; needed every"
                      f" {reasons.span(_td(interval))}{what}")


def _unit(proto: Protocol) -> str:
    reading = proto.gains[0].reading if proto.gains else proto.reading
    return TYPES[reading].unit if reading is not None else ""


def _change(x: float) -> str:
    return "no earlier reading" if np.isnan(x) else f"{x:+g}"


def _td(x: np.timedelta64) -> timedelta:
    return timedelta(microseconds=int(x / np.timedelta64(1, "us")))
