"""NEWS2 scoring as pure numpy functions over arrays (news2.md, design.md "Scoring").

One element per observation set (a patient at an instant).  Encodings match the
``observations`` table: consciousness as the ACVPU code 0=A 1=C 2=V 3=P 4=U,
on_oxygen 1.0 (oxygen) / 0.0 (air), NaN for a missing value.  Sub-scores are
``int8`` with ``-1`` for a missing parameter; a missing parameter adds 0 to the
total, so an incomplete total is a lower bound (news2.md, "Partial sets").
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts.errors import ScoringInputError
from ward.domain import ACVPU

# Column order of every (rows x 7) array; also the parameter index used by asof.py.
PARAMETERS: tuple[str, ...] = (
    "respiratory_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)
BANDS: tuple[str, ...] = ("zero", "low", "low-medium", "medium", "high")

# RCP 2017 NEWS2 chart (news2.md, "Parameter scores"), applied as an
# upper-inclusive cascade on the raw value: score = POINTS[searchsorted(EDGES, v)],
# i.e. v <= EDGES[0] -> POINTS[0], EDGES[0] < v <= EDGES[1] -> POINTS[1], ...
# No rounding first: temperature 35.05 -> 1, systolic 90.5 -> 2.
_RESPIRATORY_RATE_EDGES = np.array([8.0, 11.0, 20.0, 24.0])  # [/min]
_RESPIRATORY_RATE_POINTS = np.array([3, 1, 0, 2, 3], dtype=np.int8)
_SPO2_SCALE1_EDGES = np.array([91.0, 93.0, 95.0])  # [%]
_SPO2_SCALE1_POINTS = np.array([3, 2, 1, 0], dtype=np.int8)
# Scale 2: <=83, <=85, <=87, <=92, then only on oxygen <=94 -> 1, <=96 -> 2, else 3;
# on air anything above 92 scores 0 (so 92.5 on oxygen -> 1, on air -> 0).
_SPO2_SCALE2_EDGES = np.array([83.0, 85.0, 87.0, 92.0, 94.0, 96.0])  # [%]
_SPO2_SCALE2_AIR_POINTS = np.array([3, 2, 1, 0, 0, 0, 0], dtype=np.int8)
_SPO2_SCALE2_OXYGEN_POINTS = np.array([3, 2, 1, 0, 1, 2, 3], dtype=np.int8)
_OXYGEN_POINTS = np.int8(2)  # "air or oxygen": oxygen scores 2, on both SpO2 scales
_SYSTOLIC_BP_EDGES = np.array([90.0, 100.0, 110.0, 219.0])  # [mm[Hg]]
_SYSTOLIC_BP_POINTS = np.array([3, 2, 1, 0, 3], dtype=np.int8)
_HEART_RATE_EDGES = np.array([40.0, 50.0, 90.0, 110.0, 130.0])  # [/min]
_HEART_RATE_POINTS = np.array([3, 1, 0, 1, 2, 3], dtype=np.int8)
_CONSCIOUSNESS_POINTS = np.array([0, 3, 3, 3, 3], dtype=np.int8)  # A, C, V, P, U
_TEMPERATURE_EDGES = np.array([35.0, 36.0, 38.0, 39.0])  # [Cel]
_TEMPERATURE_POINTS = np.array([3, 1, 0, 1, 2], dtype=np.int8)

# Minimum monitoring per band (news2.md, "Aggregate bands"): 12 h; 4-6 h taken at
# its stricter end; 1 h.  NEWS2 asks "continuous" for high: a home device cannot
# promise that, so 15 min is the longest gap we tolerate before the patient is overdue.
MONITORING_INTERVAL: dict[str, np.timedelta64] = {
    "zero": np.timedelta64(12 * 3600, "s"),
    "low": np.timedelta64(4 * 3600, "s"),
    "low-medium": np.timedelta64(3600, "s"),
    "medium": np.timedelta64(3600, "s"),
    "high": np.timedelta64(15 * 60, "s"),
}

_BAND_NAMES = np.array(BANDS)
_MAX_BAD_ROWS = 5  # how many offending rows an error names
_UNKNOWN_CODE = -1.0  # consciousness input that is neither a letter nor a code
_LETTER_CODE = {letter: float(code) for code, letter in enumerate(ACVPU)}


@dataclass(frozen=True, slots=True)
class News2Result:
    """NEWS2 of ``n`` observation sets; every array has ``n`` rows (read-only).

    scores : (n, 7) int8, sub-scores after accepted ranges, -1 = missing
    unadjusted_scores : (n, 7) int8, straight from the chart, -1 = missing
    missing : (n, 7) bool, parameter absent (columns in ``PARAMETERS`` order)
    overridden : (n, 7) bool, a clinician-accepted range zeroed a non-zero sub-score
    total, unadjusted_total : int8 in 0..20, missing parameters counted as 0
    band, unadjusted_band : str, one of ``BANDS``
    max_single : int8, the largest sub-score (0 when all are missing)
    complete : bool, all seven parameters present
    """

    PARAMETERS: ClassVar[tuple[str, ...]] = PARAMETERS

    scores: NDArray[np.int8]
    unadjusted_scores: NDArray[np.int8]
    missing: NDArray[np.bool_]
    overridden: NDArray[np.bool_]
    total: NDArray[np.int8]
    unadjusted_total: NDArray[np.int8]
    band: NDArray[np.str_]
    unadjusted_band: NDArray[np.str_]
    max_single: NDArray[np.int8]
    complete: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.total)

    def missing_names(self, i: int) -> tuple[str, ...]:
        """Names of the parameters missing from row ``i``, in ``PARAMETERS`` order."""
        return tuple(p for p, m in zip(PARAMETERS, self.missing[i], strict=True) if m)

    # Sub-score columns by name (after accepted ranges; -1 = missing).
    respiratory_rate = property(lambda self: self.scores[:, 0])
    spo2 = property(lambda self: self.scores[:, 1])
    on_oxygen = property(lambda self: self.scores[:, 2])
    systolic_bp = property(lambda self: self.scores[:, 3])
    heart_rate = property(lambda self: self.scores[:, 4])
    consciousness = property(lambda self: self.scores[:, 5])
    temperature = property(lambda self: self.scores[:, 6])


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
        scores 0 for that parameter.  A row whose low or high is NaN has no override.

    Missing values are NaN or None.  Missing on_oxygen counts as air (a lower
    bound; on scale 2 an SpO2 above 92 then scores 0) and is marked missing.

    Raises
    ------
    ScoringInputError
        Naming the parameter and first rows: a negative or infinite value, SpO2
        above 100, an unknown consciousness letter or code, on_oxygen not 0/1,
        spo2_scale not 1 or 2, arrays of unequal length.
    """
    columns = [
        _as_float("respiratory_rate", respiratory_rate),
        _as_float("spo2", spo2),
        _as_float("on_oxygen", on_oxygen),
        _as_float("systolic_bp", systolic_bp),
        _as_float("heart_rate", heart_rate),
        _consciousness_codes(consciousness),
        _as_float("temperature", temperature),
    ]
    n = _common_length(PARAMETERS, columns)
    scale = _spo2_scale(spo2_scale, n)
    _validate(columns)
    raw = np.empty((n, len(PARAMETERS)), dtype=np.int8, order="F")  # columns contiguous
    raw[:, 0] = score_respiratory_rate(columns[0])
    raw[:, 1] = score_spo2(columns[1], columns[2], scale)
    raw[:, 2] = score_on_oxygen(columns[2])
    raw[:, 3] = score_systolic_bp(columns[3])
    raw[:, 4] = score_heart_rate(columns[4])
    raw[:, 5] = score_consciousness(columns[5])
    raw[:, 6] = score_temperature(columns[6])
    missing = raw < 0
    total_missing = _column_sum(missing.view(np.int8))
    scores = raw if accepted is None else _apply_accepted(raw, columns, accepted)
    total, top = _total(scores)
    band = band_of(total, top)
    raw_total, raw_top, raw_band = (total, top, band)
    if accepted is not None:
        raw_total, raw_top = _total(raw)
        raw_band = band_of(raw_total, raw_top)
    arrays = {
        "scores": scores,
        "unadjusted_scores": raw,
        "missing": missing,
        "overridden": scores != raw,
        "total": total,
        "unadjusted_total": raw_total,
        "band": band,
        "unadjusted_band": raw_band,
        "max_single": top,
        "complete": total_missing == 0,
    }
    for array in arrays.values():
        array.flags.writeable = False
    return News2Result(**arrays)


def band_of(total: NDArray[np.integer], max_single: NDArray[np.integer]) -> NDArray[np.str_]:
    """Aggregate band per news2.md: high >= 7; medium 5-6; low-medium when a single
    parameter scores 3 and the total is below 5; low 1-4; zero."""
    total = np.asarray(total)
    code = (total >= 1).view(np.int8) + 2 * (total >= 5).view(np.int8) + (total >= 7)
    code[(code == 1) & (np.asarray(max_single) >= 3)] = 2  # low-medium
    return _BAND_NAMES[code]


def score_respiratory_rate(respiratory_rate: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 respiration rate sub-score, -1 where NaN [/min]."""
    return _cascade(_RESPIRATORY_RATE_EDGES, _RESPIRATORY_RATE_POINTS, respiratory_rate)


def score_spo2(
    spo2: NDArray[np.float64], on_oxygen: NDArray[np.float64], scale: NDArray[np.int8]
) -> NDArray[np.int8]:
    """NEWS2 SpO2 sub-score on scale 1 or 2 per row, -1 where SpO2 is NaN [%].

    On scale 2 only oxygen (``on_oxygen == 1``) scores SpO2 above 92; NaN counts as air.
    """
    scale1 = _SPO2_SCALE1_POINTS[np.searchsorted(_SPO2_SCALE1_EDGES, spo2)]
    band2 = np.searchsorted(_SPO2_SCALE2_EDGES, spo2)
    scale2 = np.where(
        on_oxygen == 1, _SPO2_SCALE2_OXYGEN_POINTS[band2], _SPO2_SCALE2_AIR_POINTS[band2]
    )
    points = np.where(scale == 2, scale2, scale1)
    return np.where(np.isnan(spo2), np.int8(-1), points).astype(np.int8, copy=False)


def score_on_oxygen(on_oxygen: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 "air or oxygen" sub-score: 2 on oxygen, 0 on air, -1 where NaN [1]."""
    points = np.where(on_oxygen == 1, _OXYGEN_POINTS, np.int8(0))
    return np.where(np.isnan(on_oxygen), np.int8(-1), points).astype(np.int8, copy=False)


def score_systolic_bp(systolic_bp: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 systolic blood pressure sub-score, -1 where NaN [mm[Hg]]."""
    return _cascade(_SYSTOLIC_BP_EDGES, _SYSTOLIC_BP_POINTS, systolic_bp)


def score_heart_rate(heart_rate: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 pulse sub-score, -1 where NaN [/min]."""
    return _cascade(_HEART_RATE_EDGES, _HEART_RATE_POINTS, heart_rate)


def score_consciousness(code: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 consciousness sub-score from ACVPU codes 0..4, -1 where NaN [{ACVPU}]."""
    index = np.where(np.isnan(code), 0, code).astype(np.intp)
    return np.where(np.isnan(code), np.int8(-1), _CONSCIOUSNESS_POINTS[index]).astype(
        np.int8, copy=False
    )


def score_temperature(temperature: NDArray[np.float64]) -> NDArray[np.int8]:
    """NEWS2 temperature sub-score, -1 where NaN [Cel]."""
    return _cascade(_TEMPERATURE_EDGES, _TEMPERATURE_POINTS, temperature)


def _cascade(
    edges: NDArray[np.float64], points: NDArray[np.int8], values: NDArray[np.float64]
) -> NDArray[np.int8]:
    scored = points[np.searchsorted(edges, values)]
    return np.where(np.isnan(values), np.int8(-1), scored).astype(np.int8, copy=False)


def _total(scores: NDArray[np.int8]) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    present = np.maximum(scores, np.int8(0))
    return _column_sum(present), np.maximum.reduce(present.T, axis=0, initial=0)


def _column_sum(columns: NDArray[np.int8]) -> NDArray[np.int8]:
    # Adding contiguous columns is several times faster than sum(axis=1) over 7 bytes.
    total = columns[:, 0].copy()
    for j in range(1, columns.shape[1]):
        total += columns[:, j]
    return total


def _apply_accepted(
    raw: NDArray[np.int8],
    columns: list[NDArray[np.float64]],
    accepted: Mapping[str, tuple[ArrayLike, ArrayLike]],
) -> NDArray[np.int8]:
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
        scores[inside & (raw[:, column] > 0), column] = 0
    return scores


# --- input conversion and validation ---------------------------------------------------


def _reject(parameter: str, bad: NDArray[np.bool_], message: str) -> None:
    if bad.any():
        raise ScoringInputError(parameter, np.flatnonzero(bad)[:_MAX_BAD_ROWS], message)


def _validate(columns: list[NDArray[np.float64]]) -> None:
    for name, values in zip(PARAMETERS, columns, strict=True):
        if name == "on_oxygen":
            bad = ~np.isnan(values) & (values != 0) & (values != 1)
            _reject(name, bad, "must be 0 (air) or 1 (oxygen)")
        elif name == "consciousness":
            bad = ~np.isnan(values) & ~np.isin(values, np.arange(len(ACVPU)))
            _reject(name, bad, f"unknown value: letters {'/'.join(ACVPU)} or codes 0..4")
        else:
            _reject(name, (values < 0) | np.isinf(values), "negative or infinite value")
    _reject("spo2", columns[1] > 100, "above 100 %")


def _common_length(names: tuple[str, ...], arrays: list[NDArray[Any]]) -> int:
    n = len(arrays[0])
    for name, array in zip(names, arrays, strict=True):
        if len(array) != n:
            raise ScoringInputError(name, (), f"length {len(array)}, expected {n}")
    return n


def _spo2_scale(spo2_scale: ArrayLike, n: int) -> NDArray[np.int8]:
    scale = _as_float("spo2_scale", np.atleast_1d(np.asarray(spo2_scale)))
    if len(scale) == 1:
        scale = np.broadcast_to(scale, (n,))
    elif len(scale) != n:
        raise ScoringInputError("spo2_scale", (), f"length {len(scale)}, expected {n}")
    _reject("spo2_scale", (scale != 1) & (scale != 2), "must be 1 or 2")
    return scale.astype(np.int8)


def _as_float(name: str, x: ArrayLike) -> NDArray[np.float64]:
    """Numbers (None/NaN = missing) as a 1-D float64 array; anything else refused."""
    array = np.asarray(x)
    if array.dtype.kind in "US" and not isinstance(x, np.ndarray):
        array = np.array(x, dtype=object)  # a list mixing numbers and text: find the text
    if array.dtype.kind in "biuf":
        out = array.astype(np.float64, copy=False)
    elif array.dtype.kind == "O":
        not_number = np.frompyfunc(_is_not_number, 1, 1)(array).astype(bool)
        _reject(name, np.atleast_1d(not_number), "not a number")
        out = np.frompyfunc(_element_to_float, 1, 1)(array).astype(np.float64)
    else:
        raise ScoringInputError(name, (), f"expected numbers, got dtype {array.dtype}")
    if out.ndim != 1:
        raise ScoringInputError(name, (), f"expected a 1-D array, got shape {out.shape}")
    return out


def _is_not_number(v: object) -> bool:
    return not (v is None or isinstance(v, numbers.Real | np.bool_))


def _element_to_float(v: Any) -> float:
    return np.nan if v is None else float(v)


def _consciousness_codes(x: ArrayLike) -> NDArray[np.float64]:
    """Letters (any case; '' or 'nan' = missing), codes 0..4 or None/NaN -> float codes.

    Unknown letters become -1 and are refused by ``_validate``.  A list is read
    as objects so that numpy does not turn NaN into the string 'nan' silently.
    """
    array = x if isinstance(x, np.ndarray) else np.array(x, dtype=object)
    if array.dtype.kind in "US":
        codes = _letters_to_codes(array.astype(str))
    elif array.dtype.kind == "O":
        codes = np.frompyfunc(_acvpu_element, 1, 1)(array).astype(np.float64)
    else:
        codes = _as_float("consciousness", array)
    if codes.ndim != 1:
        raise ScoringInputError("consciousness", (), f"expected a 1-D array, got {codes.shape}")
    return codes


def _letters_to_codes(letters: NDArray[np.str_]) -> NDArray[np.float64]:
    upper = np.char.upper(np.char.strip(letters))
    codes = np.full(upper.shape, _UNKNOWN_CODE)
    for code, letter in enumerate(ACVPU):
        codes[upper == letter] = code
    codes[(upper == "") | (upper == "NAN")] = np.nan
    return codes


def _acvpu_element(v: Any) -> float:
    if v is None:
        return np.nan
    if isinstance(v, str):
        letter = v.strip().upper()
        return np.nan if letter in ("", "NAN") else _LETTER_CODE.get(letter, _UNKNOWN_CODE)
    if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
        return _UNKNOWN_CODE
    return float(v)
