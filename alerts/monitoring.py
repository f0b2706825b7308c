"""Which monitoring a patient's scores demand, and which sets are complete: pure numpy.

news2.md: each band demands a minimum monitoring (12 h, 4 h, 1 h, 15 min).  A set
is *complete* only when every parameter was measured within the interval that the
patient's band demands, so a value carried forward from hours ago never makes a
set look complete.  The band that demands it is the *monitoring band*: the highest
band since the last complete set (that set's own band included), and the band of
the set being judged.  A score that is not complete is a lower bound: it can raise
the monitoring band, never lower it; only a complete set can.

The recurrence is sequential per patient (each set's completeness depends on the
monitoring band, which depends on the sets before it), so it runs as a wavefront:
one vectorised step per set position, every patient at once.  Steps are as many as
the most sets one patient has in the call (one or two on the live path).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ward.news2_chart import BANDS, MONITORING_INTERVAL

# Interval of each band level [us], most lenient first (levels index BANDS).
INTERVAL_US = np.array([MONITORING_INTERVAL[b] // timedelta(microseconds=1) for b in BANDS],
                        dtype=np.int64)
NEVER = np.int8(-1)  # complete at no level: a parameter is missing


def complete_up_to(input_times: ArrayLike, at: ArrayLike) -> NDArray[np.int8]:
    """Per set, the highest band level whose interval every parameter is measured within.

    input_times : (n, k) datetime64, when each parameter was measured, NaT if missing
    at : (n,) datetime64, the scoring instant
    Returns int8 level 0..4 (index into ``BANDS``), -1 when a parameter is missing or
    older than even the zero band's interval.  A set is complete for a monitoring
    band ``b`` exactly when ``b <= complete_up_to``.
    """
    times = np.asarray(input_times).astype("datetime64[us]")
    now = np.asarray(at).astype("datetime64[us]")
    if times.ndim != 2 or len(times) != len(now):
        raise ValueError(f"input_times {times.shape} does not match at {now.shape}")
    missing = np.isnat(times).any(axis=1)
    oldest = now.view(np.int64) - np.where(np.isnat(times), now[:, None], times).view(
        np.int64).min(axis=1)
    # Intervals shrink with the level: count the levels whose interval covers the age.
    level = (oldest[:, None] <= INTERVAL_US[None, :]).sum(axis=1) - 1
    return np.where(missing, NEVER, level).astype(np.int8)


def monitoring(
    patient: ArrayLike,
    band_level: ArrayLike,
    complete_level: ArrayLike,
    seed: ArrayLike,
) -> tuple[NDArray[np.int8], NDArray[np.bool_], NDArray[np.int8]]:
    """Monitoring band and completeness of every set, in order, patient by patient.

    patient : (n,) int, sorted (each patient's sets together, in time order)
    band_level : (n,) int, the band level of each set's score (index into ``BANDS``)
    complete_level : (n,) int, ``complete_up_to`` of each set
    seed : (n_patients,) int, the level carried in from before the first set: the
        band of the patient's last stored set if it was complete, else that set's
        monitoring band; -1 when there is none.
    Returns (monitoring_level (n,), complete (n,), carried (n_patients,)): the level
    carried out after each patient's last set (its seed when it has none here).

    For each set: monitoring = max(carried, band); complete = monitoring <= complete
    level; carried becomes the set's band if complete, else its monitoring band.
    """
    p = np.asarray(patient, dtype=np.int64)
    band = np.asarray(band_level, dtype=np.int8)
    limit = np.asarray(complete_level, dtype=np.int8)
    carried = np.array(seed, dtype=np.int8, copy=True)
    n = len(p)
    level = np.empty(n, np.int8)
    complete = np.empty(n, bool)
    if n == 0:
        return level, complete, carried
    if (np.diff(p) < 0).any():
        raise ValueError("sets must be sorted by patient")
    first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    counts = np.diff(np.r_[first, n])
    order = np.argsort(-counts, kind="stable")  # longest first: step k uses a prefix
    first, counts, who = first[order], counts[order], p[first[order]]
    state = carried[who]
    active = len(counts)
    for k in range(int(counts[0])):
        while counts[active - 1] <= k:
            active -= 1
        rows = first[:active] + k
        b = band[rows]
        m = np.maximum(state[:active], b)
        ok = m <= limit[rows]
        level[rows], complete[rows] = m, ok
        state[:active] = np.where(ok, b, m)
    carried[who] = state
    return level, complete, carried
