"""Alert decisions as pure functions: no I/O, no clock read (``now`` is passed in).

Clinical rules (band, trends, overdue observations) say *whether* a condition
holds and how severe it is (the technical ones, device offline and battery low,
are alerts/device_rules.py's); ``step`` turns a condition into an alert's
lifecycle (opened, escalated, updated, resolved).  Vectorised rules take
``datetime64`` arrays; ``now`` may be a ``numpy.datetime64`` or a ``datetime``
(an aware one is converted to naive UTC: alerts/numpy_times.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts.numpy_times import Now, as_datetime64, as_datetimes
from ward.news2_chart import BAND_LEVEL, BAND_SEVERITY, BANDS, RED
from ward.overdue import overdue as overdue  # the one rule: the engine's and the read path's
from ward.severity import Severity

# The severity order (ward/severity.py) and the severity each band demands
# (news2_chart.BAND_SEVERITY, with its clinical reason) are shared vocabulary;
# ``rules.Severity`` and ``rules.BAND_SEVERITY`` name them here too.
# Severity code per band level (index into BANDS), 0 for none.
_LEVEL_SEVERITY = np.array([int(BAND_SEVERITY[b] or 0) for b in BANDS], dtype=np.int8)

# A rise of 2 is one parameter moving two bands or two parameters one band each;
# 6 h spans the low band's 4-6 h monitoring, so two routine sets are compared.
SCORE_RISE = 2  # [{score}]
SCORE_RISE_WINDOW = np.timedelta64(6 * 3600, "s")
# ... to a total of 3 or more.  A rise that ends at 0-2 changes no NEWS2
# response (the low band, routine 4-6 hourly sets) and, on home devices, is
# mostly a spot check's noise at a band edge (a cuff reading 109 instead of
# 112 scores a point): alerting on it teaches the hub to ignore the trend alert.
SCORE_RISE_TO = 3  # [{score}]
# 3 points exceeds a home oximeter's +/-2 % accuracy, so the fall is real; within
# an hour it is acute (infection, embolism, pneumothorax) even while still in range.
SPO2_FALL = 3.0  # [%]
SPO2_FALL_WINDOW = np.timedelta64(3600, "s")
# Trends and technical faults prompt a look, not a rescue: when the values
# themselves are dangerous the band rule already raises URGENT or EMERGENCY.
TREND_SEVERITY = Severity.LOW
# A silent patient is an alert, not a quiet one, and as urgent as the band whose
# monitoring was missed: 15 min without a set after a high score is an emergency
# (news2.md asks continuous monitoring), a missed hourly set after low-medium or
# medium urgent, a missed 4- or 12-hourly set low.
OVERDUE_SEVERITY: dict[str, Severity] = {
    "zero": Severity.LOW,
    "low": Severity.LOW,
    "low-medium": Severity.URGENT,
    "medium": Severity.URGENT,
    "high": Severity.EMERGENCY,
}
# A high score or a red parameter found in late data that has already cleared: the
# patient was in danger while nobody was told.  A clinician must review what
# happened (was it real, does the patient need a call now?): urgent, not emergency,
# because the data says the danger is past.
RETROSPECTIVE_SEVERITY = Severity.URGENT
# An accepted range or SpO2 scale 2 reached its review date: the patient is scored
# on the standard chart again (so a real deterioration still alerts through the
# band); a clinician is asked to review the setting.
REVIEW_DUE_SEVERITY = Severity.LOW
# A patient the engine cannot score is a patient nobody is watching: as urgent as
# an urgent score, for the team that runs the ward to fix now.
SCORING_FAILED_SEVERITY = Severity.URGENT
SCORING_FAILED_AFTER = 3  # failures in a row: one is a transient fault, three are not

# A condition must stay clear this long before its alert resolves: scores hover at
# band edges, and an alert that resolves and reopens every set trains people to ignore it.
HOLD = timedelta(minutes=30)
# Unacknowledged beyond this, an alert is notified again (to the next tier).  Emergency:
# NEWS2 asks an immediate response, 5 min is the longest a hub may leave it unseen.
# Urgent: "urgent" responses are expected within about 30 min, so the first page
# gets half of it.  Low: within the hour, before the next round is due.
ESCALATE_AFTER: dict[Severity, timedelta] = {
    Severity.EMERGENCY: timedelta(minutes=5),
    Severity.URGENT: timedelta(minutes=15),
    Severity.LOW: timedelta(minutes=60),
}
# Acknowledged is not resolved.  An acknowledged emergency whose condition still
# holds 30 min later is notified again and needs a new acknowledgement: whoever
# acknowledged it should have the patient in hand by then (an ambulance called, a
# clinician with them), and if the data still says "emergency" someone must look again.
ACK_LAPSE: dict[Severity, timedelta] = {
    Severity.EMERGENCY: timedelta(minutes=30),
}

AlertStatus = Literal["open", "acknowledged", "resolved"]


def band_alert(band: str, max_single: int) -> Severity | None:
    """Severity a NEWS2 band demands (``BAND_SEVERITY``), None for no alert.

    A single parameter scoring 3 is at least URGENT whatever ``band`` says
    (news2.md low-medium), so a band computed elsewhere cannot hide it.
    """
    severity = BAND_SEVERITY[band]
    if max_single >= RED and (severity is None or severity < Severity.URGENT):
        return Severity.URGENT
    return severity


def level_severity(level: ArrayLike) -> NDArray[np.int8]:
    """``Severity`` value per band level (index into ``BANDS``; -1 none), 0 for no alert."""
    level = np.asarray(level, dtype=np.int64)
    return np.where(level >= 0, _LEVEL_SEVERITY[np.clip(level, 0, len(BANDS) - 1)],
                    0).astype(np.int8)


def score_rising(
    patient: ArrayLike,
    times: ArrayLike,
    totals: ArrayLike,
    now: Now,
    *,
    n_patients: int,
    window: np.timedelta64 | timedelta = SCORE_RISE_WINDOW,
    rise: float = SCORE_RISE,
    to: float = SCORE_RISE_TO,
) -> NDArray[np.bool_]:
    """Per patient: latest total minus the lowest total within ``window`` >= ``rise``,
    and the latest total >= ``to``.

    patient : int array 0..n_patients-1;  times : datetime64 array;  totals : [{score}]
    Only scores timed in ``[now - window, now]`` count; returns bool[n_patients].
    """
    latest, lowest = _latest_and_extreme(patient, times, totals, now, window, n_patients, np.fmin)
    return (latest - lowest >= rise) & (latest >= to)


def spo2_falling(
    patient: ArrayLike,
    times: ArrayLike,
    spo2: ArrayLike,
    now: Now,
    *,
    n_patients: int,
    window: np.timedelta64 | timedelta = SPO2_FALL_WINDOW,
    fall: float = SPO2_FALL,
) -> NDArray[np.bool_]:
    """Per patient: highest SpO2 within ``window`` minus the latest >= ``fall`` [%].

    Same conventions as ``score_rising``; NaN readings are ignored.
    """
    latest, highest = _latest_and_extreme(patient, times, spo2, now, window, n_patients, np.fmax)
    return highest - latest >= fall


def overdue_severity(band: str | None) -> Severity:
    """How urgent a missed set is: ``OVERDUE_SEVERITY`` of the monitoring band."""
    return OVERDUE_SEVERITY[band or "zero"]


# --- alert lifecycle ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertState:
    """One alert of one kind for one patient (or device).

    ``severity``, ``band`` and ``red`` are what the alert stands at; a rise in any
    of them is notified (``rise``).  ``band`` is '' for kinds without one; ``red``
    the parameters scoring 3.  ``last_notified_severity`` is the severity of the
    latest notification (opened or escalated).
    """

    kind: str
    severity: Severity
    state: AlertStatus
    opened_at: datetime
    last_notified_severity: Severity
    acknowledged_at: datetime | None = None
    clear_since: datetime | None = None
    escalated_at: datetime | None = None
    band: str = ""
    red: frozenset[str] = frozenset()


def rise(alert: AlertState, severity: Severity, band: str = "",
         red: frozenset[str] = frozenset()) -> str | None:
    """What got worse since the alert last stood (None if nothing): the words of a
    notification.  Each of these is notified, acknowledged or not, so an
    acknowledgement covers only what the clinician saw:

    - the severity rose, including back to a level it had fallen from;
    - the band rose within one severity (low-medium -> medium: a new key threshold);
    - a parameter scores 3 that did not (a new red parameter).
    A band of '' on either side (a kind without one, an alert stored before bands
    were kept) is not compared, nor are the red parameters of an alert stored then.
    """
    if severity > alert.severity:
        return f"severity rose from {alert.severity.name.lower()} to {severity.name.lower()}"
    if band and alert.band and BAND_LEVEL[band] > BAND_LEVEL[alert.band]:
        return f"NEWS2 band rose from {alert.band} to {band}"
    new = sorted(red - alert.red) if alert.band or not band else []
    if new:
        return f"new red parameter{'s' if len(new) > 1 else ''}: {', '.join(new)}"
    return None


def step(
    alert: AlertState | None,
    condition: Severity | None,
    now: datetime,
    *,
    kind: str,
    band: str = "",
    red: frozenset[str] = frozenset(),
    hold: timedelta = HOLD,
    escalate_after: Mapping[Severity, timedelta] = ESCALATE_AFTER,
    ack_lapse: Mapping[Severity, timedelta] = ACK_LAPSE,
) -> tuple[AlertState | None, list[str]]:
    """Advance one alert given whether its condition holds at ``now``.

    Events: 'opened' (condition with no live alert; after 'resolved' a new alert
    opens); 'escalated' (notified again: something got worse, ``rise``, which also
    undoes an acknowledgement; or the alert stayed unacknowledged
    ``escalate_after[severity]`` since it was last notified; or an acknowledgement
    lapsed, ``ack_lapse[severity]`` after it was given while the condition still
    holds; boundaries included); 'updated' (severity, band or red parameters fell:
    recorded, nobody notified); 'resolved' (condition clear for ``hold``, boundary
    included).  A severity missing from ``escalate_after`` (INFO) never escalates
    by time.
    """
    if alert is not None and alert.kind != kind:
        raise ValueError(f"alert of kind {alert.kind!r} stepped as {kind!r}")
    if alert is None or alert.state == "resolved":
        if condition is None:
            return alert, []
        opened = AlertState(kind=kind, severity=condition, state="open", opened_at=now,
                            last_notified_severity=condition, band=band, red=red)
        return opened, ["opened"]
    if condition is None:
        return _clearing(alert, now, hold)
    return _holding(alert, condition, band, red, now, escalate_after, ack_lapse)


def acknowledge(alert: AlertState, now: datetime) -> tuple[AlertState, list[str]]:
    """A clinician has seen the alert: stops time escalation until something gets
    worse (``rise``) or, for an emergency, until the acknowledgement lapses."""
    if alert.state != "open":
        return alert, []
    return replace(alert, state="acknowledged", acknowledged_at=now), ["acknowledged"]


def _clearing(alert: AlertState, now: datetime, hold: timedelta) -> tuple[AlertState, list[str]]:
    since = alert.clear_since or now
    if now - since >= hold:  # a kind without a hold resolves at once
        return replace(alert, state="resolved", clear_since=since), ["resolved"]
    if alert.clear_since is None:
        return replace(alert, clear_since=now), []
    return alert, []


def _holding(
    alert: AlertState,
    condition: Severity,
    band: str,
    red: frozenset[str],
    now: datetime,
    escalate_after: Mapping[Severity, timedelta],
    ack_lapse: Mapping[Severity, timedelta],
) -> tuple[AlertState, list[str]]:
    state = replace(alert, clear_since=None, severity=condition, band=band, red=red)
    if rise(alert, condition, band, red) is not None:
        raised = replace(state, state="open", acknowledged_at=None, escalated_at=now,
                         last_notified_severity=condition)
        return raised, ["escalated"]
    fell = (condition, band, red) != (alert.severity, alert.band, alert.red)
    events = ["updated"] if fell else []
    if state.state == "open":
        limit = escalate_after.get(condition)
        last_notified = state.escalated_at or state.opened_at
        if limit is not None and now - last_notified >= limit:
            state = replace(state, escalated_at=now, last_notified_severity=condition)
            events.append("escalated")
    elif state.state == "acknowledged" and state.acknowledged_at is not None:
        lapse = ack_lapse.get(condition)
        if lapse is not None and now - state.acknowledged_at >= lapse:
            state = replace(state, state="open", acknowledged_at=None, escalated_at=now,
                            last_notified_severity=condition)
            events.append("escalated")
    return state, events


# --- helpers -----------------------------------------------------------------------------


def _latest_and_extreme(
    patient: ArrayLike,
    times: ArrayLike,
    values: ArrayLike,
    now: Now,
    window: np.timedelta64 | timedelta,
    n_patients: int,
    extreme: np.ufunc,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per patient, the latest value and the ``extreme`` (np.fmin/np.fmax) of the
    values timed in ``[now - window, now]``; NaN for a patient without any."""
    p = np.asarray(patient, dtype=np.int64)
    t = as_datetimes(times)
    v = np.asarray(values, dtype=np.float64)
    end = as_datetime64(now)
    keep = (t <= end) & (t >= end - np.timedelta64(window)) & ~np.isnan(v)
    p, t, v = p[keep], t[keep], v[keep]
    order = np.lexsort((t, p))  # stable: of equal times the last in input order is latest
    p, v = p[order], v[order]
    last = np.ones(len(p), dtype=bool)
    last[:-1] = p[1:] != p[:-1]
    latest = np.full(n_patients, np.nan)
    latest[p[last]] = v[last]
    bound = np.full(n_patients, np.inf if extreme is np.fmin else -np.inf)
    extreme.at(bound, p, v)
    return latest, np.where(np.isnan(latest), np.nan, bound)
