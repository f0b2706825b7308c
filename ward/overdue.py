"""Overdue observations: the one rule, in ward/ because two stages need it.

The alerts engine raises the overdue alert with it (alerts/conditions.py,
through ``alerts.rules.overdue``), and the read path (ward/reads.py, for the
REST API's and the dashboard's ward views) flags a patient with it, so that a
silent patient shows as overdue even while the engine is down (hazard log:
the ward view never hides a deteriorating or silent patient) and by the very
rule the engine alerts on, never a copy that could drift.  Pure numpy; no
clock read (``now`` passed in)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ward.news2_chart import BANDS, MONITORING_INTERVAL

# The alert kind the engine raises for it (alerts.lifecycle.OVERDUE): the read path
# also counts a patient overdue while the engine's own overdue alert is live.
ALERT_KIND = "overdue"


def overdue(
    last_complete_time: ArrayLike, band: ArrayLike, now: np.datetime64 | datetime,
    admitted_at: ArrayLike,
) -> NDArray[np.bool_]:
    """Per patient: no complete set within the monitoring interval its band demands.

    last_complete_time : datetime64 array, NaT if never
    band : str array, the monitoring band of the latest score: the highest band since
        the last complete set (scoring.ScoreTable.monitoring_band); '' or None if never
        scored (then the zero band's 12 h applies)
    admitted_at : datetime64 array; the clock starts at the later of the last
        complete set and admission, so a patient never seen is overdue 12 h after
        admission.  With neither time known the patient is overdue (never hide one).
    """
    return overdue_after(last_complete_time, monitoring_interval(np.asarray(band, dtype=object)),
                         now, admitted_at)


def overdue_after(
    last_time: ArrayLike, interval: ArrayLike, now: np.datetime64 | datetime,
    admitted_at: ArrayLike,
) -> NDArray[np.bool_]:
    """Per patient: nothing since the later of ``last_time`` and admission for longer
    than ``interval`` (timedelta64 per patient); never seen nor admitted: overdue.
    NEWS2's rule above (the interval of the band) and a ward protocol's (the interval
    of its reading's level, ward/protocols.py) both come through here."""
    start = np.fmax(_datetimes(last_time), _datetimes(admitted_at))
    gap = np.asarray(interval).astype("timedelta64[us]")
    return np.isnat(start) | (_datetime64(now) > start + gap)


def monitoring_interval(band: NDArray[np.object_]) -> NDArray[np.timedelta64]:
    """Per patient, the interval its monitoring band demands ('' or None: zero's)."""
    text = band.astype(str)
    band = np.where(np.isin(text, ("", "None")), "zero", text)
    unknown = ~np.isin(band.astype(str), BANDS)
    if unknown.any():
        rows = np.flatnonzero(unknown)[:5].tolist()
        raise ValueError(f"unknown band {str(band[unknown][0])!r} (rows {rows}); known: {BANDS}")
    interval = np.empty(band.shape, dtype="timedelta64[us]")
    for name in BANDS:
        interval[band == name] = np.timedelta64(MONITORING_INTERVAL[name])
    return interval


def times64(values: list[datetime | None] | tuple[datetime | None, ...]) -> NDArray[np.datetime64]:
    """Aware (or naive UTC) datetimes as naive-UTC ``datetime64[us]``, NaT for None:
    rows read from the database, ready for ``overdue``."""
    return np.array([np.datetime64("NaT") if t is None else np.datetime64(
        t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t, "us") for t in values],
        dtype="datetime64[us]")


def _datetimes(x: ArrayLike) -> NDArray[np.datetime64]:
    return np.asarray(x).astype("datetime64[us]")


def _datetime64(now: np.datetime64 | datetime) -> np.datetime64:
    if isinstance(now, np.datetime64):
        return now.astype("datetime64[us]")
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(now, "us")
