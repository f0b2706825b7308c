"""NEWS2 scoring as pure numpy functions over arrays (news2.md, design.md "Scoring").

One element per observation set (a patient at an instant).  Encodings match the
``observations`` table: consciousness as the ACVPU code 0=A 1=C 2=V 3=P 4=U,
on_oxygen 1.0 (oxygen) / 0.0 (air), NaN for a missing value.  Sub-scores are
``int8`` with ``-1`` for a missing parameter; a missing parameter adds 0 to the
total, so an incomplete total is a lower bound (news2.md, "Partial sets").

Speed (``python -m benchmarks.news2_core``): each chart row is a sum of comparisons
written into byte buffers (no searchsorted, no temporaries), and ``score_news2``
works in blocks of rows so that a column read from memory once stays in cache
while it is checked and compared with every edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts.errors import ScoringInputError
from alerts.news2_inputs import as_float as _as_float
from alerts.news2_inputs import common_length as _common_length
from alerts.news2_inputs import consciousness_codes as _consciousness_codes
from alerts.news2_inputs import reject as _reject
from alerts.news2_inputs import validate as _validate
from ward import news2_chart as chart
from ward.news2_chart import ACVPU, BANDS, OXYGEN_POINTS, PARAMETERS, RED

# The chart is data in ward/news2_chart.py; this module turns it into the kernel.
_OXYGEN_POINTS = np.int8(OXYGEN_POINTS)
_SCALES = tuple(float(s) for s in chart.SPO2_SCALES)
_K = len(PARAMETERS)  # columns of every (rows x _K) array, in PARAMETERS order
_COLUMN = {name: i for i, name in enumerate(PARAMETERS)}
_SPO2, _ON_OXYGEN, _CONSCIOUSNESS = (_COLUMN[p] for p in ("spo2", "on_oxygen", "consciousness"))
_BAND_NAMES = np.array(BANDS)
# Rows per block: a block's float64 column (1 MiB) stays in cache across its ~10
# passes, and ~100 numpy calls per block cost little beside the work (measured).
_BLOCK = 131_072

Ladder = tuple[tuple[np.ufunc, float, int], ...]


def _ladder(edges: NDArray[np.float64], points: NDArray[np.int8]) -> Ladder:
    """A chart row as ``(compare, edge, weight)`` terms: points = sum(weight * compare).

    The chart falls to its 0-point band and rises after it: below, each edge
    adds its step when ``v <= edge``; above, when ``v > edge``.  All weights are
    positive and NaN compares false, so a missing value scores 0 by itself.
    """
    zero = int(np.argmin(points))
    steps = np.diff(points.astype(int))
    assert points[zero] == 0 and (steps[:zero] <= 0).all() and (steps[zero:] >= 0).all()
    terms = [
        (np.less_equal, float(e), -int(d)) if k < zero else (np.greater, float(e), int(d))
        for k, (e, d) in enumerate(zip(edges, steps, strict=True))
    ]
    return tuple(t for t in terms if t[2])


_RESPIRATORY_RATE_LADDER = _ladder(chart.RESPIRATORY_RATE_EDGES, chart.RESPIRATORY_RATE_POINTS)
_SPO2_SCALE1_LADDER = _ladder(chart.SPO2_SCALE1_EDGES, chart.SPO2_SCALE1_POINTS)
_SPO2_SCALE2_AIR_LADDER = _ladder(chart.SPO2_SCALE2_EDGES, chart.SPO2_SCALE2_AIR_POINTS)
# On oxygen, scale 2 adds the steps above 92 that the air row does not have.
_SPO2_SCALE2_OXYGEN = _ladder(chart.SPO2_SCALE2_EDGES, chart.SPO2_SCALE2_OXYGEN_POINTS)
_SPO2_SCALE2_OXYGEN_EXTRA = _SPO2_SCALE2_OXYGEN[3:]
assert _SPO2_SCALE2_OXYGEN[:3] == _SPO2_SCALE2_AIR_LADDER
_SYSTOLIC_BP_LADDER = _ladder(chart.SYSTOLIC_BP_EDGES, chart.SYSTOLIC_BP_POINTS)
_HEART_RATE_LADDER = _ladder(chart.HEART_RATE_EDGES, chart.HEART_RATE_POINTS)
_CONSCIOUSNESS_LADDER = _ladder(np.arange(len(ACVPU) - 1.0), chart.CONSCIOUSNESS_POINTS)
_TEMPERATURE_LADDER = _ladder(chart.TEMPERATURE_EDGES, chart.TEMPERATURE_POINTS)
# Columns scored by their ladder alone (chart.CASCADES), none below 0 nor infinite.
_CASCADES = tuple((PARAMETERS.index(name), _ladder(edges, points))
                  for name, (edges, points) in chart.CASCADES.items())


@dataclass(frozen=True, slots=True)
class News2Result:
    """NEWS2 of ``n`` observation sets; every array has ``n`` rows (read-only).

    k = len(PARAMETERS), columns in ``PARAMETERS`` order:
    scores : (n, k) int8, sub-scores after accepted ranges, -1 = missing
    unadjusted_scores : (n, k) int8, straight from the chart, -1 = missing
    missing : (n, k) bool, parameter absent
    overridden : (n, k) bool, a clinician-accepted range zeroed a sub-score of 1 or 2
        (never a 3: a red parameter always counts, whatever range a caller passes)
    total, unadjusted_total : int8 in 0..20, missing parameters counted as 0
    band_code, unadjusted_band_code : int8, index into ``BANDS``
    band, unadjusted_band : str, one of ``BANDS`` (built from the codes on first use)
    max_single, unadjusted_max_single : int8, the largest sub-score (0 when all are missing)
    complete : bool, every parameter present
    """

    PARAMETERS: ClassVar[tuple[str, ...]] = PARAMETERS

    scores: NDArray[np.int8]
    unadjusted_scores: NDArray[np.int8]
    missing: NDArray[np.bool_]
    overridden: NDArray[np.bool_]
    total: NDArray[np.int8]
    unadjusted_total: NDArray[np.int8]
    band_code: NDArray[np.int8]
    unadjusted_band_code: NDArray[np.int8]
    max_single: NDArray[np.int8]
    unadjusted_max_single: NDArray[np.int8]
    complete: NDArray[np.bool_]
    _names: dict[int, NDArray[np.str_]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __len__(self) -> int:
        return len(self.total)

    band = property(lambda self: self._band_names(self.band_code))
    unadjusted_band = property(lambda self: self._band_names(self.unadjusted_band_code))

    def _band_names(self, code: NDArray[np.int8]) -> NDArray[np.str_]:
        # 40 bytes a row as str: built on first use from the codes, then kept.
        if id(code) not in self._names:
            names = _BAND_NAMES.take(code.astype(np.intp))  # twice as fast as [code]
            names.flags.writeable = False
            self._names[id(code)] = names
        return self._names[id(code)]

    def missing_names(self, i: int) -> tuple[str, ...]:
        """Names of the parameters missing from row ``i``, in ``PARAMETERS`` order."""
        return tuple(p for p, m in zip(PARAMETERS, self.missing[i], strict=True) if m)

    # Sub-score columns by name (after accepted ranges; -1 = missing).
    respiratory_rate = property(lambda self: self.scores[:, _COLUMN["respiratory_rate"]])
    spo2 = property(lambda self: self.scores[:, _SPO2])
    on_oxygen = property(lambda self: self.scores[:, _ON_OXYGEN])
    systolic_bp = property(lambda self: self.scores[:, _COLUMN["systolic_bp"]])
    heart_rate = property(lambda self: self.scores[:, _COLUMN["heart_rate"]])
    consciousness = property(lambda self: self.scores[:, _CONSCIOUSNESS])
    temperature = property(lambda self: self.scores[:, _COLUMN["temperature"]])


def score_news2(
    *,
    respiratory_rate: ArrayLike,
    spo2: ArrayLike,
    on_oxygen: ArrayLike,
    systolic_bp: ArrayLike,
    heart_rate: ArrayLike,
    consciousness: ArrayLike,
    temperature: ArrayLike,
    spo2_scale: ArrayLike,
    accepted: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
) -> News2Result:
    """Score NEWS2 for ``n`` observation sets.

    Parameters
    ----------
    respiratory_rate : array [/min]
    spo2 : array [%], at most 100
    on_oxygen : array [1], 1/True on oxygen, 0/False on air
    systolic_bp : array [mm[Hg]]
    heart_rate : array [/min]
    consciousness : array of 'A','C','V','P','U' (any case) or codes 0..4
    temperature : array [Cel]
    spo2_scale : array or scalar [1], 1 or 2 per row (scale 2 only when prescribed)
    accepted : mapping parameter name -> (low, high) arrays [parameter's unit], optional
        Clinician-accepted range per row: a value with low <= value <= high
        scores 0 for that parameter where the chart gives it 1 or 2; a 3 stays 3.
        A row whose low or high is NaN has no override.

    Missing values are NaN or None.  Missing on_oxygen counts as air (a lower
    bound; on scale 2 an SpO2 above 92 then scores 0) and is marked missing.

    Raises
    ------
    ScoringInputError
        Naming the parameter and first rows: a negative or infinite value, SpO2
        above 100, an unknown consciousness letter or code, on_oxygen not 0/1,
        spo2_scale not 1 or 2, arrays of unequal length.
    """
    given = {"respiratory_rate": respiratory_rate, "spo2": spo2, "on_oxygen": on_oxygen,
             "systolic_bp": systolic_bp, "heart_rate": heart_rate,
             "consciousness": consciousness, "temperature": temperature}
    columns = [_consciousness_codes(given[p]) if p == "consciousness" else _as_float(p, given[p])
               for p in PARAMETERS]
    n = _common_length(PARAMETERS, columns)
    scale = _as_float("spo2_scale", np.atleast_1d(np.asarray(spo2_scale)))
    if len(scale) not in (1, n):
        raise ScoringInputError("spo2_scale", (), f"length {len(scale)}, expected {n}")
    raw, missing, total, top, band, complete = _score_blocks(columns, scale, n)
    scores, overridden, adjusted = raw, np.broadcast_to(False, raw.shape), (total, top, band)
    if accepted is not None:
        scores, overridden, adjusted = _adjusted(raw, columns, accepted)
    arrays = (scores, raw, missing, overridden, adjusted[0], total, adjusted[2], band,
              adjusted[1], top, complete)
    for array in arrays:
        array.flags.writeable = False
    return News2Result(*arrays)


def band_of(total: NDArray[np.integer], max_single: NDArray[np.integer]) -> NDArray[np.str_]:
    """Aggregate band per news2.md: high >= 7; medium 5-6; low-medium when a single
    parameter scores 3 and the total is below 5; low 1-4; zero."""
    total, top = np.broadcast_arrays(np.asarray(total), np.asarray(max_single))
    code = np.empty(total.shape, np.int8)
    flat = (total.reshape(-1), top.reshape(-1), code.reshape(-1))
    _band_code(*flat, np.empty((2, total.size), np.bool_))
    return _BAND_NAMES[code]


def score_respiratory_rate(respiratory_rate: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 respiration rate sub-score, -1 where NaN [/min]."""
    return _score(respiratory_rate, _RESPIRATORY_RATE_LADDER)


def score_spo2(
    spo2: NDArray[np.float64], on_oxygen: NDArray[np.float64], scale: NDArray[np.int8]
) -> NDArray[np.int8]:
    """NEWS2 SpO2 sub-score on scale 1 or 2 per row, -1 where SpO2 is NaN [%].

    On scale 2 only oxygen (``on_oxygen == 1``) scores SpO2 above 92; NaN counts as air.
    """
    spo2 = np.asarray(spo2, np.float64)
    scale2 = _spo2_scale2(spo2, np.broadcast_to(np.asarray(on_oxygen) == 1, spo2.shape))
    points = np.where(np.asarray(scale) == 2, scale2, _points(spo2, _SPO2_SCALE1_LADDER))
    return (points - np.isnan(spo2)).astype(np.int8)


def score_on_oxygen(on_oxygen: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 "air or oxygen" sub-score: 2 on oxygen, 0 on air, -1 where NaN [1]."""
    on_oxygen = np.asarray(on_oxygen, np.float64)
    return ((on_oxygen == 1) * _OXYGEN_POINTS - np.isnan(on_oxygen)).astype(np.int8)


def score_systolic_bp(systolic_bp: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 systolic blood pressure sub-score, -1 where NaN [mm[Hg]]."""
    return _score(systolic_bp, _SYSTOLIC_BP_LADDER)


def score_heart_rate(heart_rate: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 pulse sub-score, -1 where NaN [/min]."""
    return _score(heart_rate, _HEART_RATE_LADDER)


def score_consciousness(code: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 consciousness sub-score from ACVPU codes 0..4, -1 where NaN [{ACVPU}]."""
    return _score(code, _CONSCIOUSNESS_LADDER)


def score_temperature(temperature: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 temperature sub-score, -1 where NaN [Cel]."""
    return _score(temperature, _TEMPERATURE_LADDER)


# --- the kernel: comparisons written into byte buffers, a block of rows at a time ----------


def _score_blocks(columns: list[NDArray[np.float64]], scale: NDArray[np.float64], n: int) -> Any:
    """(raw sub-scores with -1 = missing, missing, total, top, band code, complete)."""
    k = _K
    arena = np.empty((2 * k + 4) * n, np.int8)  # one allocation for all results beats six
    raw = arena[: k * n].reshape(k, n).T  # (n, k), columns contiguous
    missing = arena[k * n : 2 * k * n].view(np.bool_).reshape(k, n).T
    total, top, band = arena[2 * k * n : (2 * k + 3) * n].reshape(3, n)
    complete = arena[(2 * k + 3) * n :].view(np.bool_)
    tmp, x = np.empty((2, min(n, _BLOCK)), np.bool_), np.empty(min(n, _BLOCK))
    for start in range(0, n, _BLOCK):
        rows = slice(start, start + _BLOCK)
        block = [c[rows] for c in columns]
        block_scale = scale if len(scale) == 1 else scale[rows]
        if not _score_block(block, block_scale, raw[rows], missing[rows], tmp, x):
            _validate(columns, scale)  # names the parameter and rows, and raises
            raise AssertionError("_score_block and _validate disagree")  # pragma: no cover
        _aggregate(raw[rows], total[rows], top[rows], band[rows], tmp)
        np.logical_not(np.logical_or.reduce(missing[rows], axis=1), out=complete[rows])
        np.subtract(raw[rows], missing[rows].view(np.int8), out=raw[rows])  # -1 = missing
    return raw, missing, total, top, band, complete


def _points(values: NDArray[np.float64], ladder: Ladder, out: Any = None, tmp: Any = None) -> Any:
    """The ladder's points for ``values``, 0 where NaN (into ``out``; ``tmp`` is scratch)."""
    out = np.empty(values.shape, np.int8) if out is None else out
    tmp = np.empty(values.shape, np.bool_) if tmp is None else tmp
    for k, (compare, edge, weight) in enumerate(ladder):
        step = compare(values, edge, out=out.view(np.bool_) if k == 0 else tmp).view(np.int8)
        if weight != 1:
            np.multiply(step, weight, out=step)
        if k:
            np.add(out, step, out=out)
    return out


def _score(values: ArrayLike, ladder: Ladder) -> NDArray[np.int8]:
    values = np.asarray(values, np.float64)
    return np.subtract(_points(values, ladder), np.isnan(values), dtype=np.int8)


def _spo2_scale2(spo2: NDArray[np.float64], oxygen: NDArray[np.bool_]) -> NDArray[np.int8]:
    """SpO2 scale 2 points, 0 where NaN [%]; above 92 only oxygen scores."""
    return (
        _points(spo2, _SPO2_SCALE2_AIR_LADDER) + _points(spo2, _SPO2_SCALE2_OXYGEN_EXTRA) * oxygen
    )


def _score_block(
    columns: list[NDArray[np.float64]],
    scale: NDArray[np.float64],
    points: NDArray[np.int8],
    missing: NDArray[np.bool_],
    tmp: NDArray[np.bool_],
    x: NDArray[np.float64],
) -> bool:
    """Chart points (0 where missing) and ``missing`` of one block; False if input is bad.

    The checks are exactly those of ``_validate``, made by reductions and counts
    while the block is in cache; on False the caller runs ``_validate``.
    """
    n, count, fmin, fmax = len(points), np.count_nonzero, np.fmin.reduce, np.fmax.reduce
    a, scale2 = tmp[0, :n], tmp[1, :n]
    ok = True
    for j, ladder in _CASCADES:
        values = columns[j]  # fmin/fmax are NaN only when all values are
        ok &= not (fmin(values) < 0 or fmax(values) == np.inf)
        np.isnan(values, out=missing[:, j])
        _points(values, ladder, points[:, j], a)
    on_oxygen, oxygen = columns[_ON_OXYGEN], points[:, _ON_OXYGEN].view(np.bool_)
    np.isnan(on_oxygen, out=missing[:, _ON_OXYGEN])
    np.equal(on_oxygen, 1.0, out=oxygen)
    ok &= count(oxygen) + count(np.equal(on_oxygen, 0.0, out=a)) + count(
        missing[:, _ON_OXYGEN]) == n
    code = columns[_CONSCIOUSNESS]  # whole ACVPU codes or NaN
    ok &= not (fmin(code) < 0 or fmax(code) > len(ACVPU) - 1)
    np.isnan(code, out=missing[:, _CONSCIOUSNESS])
    ok &= count(np.equal(np.trunc(code, out=x[:n]), code, out=a)) + count(
        missing[:, _CONSCIOUSNESS]) == n
    _points(code, _CONSCIOUSNESS_LADDER, points[:, _CONSCIOUSNESS], a)
    if len(scale) == 1:
        ok &= scale[0] in _SCALES
        scale2[:] = scale[0] == 2.0
    else:
        np.equal(scale, 2.0, out=scale2)
        ok &= count(np.equal(scale, 1.0, out=a)) + count(scale2) == n
    spo2 = columns[_SPO2]
    ok &= not (fmin(spo2) < 0 or fmax(spo2) > 100)
    np.isnan(spo2, out=missing[:, _SPO2])
    _points(spo2, _SPO2_SCALE1_LADDER, points[:, _SPO2], a)
    if scale2.any():  # scale 2 is for few patients: score those rows apart
        rows = np.flatnonzero(scale2) if len(scale) > 1 else slice(None)
        points[rows, _SPO2] = _spo2_scale2(spo2[rows], oxygen[rows])
    np.multiply(points[:, _ON_OXYGEN], _OXYGEN_POINTS, out=points[:, _ON_OXYGEN])
    return bool(ok)


def _aggregate(points: Any, total: Any, top: Any, code: Any, tmp: NDArray[np.bool_]) -> None:
    """Total, largest single and band code of (rows x k) int8 points >= 0."""
    np.add.reduce(points, axis=1, dtype=np.int8, out=total)
    np.maximum.reduce(points, axis=1, out=top)
    _band_code(total, top, code, tmp[:, : len(total)])


def _band_code(total: Any, top: Any, code: NDArray[np.int8], tmp: NDArray[np.bool_]) -> None:
    # [t >= low] + 2 [t >= medium] + [t >= high] indexes BANDS, but for low (1) ->
    # low-medium (2) when a single parameter scores RED and the total is below medium.
    a, b = tmp[0].view(np.int8), tmp[1].view(np.int8)
    np.greater_equal(total, chart.LOW_TOTAL, out=code.view(np.bool_))
    np.add(code, np.greater_equal(total, chart.MEDIUM_TOTAL, out=tmp[1]).view(np.int8), out=code)
    np.add(code, b, out=code)
    np.greater(np.greater_equal(top, RED, out=tmp[0]), tmp[1], out=tmp[0])  # red, < medium
    np.add(code, a, out=code)
    np.add(code, np.greater_equal(total, chart.HIGH_TOTAL, out=tmp[0]).view(np.int8), out=code)


def _adjusted(raw: NDArray[np.int8], columns: list[NDArray[np.float64]],
              accepted: Mapping[str, tuple[ArrayLike, ArrayLike]]) -> Any:
    """(scores, overridden, (total, top, band code)) after the accepted ranges."""
    scores = raw.copy(order="F")
    for name, (low, high) in accepted.items():
        if name not in PARAMETERS:
            raise ScoringInputError(name, (), f"not a NEWS2 parameter {PARAMETERS}")
        lo = _as_float(f"accepted[{name}].low", low)
        hi = _as_float(f"accepted[{name}].high", high)
        _common_length(
            (name, f"accepted[{name}].low", f"accepted[{name}].high"), [raw[:, 0], lo, hi]
        )
        _reject(f"accepted[{name}]", lo > hi, "low above high")
        column = PARAMETERS.index(name)
        value = columns[column]
        inside = (value >= lo) & (value <= hi)
        amber = (raw[:, column] > 0) & (raw[:, column] < RED)
        scores[inside & amber, column] = 0
    total, top, band = np.empty((3, len(raw)), np.int8)
    _aggregate(np.maximum(scores, 0), total, top, band, np.empty((2, len(raw)), np.bool_))
    return scores, scores != raw, (total, top, band)
