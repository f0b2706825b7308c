"""What a stored score shows of the patient (migration 005), for every door that
shows one (the REST API's views, the dashboard's rows): the band a reader must act
on, and each value with its measurement time, its age and whether it is stale.
Pure; no clock read (``at`` is passed in).

``scores.total``/``band`` are the true NEWS2; ``adjusted_total``/``adjusted_band``
the score after a clinician's accepted ranges (NULL when none changed a sub-score),
which alerts follow.  A score that is not complete is a lower bound: what it shows
is never better than the band held since the last complete set (the *monitoring
band*), so a patient never looks better because a value aged out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ward.news2_chart import BAND_LEVEL, MONITORING_INTERVAL, PARAMETERS


def alert_band(band: str, adjusted_band: str | None) -> str:
    """The band alerts follow: the adjusted one where a clinician set one."""
    return adjusted_band or band


def monitoring_band(band: str, adjusted_band: str | None, monitoring: str | None) -> str:
    """The band whose monitoring interval applies: the highest since the last complete
    set.  NULL on rows scored before migration 005: read as the row's own band."""
    return monitoring or alert_band(band, adjusted_band)


def effective_band(band: str, adjusted_band: str | None, monitoring: str | None,
                   complete: bool) -> str:
    """What the score shows of the patient: its own (adjusted) band when complete,
    else the monitoring band (an incomplete set can raise it, never lower it)."""
    if complete:
        return alert_band(band, adjusted_band)
    return monitoring_band(band, adjusted_band, monitoring)


def effective_band_sql(alias: str) -> str:
    """``effective_band`` in SQL over the scores row ``alias``: the database's function
    of the same name (migration 008), which the engine's checks use too."""
    a = f"{alias}."
    return f"effective_band({a}complete, {a}band, {a}adjusted_band, {a}monitoring_band)"


def band_level(band: str | None) -> int:
    """0 (zero) .. 4 (high); -1 for no band."""
    return BAND_LEVEL.get(band or "", -1)


# A live alert of the ward's protocol (ward/protocols.py: COVID-19 oximetry's SpO2
# level, heart failure's weight gain) ranks its patient on the ward as the lowest
# NEWS2 band that demands the same severity (news2_chart.BAND_SEVERITY: low-medium
# and medium are urgent, high an emergency).  So a patient red by their ward's
# protocol (SpO2 92 %) never sorts among the well ones because their NEWS2 is low
# (hazard H64); acknowledging the alert does not lower the rank (a live alert is
# open or acknowledged), only its resolving does.
PROTOCOL_SEVERITY_BAND: dict[str, str] = {"urgent": "low-medium", "emergency": "high"}


def acuity_level(band: str | None, protocol_severity: str | None) -> int:
    """Where the patient ranks on the ward: the higher of the band their score shows
    (``effective_band``; None unscored) and the band their worst live protocol alert
    ranks as (``PROTOCOL_SEVERITY_BAND``); -1 when neither is known."""
    return max(band_level(band), band_level(PROTOCOL_SEVERITY_BAND.get(protocol_severity or "")))


def acuity_level_sql(band_sql: str, severity_sql: str) -> str:
    """``acuity_level`` in SQL (NULL where the Python gives -1), for ORDER BY:
    ``band_sql`` an effective band, ``severity_sql`` the worst live protocol alert."""
    when = " ".join(f"WHEN '{sev}' THEN {BAND_LEVEL[band]}"
                    for sev, band in PROTOCOL_SEVERITY_BAND.items())
    levels = " ".join(f"WHEN '{b}' THEN {n}" for b, n in BAND_LEVEL.items())
    return (f"GREATEST(CASE {band_sql} {levels} END, CASE {severity_sql} {when} END)")


def stale_at(measured_at: datetime | None, band: str, at: datetime) -> bool:
    """Measured longer ago than ``band``'s monitoring interval, as of ``at`` (the
    engine's rule, alerts/scoring.py: exactly the interval is not stale yet)."""
    return measured_at is not None and at - measured_at > MONITORING_INTERVAL[band]


@dataclass(frozen=True, slots=True)
class Value:
    """One parameter of a score: what was scored, when it was measured.

    value : in the parameter's stored unit, None when missing
    sub_score : the true NEWS2 sub-score, None when missing
    measured_at : None when missing, or on a row scored before migration 005
    age : ``at - measured_at`` (None where ``measured_at`` is)
    stale : the engine's judgement at the score's time (``scores.stale``)
    """

    parameter: str
    value: float | None
    sub_score: int | None
    measured_at: datetime | None
    age: timedelta | None
    stale: bool


def values(inputs: Sequence[float | None] | None, sub_scores: Sequence[int] | None,
           input_times: Sequence[datetime | None] | None, stale: Sequence[str] | None,
           at: datetime) -> tuple[Value, ...]:
    """The NEWS2 values of a score row (``PARAMETERS`` order), ages counted to ``at``
    (the score's time for the record, now for a screen).  ``input_times`` is empty on
    rows scored before migration 005: their times and ages are unknown (None)."""
    n = len(PARAMETERS)
    inputs = inputs or [None] * n
    subs = sub_scores or [-1] * n
    times = input_times or [None] * n
    flagged = set(stale or ())
    out = []
    for name, value, sub, t in zip(PARAMETERS, inputs, subs, times, strict=True):
        present = value is not None and sub is not None and sub >= 0
        when = t if present else None
        out.append(Value(name, value if present else None, int(sub) if present else None,
                         when, None if when is None else at - when,
                         present and name in flagged))
    return tuple(out)
