"""Conditions from data: which alert kinds hold for which patients at ``now``
(the NEWS2 band and what late data shows: alerts/news2_conditions.py).

Pure: arrays in (one element per score, reading, patient or device), a list of
``lifecycle.Condition`` out.  A condition is built for every patient or device
where the kind holds, and for every key in ``live`` (so that a live alert whose
condition has cleared is seen to clear); nothing for the quiet rest.
Patients are indices into ``patient_ids`` (with ``ward_ids`` beside them).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts import device_rules, reasons, rules
from alerts.lifecycle import (
    BATTERY_LOW,
    DEVICE_OFFLINE,
    OVERDUE,
    RETROSPECTIVE,
    REVIEW_DUE,
    SCORE_RISING,
    SCORING_FAILED,
    SPO2_FALLING,
    Condition,
    Key,
    LiveAlert,
)
from alerts.numpy_times import as_timedelta, aware
from alerts.scoring import ScoreTable
from ward.news2_chart import MONITORING_INTERVAL


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
    # The totals alerts follow: after the patient's accepted ranges.
    full = np.asarray(history.complete, dtype=bool)
    s_patient, s_time = history.patient[full], history.time[full]
    s_total = history.adjusted_total[full]
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
    monitoring_band: Sequence[str | None],
    now: datetime,
    live: Container[Key],
) -> list[Condition]:
    """Observations overdue (rules.overdue): no complete set within the interval of the
    highest band since the last complete set, as urgent as that band
    (rules.OVERDUE_SEVERITY): a patient silent after a high score is an emergency
    after 15 min.

    admitted_at, last_complete : datetime64 per patient, NaT if never
    monitoring_band : the monitoring band of each patient's latest score, None if never
        scored
    """
    bands = np.array(["" if b is None else b for b in monitoring_band], dtype=object)
    late = rules.overdue(last_complete, bands, now, admitted_at)
    complete = np.asarray(last_complete).astype("datetime64[us]")
    admitted = np.asarray(admitted_at).astype("datetime64[us]")
    out = []
    for p in range(len(patient_ids)):
        if not late[p] and (patient_ids[p], OVERDUE, "") not in live:
            continue
        band = bands[p] or "zero"
        last = None if np.isnat(complete[p]) else aware(complete[p])
        text = reasons.overdue_reason(last, band, MONITORING_INTERVAL[band],
                                      None if np.isnat(admitted[p]) else aware(admitted[p]))
        if not late[p]:
            text = f"complete set at {last:%Y-%m-%d %H:%M}Z" if last else "no longer overdue"
        out.append(Condition(patient_ids[p], ward_ids[p], OVERDUE,
                             rules.overdue_severity(band) if late[p] else None, text,
                             condition_time=last, band=band if late[p] else ""))
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
        registered_at : when the device was registered (device_rules.silence_start says how
        these start its silence)
    said_offline : bool, its last word was the last will (device_rules.said_offline)
    battery : float [%], NaN if unknown
    """
    seen = np.asarray(last_seen).astype("datetime64[us]")
    start = device_rules.silence_start(seen, assigned_from, registered_at)
    silent = device_rules.device_offline(start, now, expected_interval)
    gone = np.asarray(said_offline, dtype=bool)
    offline = silent | gone
    charge = np.asarray(battery, dtype=np.float64)
    low = device_rules.battery_low(charge)
    out = []
    for d in range(len(device_ids)):
        device, kind = device_ids[d], device_kinds[d]
        base = (patient_ids[d], ward_ids[d])
        if offline[d] or (patient_ids[d], DEVICE_OFFLINE, device) in live:
            last = None if np.isnat(seen[d]) else aware(seen[d])
            text = (reasons.device_offline_reason(device, kind, said_offline=bool(gone[d]),
                                                  last_seen=last, expected=expected_interval)
                    if offline[d] else f"Device {device} ({kind}) reporting again")
            out.append(Condition(*base, DEVICE_OFFLINE,
                                 device_rules.DEVICE_OFFLINE_SEVERITY if offline[d] else None, text,
                                 device_id=device, condition_time=last))
        if low[d] or (patient_ids[d], BATTERY_LOW, device) in live:
            text = (reasons.battery_low_reason(device, kind, charge[d],
                                               device_rules.BATTERY_LOW_PERCENT)
                    if low[d] else f"Device {device} ({kind}) battery {charge[d]:.0f} %")
            out.append(Condition(*base, BATTERY_LOW,
                                 device_rules.BATTERY_LOW_SEVERITY if low[d] else None, text,
                                 device_id=device))
    return out


@dataclass(frozen=True, slots=True)
class LapsedSetting:
    """An accepted range or SpO2 scale 2 that reached its review date unreviewed."""

    patient_id: str
    ward_id: str
    setting_id: int
    kind: str
    parameter: str | None
    low: float | None
    high: float | None
    set_by: str
    reason: str
    review_at: datetime


@dataclass(frozen=True, slots=True)
class FailingPatient:
    """A patient whose scoring failed ``failures`` times in a row (scoring_failures)."""

    patient_id: str
    ward_id: str
    failures: int
    first_failed_at: datetime
    last_error: str


def review_conditions(lapsed: Sequence[LapsedSetting], patient_ward: Mapping[str, str],
                      live: Container[Key]) -> list[Condition]:
    """``review_due``: a setting reached its review date; one alert per patient naming
    them all, standing on the latest lapse (a resolved alert reviewed the ones before).

    patient_ward : ward of every patient judged (those without lapses clear their alert)
    """
    by_patient: dict[str, list[LapsedSetting]] = {}
    for row in lapsed:
        by_patient.setdefault(row.patient_id, []).append(row)
    out = []
    for patient, ward in patient_ward.items():
        rows = sorted(by_patient.get(patient, ()), key=lambda r: r.review_at)
        if rows:
            text = "; ".join(reasons.review_due_reason(
                r.kind, r.parameter, r.low, r.high, r.set_by, r.reason, r.review_at)
                for r in rows)
            out.append(Condition(patient, ward, REVIEW_DUE, rules.REVIEW_DUE_SEVERITY, text,
                                 condition_time=rows[-1].review_at))
        elif (patient, REVIEW_DUE, "") in live:
            out.append(Condition(patient, ward, REVIEW_DUE, None, "settings reviewed"))
    return out


def scoring_failed_conditions(failing: Sequence[FailingPatient], patient_ward: Mapping[str, str],
                              live: Container[Key]) -> list[Condition]:
    """``scoring_failed``: the engine could not score the patient
    ``rules.SCORING_FAILED_AFTER`` times in a row; clear once it is scored again."""
    bad = {f.patient_id: f for f in failing if f.failures >= rules.SCORING_FAILED_AFTER}
    out = []
    for patient, ward in patient_ward.items():
        f = bad.get(patient)
        if f is not None:
            out.append(Condition(patient, ward, SCORING_FAILED, rules.SCORING_FAILED_SEVERITY,
                                 reasons.scoring_failed_reason(f.failures, f.first_failed_at,
                                                               f.last_error)))
        elif (patient, SCORING_FAILED, "") in live:
            out.append(Condition(patient, ward, SCORING_FAILED, None, "scored again"))
    return out


def standing_conditions(live: Sequence[LiveAlert]) -> list[Condition]:
    """Retrospective alerts hold until a clinician resolves them (what they report is
    over; the review is not), so they escalate while nobody acknowledges them."""
    return [Condition(a.patient_id, a.ward_id, a.kind, a.state.severity, a.reason,
                      condition_time=a.condition_time)
            for a in live if a.kind == RETROSPECTIVE]


def _trend_text(kind: str, p: int, patient: NDArray[np.int64], time: NDArray[np.datetime64],
                value: NDArray[np.float64], now: datetime, window: np.timedelta64,
                extreme) -> tuple[str, datetime | None]:
    end = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")
    t = time.astype("datetime64[us]")
    mine = (patient == p) & (t <= end) & (t >= end - window) & ~np.isnan(value)
    if not mine.any():
        return (f"{'NEWS2' if kind == SCORE_RISING else 'SpO2'}: no readings in the last"
                f" {reasons.span(as_timedelta(window))}", None)
    rows = np.flatnonzero(mine)
    last = rows[np.argsort(t[rows], kind="stable")[-1]]
    span = as_timedelta(window)
    bound, latest = float(extreme(value[rows])), float(value[last])
    if kind == SCORE_RISING:
        text = reasons.score_rising_reason(bound, latest, span)
    else:
        text = reasons.spo2_falling_reason(bound, latest, span)
    return text, aware(t[last])
