"""Conditions from data: which alert kinds hold for which patients at ``now``.

Pure: arrays in (one element per score, reading, patient or device), a list of
``lifecycle.Condition`` out.  A condition is built for every patient or device
where the kind holds, and for every key in ``live`` (so that a live alert whose
condition has cleared is seen to clear); nothing for the quiet rest.
Patients are indices into ``patient_ids`` (with ``ward_ids`` beside them).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts import reasons, rules
from alerts.lifecycle import (
    BATTERY_LOW,
    DEVICE_OFFLINE,
    NEWS2,
    OVERDUE,
    SCORE_RISING,
    SPO2_FALLING,
    Condition,
    Key,
)
from alerts.news2 import MONITORING_INTERVAL
from alerts.rules import Severity
from alerts.scoring import ScoreTable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def news2_conditions(
    history: ScoreTable,
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    live: Container[Key],
) -> list[Condition]:
    """The NEWS2 band alert of each patient, judged on its score history.

    history : scores sorted by patient and time (``ScoreTable.merged`` gives that),
        covering at least the kind's hold before the latest score.
    Holds when the latest score's band demands an alert (rules.band_alerts); else,
    when an earlier score in ``history`` did, the condition carries that score and
    the time of the first clear score after it (``cleared_at``) for the lifecycle.
    """
    n = len(history)
    if n == 0:
        return []
    severity = rules.band_alerts(history.band, history.max_single)
    patient = history.patient
    latest = np.flatnonzero(np.r_[patient[1:] != patient[:-1], True])
    raised_rows = np.flatnonzero(severity > 0)
    last_raised = np.full(len(patient_ids), -1, dtype=np.int64)
    np.maximum.at(last_raised, patient[raised_rows], raised_rows)
    out = []
    for last in latest.tolist():
        row, p = int(last), int(patient[last])
        if severity[row] > 0:
            out.append(Condition(patient_ids[p], ward_ids[p], NEWS2, Severity(severity[row]),
                                 _news2_text(history, row), condition_time=_dt(history.time[row])))
        elif last_raised[p] >= 0:
            r = int(last_raised[p])
            out.append(Condition(
                patient_ids[p], ward_ids[p], NEWS2, Severity(severity[r]),
                _news2_text(history, r), condition_time=_dt(history.time[r]),
                cleared_at=_dt(history.time[r + 1]), latest=f"now {_news2_text(history, row)}"))
        elif (patient_ids[p], NEWS2, "") in live:
            out.append(Condition(patient_ids[p], ward_ids[p], NEWS2, None,
                                 _news2_text(history, row), condition_time=_dt(history.time[row])))
    return out


def trend_conditions(
    history: ScoreTable,
    spo2_patient: ArrayLike,
    spo2_time: ArrayLike,
    spo2_value: ArrayLike,
    now: datetime,
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    live: Container[Key],
    judged: ArrayLike | None = None,
) -> list[Condition]:
    """NEWS2 rising (rules.score_rising) and SpO2 falling fast (rules.spo2_falling) at ``now``.

    spo2_* : SpO2 readings [%] of the patients, at least the last hour's
    judged : patient indices to judge (default all); others get no condition.
    """
    n = len(patient_ids)
    # Complete sets only: an incomplete score rises whenever a missing
    # parameter arrives (news2.md: it is a lower bound), which is no trend.
    full = np.asarray(history.complete, dtype=bool)
    s_patient, s_time, s_total = history.patient[full], history.time[full], history.total[full]
    rising = rules.score_rising(s_patient, s_time, s_total, now, n_patients=n)
    falling = rules.spo2_falling(spo2_patient, spo2_time, spo2_value, now, n_patients=n)
    patients = np.arange(n) if judged is None else np.asarray(judged, dtype=np.int64)
    out = []
    series = (
        (SCORE_RISING, rising, s_patient, s_time, s_total.astype(float),
         rules.SCORE_RISE_WINDOW, np.min),
        (SPO2_FALLING, falling, np.asarray(spo2_patient), np.asarray(spo2_time),
         np.asarray(spo2_value, dtype=float), rules.SPO2_FALL_WINDOW, np.max),
    )
    for kind, holds, p_arr, t_arr, v_arr, window, extreme in series:
        for p in patients:
            if not holds[p] and (patient_ids[p], kind, "") not in live:
                continue
            text, at = _trend_text(kind, p, p_arr, t_arr, v_arr, now, window, extreme)
            out.append(Condition(patient_ids[p], ward_ids[p], kind,
                                 rules.TREND_SEVERITY if holds[p] else None, text,
                                 condition_time=at))
    return out


def overdue_conditions(
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    admitted_at: ArrayLike,
    last_complete: ArrayLike,
    latest_band: Sequence[str | None],
    now: datetime,
    live: Container[Key],
) -> list[Condition]:
    """Observations overdue (rules.overdue): no complete set within the band's interval.

    admitted_at, last_complete : datetime64 per patient, NaT if never
    latest_band : the band of each patient's latest score, None if never scored
    """
    bands = np.array(["" if b is None else b for b in latest_band], dtype=object)
    late = rules.overdue(last_complete, bands, now, admitted_at)
    complete = np.asarray(last_complete).astype("datetime64[us]")
    admitted = np.asarray(admitted_at).astype("datetime64[us]")
    out = []
    for p in range(len(patient_ids)):
        if not late[p] and (patient_ids[p], OVERDUE, "") not in live:
            continue
        band = bands[p] or "zero"
        last = None if np.isnat(complete[p]) else _dt(complete[p])
        interval = timedelta(microseconds=int(MONITORING_INTERVAL[band] / np.timedelta64(1, "us")))
        text = reasons.overdue_reason(last, band, interval,
                                      None if np.isnat(admitted[p]) else _dt(admitted[p]))
        if not late[p]:
            text = f"complete set at {last:%Y-%m-%d %H:%M}Z" if last else "no longer overdue"
        out.append(Condition(patient_ids[p], ward_ids[p], OVERDUE,
                             rules.OVERDUE_SEVERITY if late[p] else None, text,
                             condition_time=last))
    return out


def device_conditions(
    device_ids: Sequence[str],
    device_kinds: Sequence[str],
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    last_seen: ArrayLike,
    assigned_from: ArrayLike,
    said_offline: ArrayLike,
    battery: ArrayLike,
    now: datetime,
    expected_interval: timedelta,
    live: Container[Key],
    registered_at: ArrayLike | None = None,
) -> list[Condition]:
    """Device offline and battery low, one element per assigned device.

    last_seen : datetime64, NaT if never;  assigned_from : when it came to the patient;
        registered_at : when the device was registered (rules.silence_start says how
        these start its silence)
    said_offline : bool, its last word was the last will (rules.said_offline)
    battery : float [%], NaN if unknown
    """
    seen = np.asarray(last_seen).astype("datetime64[us]")
    start = rules.silence_start(seen, assigned_from, registered_at)
    silent = rules.device_offline(start, now, expected_interval)
    gone = np.asarray(said_offline, dtype=bool)
    offline = silent | gone
    charge = np.asarray(battery, dtype=np.float64)
    low = rules.battery_low(charge)
    out = []
    for d in range(len(device_ids)):
        device, kind = device_ids[d], device_kinds[d]
        base = (patient_ids[d], ward_ids[d])
        if offline[d] or (patient_ids[d], DEVICE_OFFLINE, device) in live:
            last = None if np.isnat(seen[d]) else _dt(seen[d])
            text = (reasons.device_offline_reason(device, kind, said_offline=bool(gone[d]),
                                                  last_seen=last, expected=expected_interval)
                    if offline[d] else f"Device {device} ({kind}) reporting again")
            out.append(Condition(*base, DEVICE_OFFLINE,
                                 rules.DEVICE_OFFLINE_SEVERITY if offline[d] else None, text,
                                 device_id=device, condition_time=last))
        if low[d] or (patient_ids[d], BATTERY_LOW, device) in live:
            text = (reasons.battery_low_reason(device, kind, charge[d], rules.BATTERY_LOW_PERCENT)
                    if low[d] else f"Device {device} ({kind}) battery {charge[d]:.0f} %")
            out.append(Condition(*base, BATTERY_LOW,
                                 rules.BATTERY_LOW_SEVERITY if low[d] else None, text,
                                 device_id=device))
    return out


def _news2_text(t: ScoreTable, row: int) -> str:
    return reasons.news2_reason(
        int(t.total[row]), str(t.band[row]), t.sub_scores[row].tolist(), t.inputs[row].tolist(),
        spo2_scale=int(t.spo2_scale[row]), overridden=t.overridden[row].tolist(),
        at=_dt(t.time[row]))


def _trend_text(kind: str, p: int, patient: NDArray[np.int64], time: NDArray[np.datetime64],
                value: NDArray[np.float64], now: datetime, window: np.timedelta64,
                extreme) -> tuple[str, datetime | None]:
    end = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")
    t = time.astype("datetime64[us]")
    mine = (patient == p) & (t <= end) & (t >= end - window) & ~np.isnan(value)
    if not mine.any():
        return (f"{'NEWS2' if kind == SCORE_RISING else 'SpO2'}: no readings in the last"
                f" {reasons.span(_td(window))}", None)
    rows = np.flatnonzero(mine)
    last = rows[np.argsort(t[rows], kind="stable")[-1]]
    span = _td(window)
    bound, latest = float(extreme(value[rows])), float(value[last])
    if kind == SCORE_RISING:
        text = reasons.score_rising_reason(bound, latest, span)
    else:
        text = reasons.spo2_falling_reason(bound, latest, span)
    return text, _dt(t[last])


def _td(d: np.timedelta64) -> timedelta:
    return timedelta(microseconds=int(d / np.timedelta64(1, "us")))


def _dt(t: np.datetime64) -> datetime:
    """A datetime64 (naive UTC) as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=int(np.asarray(t).astype("datetime64[us]")
                                               .view(np.int64)))
