"""Score rows from observation rows: NEWS2 at every scoring instant, vectorised.

The engine and ``vward rescore`` both come through ``score_rows``, so a score
is the same whichever computed it.  A patient is scored at each distinct
measurement time at or after its ``since``, and at each change of its clinical
settings (a new SpO2 scale or accepted range takes effect at once, not at the
next reading).  The SpO2 scale and accepted ranges are those valid at the
instant.  Rows are columns of numpy arrays; patients are indices into a list
of ids that the caller keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from alerts import monitoring
from alerts.asof import latest_values
from alerts.news2 import score_news2
from ward.news2_chart import ACVPU, BANDS, PARAMETERS

_MIN_TIME = np.iinfo(np.int64).min + 1  # below every real time [us]
_MAX_TIME = np.iinfo(np.int64).max  # an open-ended setting [us]
_PARAMETER_INDEX = {name: i for i, name in enumerate(PARAMETERS)}


@dataclass(frozen=True, slots=True)
class Observations:
    """Observation rows as columns.

    patient : int64, index into the caller's patient ids
    time : datetime64[us], measurement time
    param : int64, index into ``news2.PARAMETERS``
    value : float64, in the parameter's stored unit (observations table)
    """

    patient: NDArray[np.int64]
    time: NDArray[np.datetime64]
    param: NDArray[np.int64]
    value: NDArray[np.float64]

    @classmethod
    def empty(cls) -> Observations:
        return cls(np.empty(0, np.int64), np.empty(0, "datetime64[us]"), np.empty(0, np.int64),
                   np.empty(0, np.float64))

    def __len__(self) -> int:
        return len(self.patient)

    def followed_by(self, other: Observations) -> Observations:
        """These rows, then ``other``'s (of one time and parameter, the later row wins)."""
        if not len(self):
            return other
        return Observations(*(np.concatenate((getattr(self, f.name), getattr(other, f.name)))
                              for f in fields(self)))


@dataclass(frozen=True, slots=True)
class Settings:
    """Clinical settings rows (patient_settings) as columns, in the order they were made.

    patient : int64;  kind : 'spo2_scale' or 'accepted_range'
    parameter : the accepted range's parameter, '' for a scale
    spo2_scale : 1 or 2, NaN for a range;  low, high : the range [parameter's unit]
    valid_from, valid_to : datetime64[us], NaT valid_to = until changed
    """

    patient: NDArray[np.int64]
    kind: NDArray[np.str_]
    parameter: NDArray[np.str_]
    spo2_scale: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    valid_from: NDArray[np.datetime64]
    valid_to: NDArray[np.datetime64]

    @classmethod
    def empty(cls) -> Settings:
        e = np.empty(0)
        t = np.empty(0, "datetime64[us]")
        return cls(np.empty(0, np.int64), e.astype(str), e.astype(str), e, e, e, t, t)

    def __len__(self) -> int:
        return len(self.patient)


@dataclass(frozen=True, slots=True)
class ScoreTable:
    """Score rows, sorted by patient then time (as the scores table holds them).

    patient : int64;  time : datetime64[us], the scoring instant
    k = len(PARAMETERS): the per-parameter arrays have k columns, in ``PARAMETERS`` order
    total, band, max_single, sub_scores : the true NEWS2, straight from the chart
        (RCP's NEWS2 has no per-patient adjustments): int8 0..20; str; int8;
        (n, k) int8 with -1 = missing
    adjusted_total, adjusted_band : the score after the patient's accepted ranges
        (equal to the true one where ``overridden`` has nothing); what alerts and
        the monitoring band follow, a red (3) parameter being never adjusted away
    complete : bool, every parameter measured within the interval that
        ``monitoring_band`` demands (alerts/monitoring.py)
    inputs : (n, k) float64, NaN = missing;  input_times : (n, k) datetime64[us], when
        each value was measured, NaT = missing;  stale : (n, k) bool, present but
        measured longer ago than ``monitoring_band``'s interval
    monitoring_band : str, the highest band since the last complete set
    spo2_scale : int8 1 or 2;  overridden : (n, k) bool, an accepted range zeroed it
    """

    patient: NDArray[np.int64]
    time: NDArray[np.datetime64]
    total: NDArray[np.int8]
    band: NDArray[np.str_]
    max_single: NDArray[np.int8]
    complete: NDArray[np.bool_]
    sub_scores: NDArray[np.int8]
    inputs: NDArray[np.float64]
    spo2_scale: NDArray[np.int8]
    overridden: NDArray[np.bool_]
    adjusted_total: NDArray[np.int8]
    adjusted_band: NDArray[np.str_]
    input_times: NDArray[np.datetime64]
    stale: NDArray[np.bool_]
    monitoring_band: NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.patient)

    @classmethod
    def empty(cls) -> ScoreTable:
        k = len(PARAMETERS)
        text = np.empty(0, "<U10")
        return cls(np.empty(0, np.int64), np.empty(0, "datetime64[us]"), np.empty(0, np.int8),
                   text, np.empty(0, np.int8), np.empty(0, bool), np.empty((0, k), np.int8),
                   np.empty((0, k)), np.empty(0, np.int8), np.empty((0, k), bool),
                   np.empty(0, np.int8), text, np.empty((0, k), "datetime64[us]"),
                   np.empty((0, k), bool), text)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> ScoreTable:
        return ScoreTable(*(getattr(self, f.name)[index] for f in fields(self)))

    def missing_names(self, i: int) -> list[str]:
        return [p for p, s in zip(PARAMETERS, self.sub_scores[i], strict=True) if s < 0]

    def merged(self, newer: ScoreTable) -> ScoreTable:
        """Both tables' rows, sorted; at an instant present in both, ``newer``'s row."""
        both = ScoreTable(*(np.concatenate([getattr(self, f.name), getattr(newer, f.name)])
                            for f in fields(self)))
        source = np.concatenate([np.zeros(len(self), np.int8), np.ones(len(newer), np.int8)])
        order = np.lexsort((source, both.time, both.patient))
        both = both.take(order)
        last = np.ones(len(both), dtype=bool)
        last[:-1] = (both.patient[1:] != both.patient[:-1]) | (both.time[1:] != both.time[:-1])
        return both.take(last)

    @property
    def alert_level(self) -> NDArray[np.int8]:
        """The level (index into ``BANDS``) alerts follow: the adjusted band's."""
        return band_levels(self.adjusted_band)

    @property
    def monitoring_level(self) -> NDArray[np.int8]:
        return band_levels(self.monitoring_band)

    @property
    def effective_level(self) -> NDArray[np.int8]:
        """What the set shows of the patient: a complete set its own (adjusted) band; an
        incomplete one is a lower bound and cannot lower what the monitoring band holds."""
        return np.where(self.complete, self.alert_level, self.monitoring_level).astype(np.int8)


def band_levels(band: NDArray[np.str_]) -> NDArray[np.int8]:
    """Band names as levels 0..4 (index into ``BANDS``); unknown names refused."""
    band = np.asarray(band).astype(str)
    level = np.full(band.shape, -1, np.int8)
    for i, name in enumerate(BANDS):
        level[band == name] = i
    if (level < 0).any():
        raise ValueError(f"unknown band {band[level < 0][0]!r}; known: {BANDS}")
    return level


def score_rows(
    obs: Observations,
    settings: Settings,
    since: NDArray[np.datetime64],
    now: np.datetime64,
    freshness: np.timedelta64,
    seed: NDArray[np.int8] | None = None,
) -> ScoreTable:
    """NEWS2 of every scoring instant of every patient at or after its ``since``.

    obs : the patients' observations from at least ``since - freshness`` on
    settings : the patients' clinical settings (any validity)
    since : datetime64[us] per patient index (``len(since)`` patients)
    now : datetime64[us]; a setting that begins or ends after it adds no instant
    freshness : timedelta64, how old a value may be and still count in the total
    seed : int8 per patient, the monitoring level carried in from the patient's last
        stored score before ``since`` (its ``effective_level``), -1 for none

    An instant at which no parameter has a fresh value gives no row.  A value the chart
    cannot score (ingest refuses them, so only a hand-written row can hold one: a
    negative, SpO2 above 100 %, on_oxygen not 0/1, an unknown ACVPU code) is left out,
    as if it had not been measured, rather than stopping the patient's scoring.
    """
    since_us = np.asarray(since, "datetime64[us]").view(np.int64)
    obs = _scorable(obs)
    at_patient, at_time = _instants(obs, settings, since_us, int(_us(now)))
    if len(at_patient) == 0:
        return ScoreTable.empty()
    values, times = latest_values(obs.patient, obs.time, obs.param, obs.value, at_patient,
                                  at_time.view("datetime64[us]"), freshness)
    keep = ~np.isnan(values).all(axis=1)
    at_patient, at_time, values, times = at_patient[keep], at_time[keep], values[keep], times[keep]
    at = at_time.view("datetime64[us]")
    scale, accepted = _settings_at(settings, at_patient, at_time)
    result = score_news2(**dict(zip(PARAMETERS, values.T, strict=True)), spo2_scale=scale,
                         accepted=accepted or None)
    seeds = np.full(len(since_us), -1, np.int8) if seed is None else np.asarray(seed, np.int8)
    level, complete, _ = monitoring.monitoring(
        at_patient, result.band_code, monitoring.complete_up_to(times, at), seeds)
    interval = monitoring.INTERVAL_US[level]
    age = at.view(np.int64)[:, None] - times.view(np.int64)
    stale = ~np.isnat(times) & (age > interval[:, None])
    names = np.array(BANDS)
    return ScoreTable(
        patient=at_patient,
        time=at,
        total=np.array(result.unadjusted_total),
        band=np.array(result.unadjusted_band),
        max_single=np.array(result.unadjusted_max_single),
        complete=complete,
        sub_scores=np.array(result.unadjusted_scores),
        inputs=values,
        spo2_scale=scale.astype(np.int8),
        overridden=np.array(result.overridden),
        adjusted_total=np.array(result.total),
        adjusted_band=np.array(result.band),
        input_times=times,
        stale=stale,
        monitoring_band=names[level],
    )


def unscorable(obs: Observations) -> NDArray[np.bool_]:
    """Observations whose value the NEWS2 chart cannot score."""
    v, param = obs.value, obs.param
    bad = ~np.isfinite(v) | (v < 0)
    bad |= (param == _PARAMETER_INDEX["spo2"]) & (v > 100)
    bad |= (param == _PARAMETER_INDEX["on_oxygen"]) & (v != 0) & (v != 1)
    bad |= (param == _PARAMETER_INDEX["consciousness"]) & (
        (v > len(ACVPU) - 1) | (v != np.round(v)))
    return bad


def _scorable(obs: Observations) -> Observations:
    bad = unscorable(obs)
    if not bad.any():
        return obs
    keep = ~bad
    return Observations(obs.patient[keep], obs.time[keep], obs.param[keep], obs.value[keep])


def _instants(
    obs: Observations, settings: Settings, since_us: NDArray[np.int64], now_us: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Distinct (patient, time) instants at or after each patient's since, sorted."""
    obs_time = _us(obs.time)
    keep = obs_time >= since_us[obs.patient]
    patient = [obs.patient[keep]]
    time = [obs_time[keep]]
    if len(settings):
        for edge in (_us(settings.valid_from), _us(settings.valid_to, missing=_MAX_TIME)):
            inside = (edge >= since_us[settings.patient]) & (edge <= now_us)
            patient.append(settings.patient[inside])
            time.append(edge[inside])
    p, t = np.concatenate(patient), np.concatenate(time)
    order = np.lexsort((t, p))
    p, t = p[order], t[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = (p[1:] != p[:-1]) | (t[1:] != t[:-1])
    return p[first], t[first]


def _settings_at(
    settings: Settings, at_patient: NDArray[np.int64], at_time: NDArray[np.int64]
) -> tuple[NDArray[np.float64], dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]]:
    """SpO2 scale and accepted ranges valid at each instant (instants sorted by patient,
    time).  A loop over settings rows, which are few, each setting a slice of instants."""
    n = len(at_patient)
    scale = np.ones(n)
    accepted: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    valid_from = _us(settings.valid_from)
    valid_to = _us(settings.valid_to, missing=_MAX_TIME)
    starts = np.searchsorted(at_patient, settings.patient, side="left")
    ends = np.searchsorted(at_patient, settings.patient, side="right")
    for i in range(len(settings)):
        lo, hi = starts[i], ends[i]
        times = at_time[lo:hi]
        a = lo + np.searchsorted(times, valid_from[i], side="left")
        b = lo + np.searchsorted(times, valid_to[i], side="left")
        if a >= b:
            continue
        if settings.kind[i] == "spo2_scale":
            scale[a:b] = settings.spo2_scale[i]
        elif settings.parameter[i] in _PARAMETER_INDEX:
            low, high = accepted.setdefault(
                str(settings.parameter[i]), (np.full(n, np.nan), np.full(n, np.nan)))
            low[a:b], high[a:b] = settings.low[i], settings.high[i]
    return scale, accepted


def _us(x: object, missing: int | None = None) -> NDArray[np.int64]:
    """datetime64 as int64 microseconds; NaT becomes ``missing`` when given."""
    array = np.asarray(x).astype("datetime64[us]")
    out = array.view(np.int64)
    if missing is not None:
        out = np.where(np.isnat(array), missing, out)
    return out
