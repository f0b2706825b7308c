"""Unit conversion into each type's stored unit (UCUM codes, design.md).

Only conversions we know are exact are accepted; anything else is refused,
never guessed."""

from __future__ import annotations

from collections.abc import Callable

from ward.domain import QUANTITY, TYPES
from ward.domain import ReadingType as T

_MMHG_PER_KPA = 760.0 / 101.325  # 1 atm = 101.325 kPa = 760 mmHg
_KG_PER_LB = 0.45359237  # the international avoirdupois pound, exact by definition (1959)


def _same(v: float) -> float:
    return v


def _fahrenheit_to_celsius(v: float) -> float:
    return (v - 32.0) * 5.0 / 9.0


def _kpa_to_mmhg(v: float) -> float:
    return v * _MMHG_PER_KPA


def _pounds_to_kg(v: float) -> float:
    return v * _KG_PER_LB


def _grams_to_kg(v: float) -> float:
    return v / 1000.0


# UCUM codes accepted beside a type's stored unit (ward/domain.py) → converter
# into it.  The annotated forms ({beats}/min, {breaths}/min) are what FHIR's
# vital-signs profile examples use; they are the same unit.
_OTHER_UNITS: dict[T, dict[str, Callable[[float], float]]] = {
    T.RESPIRATORY_RATE: {"{breaths}/min": _same},
    T.SYSTOLIC_BP: {"kPa": _kpa_to_mmhg},
    T.DIASTOLIC_BP: {"kPa": _kpa_to_mmhg},
    T.HEART_RATE: {"{beats}/min": _same},
    T.TEMPERATURE: {"[degF]": _fahrenheit_to_celsius},
    # Home scales sold in the US and UK show pounds; baby scales grams.
    T.BODY_WEIGHT: {"[lb_av]": _pounds_to_kg, "g": _grams_to_kg},
}
# Accepted UCUM codes per type: its stored unit first, then the others.  Every
# type measured as a quantity has one (air or oxygen and ACVPU are read apart).
CONVERSIONS: dict[T, dict[str, Callable[[float], float]]] = {
    t: {info.unit: _same, **_OTHER_UNITS.get(t, {})}
    for t, info in TYPES.items() if info.kind == QUANTITY
}

# Oxygen may be reported as a flow instead of a yes/no [L/min].
OXYGEN_FLOW_UNITS = {"L/min": 1.0, "mL/min": 0.001}


def convert(reading_type: T, value: float, unit: str | None) -> float:
    """`value` in `unit` → the type's stored unit; KeyError if unknown."""
    table = CONVERSIONS[reading_type]
    if unit is None:
        return value
    return table[unit](value)
