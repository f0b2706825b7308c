"""Scoring as of any instant: the latest value of each NEWS2 parameter, vectorised.

Observations arrive as flat arrays (patient index, time, parameter index into
``PARAMETERS``, value).  For each scoring instant (patient, time) we want the
latest value of each parameter measured at or before the instant and no older
than a freshness window (design.md, "Scoring").  Instead of a loop over rows,
observations and instants are merged into one array sorted by (patient, time,
observation-before-instant, input order); a running maximum of "position of
the last observation" then forward-fills each instant with the observation just
before it, and a patient check discards a fill that crossed into another patient.

Times are ``datetime64`` (any unit, read as microseconds) or int64 microseconds;
results are ``datetime64[us]`` with NaT where nothing fresh was found.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts.errors import ScoringInputError
from alerts.news2 import PARAMETERS

_NAT = np.iinfo(np.int64).min  # NaT as int64


def latest_values(
    obs_patient: ArrayLike,
    obs_time: ArrayLike,
    obs_param: ArrayLike,
    obs_value: ArrayLike,
    at_patient: ArrayLike,
    at_time: ArrayLike,
    freshness: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.datetime64]]:
    """Latest fresh value of each parameter at each instant.

    Parameters
    ----------
    obs_patient : int array, patient index of each observation
    obs_time : datetime64 or int64 array [us], measurement time
    obs_param : int array, index into ``PARAMETERS``
    obs_value : float array, in the parameter's stored unit; NaN observations are ignored
    at_patient : int array, patient index of each scoring instant
    at_time : datetime64 or int64 array [us], the instant
    freshness : timedelta64 or int [us], scalar or one per parameter (``PARAMETERS`` order)
        A value counts when ``at_time - freshness <= time <= at_time``.

    Returns
    -------
    values : (n, len(PARAMETERS)) float64, NaN where no fresh value
    times : (n, len(PARAMETERS)) datetime64[us], the measurement time of each value, NaT where none;
        the age of a value is ``at_time[:, None] - times``.

    Of several observations of one (patient, parameter, time) the last in input
    order wins (a correction sent later replaces the earlier reading).
    """
    op, ot, oparam, ov = _observations(obs_patient, obs_time, obs_param, obs_value)
    ap = np.asarray(at_patient, dtype=np.int64)
    at = _micros("at_time", at_time)
    if len(ap) != len(at):
        raise ScoringInputError("at_time", (), f"length {len(at)}, expected {len(ap)}")
    fresh = np.broadcast_to(_micros("freshness", freshness), (len(PARAMETERS),))
    values = np.full((len(ap), len(PARAMETERS)), np.nan)
    times = np.full((len(ap), len(PARAMETERS)), _NAT, dtype=np.int64)
    for p in range(len(PARAMETERS)):
        chosen = oparam == p
        source = _latest_before(op[chosen], ot[chosen], ap, at, fresh[p])
        found = source >= 0
        values[found, p] = ov[chosen][source[found]]
        times[found, p] = ot[chosen][source[found]]
    return values, times.view("datetime64[us]")


def _latest_before(
    obs_patient: NDArray[np.int64],
    obs_time: NDArray[np.int64],
    at_patient: NDArray[np.int64],
    at_time: NDArray[np.int64],
    freshness: np.int64,
) -> NDArray[np.intp]:
    """Index into the observations of the latest fresh one per instant, -1 if none."""
    n_obs = len(obs_patient)
    result = np.full(len(at_patient), -1, dtype=np.intp)
    if n_obs == 0:
        return result
    patient = np.concatenate([obs_patient, at_patient])
    time = np.concatenate([obs_time, at_time])
    # An observation at the very instant counts, so observations sort first (0).
    is_instant = np.concatenate([np.zeros(n_obs, np.int8), np.ones(len(at_patient), np.int8)])
    sequence = np.arange(len(patient))  # input order breaks the remaining ties
    order = np.lexsort((sequence, is_instant, time, patient))
    merged_is_obs = is_instant[order] == 0
    last_obs = np.maximum.accumulate(np.where(merged_is_obs, np.arange(len(order)), -1))
    instant = order[~merged_is_obs] - n_obs
    before = last_obs[~merged_is_obs]
    source = np.where(before >= 0, order[np.maximum(before, 0)], -1)
    safe = np.maximum(source, 0)
    found = (
        (source >= 0)
        & (obs_patient[safe] == at_patient[instant])
        & (obs_time[safe] >= at_time[instant] - freshness)
    )
    result[instant] = np.where(found, source, -1)
    return result


def _observations(
    obs_patient: ArrayLike, obs_time: ArrayLike, obs_param: ArrayLike, obs_value: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Validated observation columns, NaN values dropped."""
    patient = np.asarray(obs_patient, dtype=np.int64)
    time = _micros("obs_time", obs_time)
    param = np.asarray(obs_param, dtype=np.int64)
    value = np.asarray(obs_value, dtype=np.float64)
    for name, array in (("obs_time", time), ("obs_param", param), ("obs_value", value)):
        if len(array) != len(patient):
            raise ScoringInputError(name, (), f"length {len(array)}, expected {len(patient)}")
    bad = (param < 0) | (param >= len(PARAMETERS))
    if bad.any():
        raise ScoringInputError("obs_param", np.flatnonzero(bad)[:5], "must be 0..6")
    keep = ~np.isnan(value)
    return patient[keep], time[keep], param[keep], value[keep]


def _micros(name: str, x: ArrayLike) -> NDArray[np.int64]:
    """Times or durations as int64 microseconds (datetime64/timedelta64 of any unit)."""
    array = np.asarray(x)
    if array.dtype.kind == "M":
        array = array.astype("datetime64[us]")
    elif array.dtype.kind == "m":
        array = array.astype("timedelta64[us]")
    elif array.dtype.kind not in "iu":
        raise ScoringInputError(name, (), f"expected datetime64 or int64 [us], got {array.dtype}")
    if array.dtype.kind in "Mm" and np.isnat(array).any():
        raise ScoringInputError(name, np.flatnonzero(np.isnat(array))[:5], "NaT")
    return array.view(np.int64) if array.dtype.kind in "Mm" else array.astype(np.int64)
