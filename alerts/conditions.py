"""Conditions from data: which alert kinds hold for which patients at ``now``.

Pure: arrays in (one element per score, reading, patient or device), a list of
``lifecycle.Condition`` out.  A condition is built for every patient or device
where the kind holds, and for every key in ``live`` (so that a live alert whose
condition has cleared is seen to clear); nothing for the quiet rest.
Patients are indices into ``patient_ids`` (with ``ward_ids`` beside them).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts import reasons, rules
from alerts.lifecycle import (
    BATTERY_LOW,
    DEVICE_OFFLINE,
    NEWS2,
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
from alerts.rules import Severity
from alerts.scoring import ScoreTable
from ward.news2_chart import BANDS, MONITORING_INTERVAL, PARAMETERS, RED

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def news2_conditions(
    history: ScoreTable,
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    live: Container[Key],
    since: ArrayLike | None = None,
    covered: Mapping[str, Sequence[datetime]] | None = None,
) -> list[Condition]:
    """The NEWS2 band alert of each patient, judged on its score history; and, given
    ``since``, what late data shows that nobody was told of (``retrospective``).

    history : scores sorted by patient and time (``ScoreTable.merged`` gives that),
        covering at least the kind's hold before the latest score.
    Each score shows its effective level (``ScoreTable.effective_level``): a complete
    set its own band, an incomplete one the monitoring band, so a value that ages out
    or a reassuring partial reading is never an improvement.  The alert holds when the
    latest score's level demands one (rules.BAND_SEVERITY); else, when an earlier score
    did, the condition carries that score and the time of the first clear score after
    it (``cleared_at``: a complete set that no longer scores) for the lifecycle.
    since : datetime64 per patient index; scores at or after it are new (this call
        scored them).  An episode wholly among them that reached the high band or a
        red parameter and is over by the latest score was never alerted on: it gives
        a ``retrospective`` condition instead (unless an alert of ``covered[patient]``,
        the condition times of the patient's news2 and retrospective alerts, lies in it).
    """
    n = len(history)
    if n == 0:
        return []
    levels = _Levels(history)
    severity = rules.level_severity(levels.effective)
    patient = history.patient
    ends = np.flatnonzero(np.r_[patient[1:] != patient[:-1], True])
    starts = np.r_[0, ends[:-1] + 1]
    out = []
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        p = int(patient[last])
        episodes = []
        if since is not None:
            new_from = first + int(np.searchsorted(history.time[first:last + 1],
                                                   np.asarray(since)[p], side="left"))
            episodes = _unseen_episodes(history, levels, severity, first, new_from, last,
                                        (covered or {}).get(patient_ids[p], ()))
        if episodes:
            out.append(_retrospective(history, levels, episodes, patient_ids[p], ward_ids[p]))
        raised = np.flatnonzero(severity[first:last + 1] > 0)
        if severity[last] > 0:
            out.append(_news2_condition(history, levels, first, last, patient_ids[p],
                                        ward_ids[p]))
        elif len(raised) and not (episodes and first + int(raised[-1]) == episodes[-1][1]):
            r = first + int(raised[-1])
            c = _news2_condition(history, levels, first, r, patient_ids[p], ward_ids[p])
            out.append(replace(c, cleared_at=_dt(history.time[r + 1]),
                               latest=f"now {_news2_text(history, last)}"))
        elif (patient_ids[p], NEWS2, "") in live:
            out.append(Condition(patient_ids[p], ward_ids[p], NEWS2, None,
                                 _news2_text(history, last),
                                 condition_time=_dt(history.time[last])))
    return out


class _Levels:
    """The band levels of a score table, computed once per call (ScoreTable's
    properties compute them anew each time)."""

    __slots__ = ("alert", "effective", "monitoring")

    def __init__(self, t: ScoreTable) -> None:
        self.alert = t.alert_level
        self.monitoring = t.monitoring_level
        self.effective = np.where(t.complete, self.alert, self.monitoring).astype(np.int8)


def _news2_condition(t: ScoreTable, levels: _Levels, first: int, row: int, patient_id: str,
                     ward_id: str) -> Condition:
    """The condition that score ``row`` shows (rows ``first``..``row``: the patient's).

    A complete set stands on itself.  An incomplete one stands on the score that set
    its monitoring band (the latest at that band since the last complete set), and
    says what is missing or stale: it is a lower bound.  Its red parameters are every
    one that scored 3 since the last complete set (no complete set has disproved them);
    when that set lies before the history, they are unknown (None: the alert keeps its
    own)."""
    level = levels.effective
    text = _news2_text(t, row)
    red: frozenset[str] | None
    if t.complete[row]:
        red = _reds(t, row, row)
    else:
        basis, start = _basis(t, levels, first, row)
        red = _reds(t, start, row) if basis is not None else None
        if basis is None:
            text += (f"; the {t.monitoring_band[row]} band since the last complete set stands"
                     " until a complete set")
        elif basis != row:
            text = (f"{_news2_text(t, basis)}; stands until a complete set (latest: {text})")
    severity = Severity(int(rules.level_severity(level[row : row + 1])[0]))
    return Condition(patient_id, ward_id, NEWS2, severity, text,
                     condition_time=_dt(t.time[row]), band=str(BANDS[level[row]]), red=red)


def _reds(t: ScoreTable, start: int, row: int) -> frozenset[str]:
    scored_3 = (t.sub_scores[start:row + 1] >= RED).any(axis=0)
    return frozenset(np.array(PARAMETERS)[scored_3].tolist())


def _basis(t: ScoreTable, levels: _Levels, first: int, row: int) -> tuple[int | None, int]:
    """The latest score at ``row``'s monitoring level since the last complete set
    before it (that set included), None when it lies before the history; and the
    first row of that stretch."""
    complete = np.flatnonzero(t.complete[first:row])
    start = first + (int(complete[-1]) if len(complete) else 0)
    at = np.flatnonzero(levels.alert[start:row + 1] == levels.monitoring[row])
    return (start + int(at[-1]) if len(at) else None), start


def _unseen_episodes(t: ScoreTable, levels: _Levels, severity: NDArray[np.int8], first: int,
                     new_from: int, last: int,
                     covered: Sequence[datetime]) -> list[tuple[int, int, int]]:
    """(first, last raised, clear) rows of each episode among rows ``new_from``..``last``
    that began there, reached high or a red parameter, and was clear by ``last``."""
    raised = severity[new_from:last + 1] > 0
    if not raised.any():
        return []
    edges = np.diff(np.r_[False, raised, False].astype(np.int8))
    begins = new_from + np.flatnonzero(edges == 1)
    stops = new_from + np.flatnonzero(edges == -1)  # the first clear row after each
    times = [np.datetime64(c.astimezone(UTC).replace(tzinfo=None), "us") for c in covered]
    out = []
    for b, e in zip(begins.tolist(), stops.tolist(), strict=True):
        if e > last or (b == new_from > first and severity[new_from - 1] > 0):
            continue  # still holding, or begun before the new rows (alerted then)
        high = (levels.effective[b:e] == len(BANDS) - 1).any()
        red = (t.sub_scores[b:e] >= RED).any()
        seen = any(t.time[b] <= c <= t.time[e] for c in times)
        if (high or red) and not seen:
            out.append((b, e - 1, e))
    return out


def _retrospective(t: ScoreTable, levels: _Levels, episodes: list[tuple[int, int, int]],
                   patient_id: str, ward_id: str) -> Condition:
    parts = []
    for b, e, clear in episodes[-3:]:
        peak = b + int(np.argmax(levels.effective[b:e + 1]))
        parts.append(reasons.retrospective_reason(
            _news2_text(t, peak), _dt(t.time[b]), _dt(t.time[e]), _dt(t.time[clear])))
    more = f" (and {len(episodes) - 3} earlier)" if len(episodes) > 3 else ""
    return Condition(patient_id, ward_id, RETROSPECTIVE, rules.RETROSPECTIVE_SEVERITY,
                     "; ".join(parts) + more, condition_time=_dt(t.time[episodes[-1][0]]),
                     renotify=True)


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
        last = None if np.isnat(complete[p]) else _dt(complete[p])
        text = reasons.overdue_reason(last, band, MONITORING_INTERVAL[band],
                                      None if np.isnat(admitted[p]) else _dt(admitted[p]))
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


def _news2_text(t: ScoreTable, row: int) -> str:
    stale = t.stale[row].tolist()
    adjusted = (int(t.adjusted_total[row]), str(t.adjusted_band[row])) \
        if t.overridden[row].any() else None
    return reasons.news2_reason(
        int(t.total[row]), str(t.band[row]), t.sub_scores[row].tolist(), t.inputs[row].tolist(),
        spo2_scale=int(t.spo2_scale[row]), overridden=t.overridden[row].tolist(),
        at=_dt(t.time[row]), adjusted=adjusted, stale=stale,
        # The reason names the measurement time of stale values only.
        measured=[_dt(x) if old and not np.isnat(x) else None
                  for x, old in zip(t.input_times[row], stale, strict=True)])


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
