"""Caller's arrays into NEWS2 input columns, and bad input refused by name.

Numbers (None or NaN for missing) become float64 columns; consciousness comes
as ACVPU letters or codes 0..4.  A value that is not a number is a
``ScoringInputError`` naming the parameter and its first offending rows, never
a silent score; ``validate`` names the first value out of the chart's range
(alerts/news2.py's kernel checks the ranges first and calls it only to explain).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts.errors import ScoringInputError
from ward.news2_chart import ACVPU, PARAMETERS, SPO2_SCALES

_MAX_BAD_ROWS = 5  # how many offending rows an error names
UNKNOWN_CODE = -1.0  # consciousness input that is neither a letter nor a code
_LETTER_CODE = {letter: float(code) for code, letter in enumerate(ACVPU)}
_SCALES = tuple(float(s) for s in SPO2_SCALES)


def reject(parameter: str, bad: NDArray[np.bool_], message: str) -> None:
    if bad.any():
        raise ScoringInputError(parameter, np.flatnonzero(bad)[:_MAX_BAD_ROWS], message)


def common_length(names: tuple[str, ...], arrays: list[NDArray[Any]]) -> int:
    n = len(arrays[0])
    for name, array in zip(names, arrays, strict=True):
        if len(array) != n:
            raise ScoringInputError(name, (), f"length {len(array)}, expected {n}")
    return n


def as_float(name: str, x: ArrayLike) -> NDArray[np.float64]:
    """Numbers (None/NaN = missing) as a 1-D float64 array; anything else refused."""
    array = np.asarray(x)
    if array.dtype.kind in "US" and not isinstance(x, np.ndarray):
        array = np.array(x, dtype=object)  # a list mixing numbers and text: find the text
    if array.dtype.kind in "biuf":
        out = array.astype(np.float64, copy=False)
    elif array.dtype.kind == "O":
        not_number = np.frompyfunc(_is_not_number, 1, 1)(array).astype(bool)
        reject(name, np.atleast_1d(not_number), "not a number")
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


def consciousness_codes(x: ArrayLike) -> NDArray[np.float64]:
    """Letters (any case; '' or 'nan' = missing), codes 0..4 or None/NaN -> float codes.

    Unknown letters become -1 and are refused by ``news2._validate``.  A list that is
    not all numbers is read as objects, so that numpy does not turn NaN into the
    string 'nan' silently, nor True into the code 1.
    """
    array = x if isinstance(x, np.ndarray) else np.asarray(x)
    if array.dtype.kind not in "iuf" and not isinstance(x, np.ndarray):
        array = np.array(x, dtype=object)
    if array.dtype.kind in "US":
        codes = _letters_to_codes(array.astype(str))
    elif array.dtype.kind == "O":
        codes = np.frompyfunc(_acvpu_element, 1, 1)(array).astype(np.float64)
    else:
        codes = as_float("consciousness", array)
    if codes.ndim != 1:
        raise ScoringInputError("consciousness", (), f"expected a 1-D array, got {codes.shape}")
    return codes


def _letters_to_codes(letters: NDArray[np.str_]) -> NDArray[np.float64]:
    upper = np.char.upper(np.char.strip(letters))
    codes = np.full(upper.shape, UNKNOWN_CODE)
    for code, letter in enumerate(ACVPU):
        codes[upper == letter] = code
    codes[(upper == "") | (upper == "NAN")] = np.nan
    return codes


def _acvpu_element(v: Any) -> float:
    if v is None:
        return np.nan
    if isinstance(v, str):
        letter = v.strip().upper()
        return np.nan if letter in ("", "NAN") else _LETTER_CODE.get(letter, UNKNOWN_CODE)
    if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
        return UNKNOWN_CODE
    return float(v)


def validate(columns: list[NDArray[np.float64]], scale: NDArray[np.float64]) -> None:
    """Raise for the first bad parameter (columns in ``PARAMETERS`` order), naming its
    first bad rows."""
    scale = np.broadcast_to(scale, (len(columns[0]),))
    reject("spo2_scale", ~np.isin(scale, _SCALES), "must be 1 or 2")
    for name, values in zip(PARAMETERS, columns, strict=True):
        if name == "on_oxygen":
            bad = ~np.isnan(values) & (values != 0) & (values != 1)
            reject(name, bad, "must be 0 (air) or 1 (oxygen)")
        elif name == "consciousness":
            bad = ~np.isnan(values) & ~np.isin(values, np.arange(len(ACVPU)))
            reject(name, bad, f"unknown value: letters {'/'.join(ACVPU)} or codes"
                              f" 0..{len(ACVPU) - 1}")
        else:
            reject(name, (values < 0) | np.isinf(values), "negative or infinite value")
    reject("spo2", columns[PARAMETERS.index("spo2")] > 100, "above 100 %")
