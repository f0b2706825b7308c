"""The vital signs `vward bench realtime` sends, pure numpy: a stable ward
whose sets all score NEWS2 0, and a few deteriorating patients who climb
through every band to high, so that alert events flow during each load.

Values in the device contract's columns (simulators.messages.TYPES, the
device's units, consciousness as an ACVPU index) or, for the history COPYed
into `observations`, the scoring parameters' (ward.news2_chart.PARAMETERS)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from simulators.messages import COLUMN, TYPES, UNITS
from ward.news2_chart import PARAMETERS

# A stable patient's baseline is drawn in [low, high); every set stays within the
# NEWS2 0-point ranges (news2.md: RR 12-20, SpO2 >= 96, SBP 111-219, pulse 51-90,
# temperature 36.1-38.0), so no stable patient ever raises an alert.
_BASELINE = {"respiratory_rate": (14, 18), "spo2": (96, 99), "systolic_bp": (115, 140),
             "diastolic_bp": (70, 85), "heart_rate": (60, 84), "temperature": (36.4, 37.4)}
_JITTER = {"respiratory_rate": 1.0, "spo2": 1.0, "systolic_bp": 3.0, "diastolic_bp": 2.0,
           "heart_rate": 3.0, "temperature": 0.1}
# A stable SpO2 never moves 3 % (alerts.rules.SPO2_FALL, a trend alert): +-1 around its baseline.
_MAX_DEVIATION = {"spo2": 1.0}
_ZERO_RANGE = {"respiratory_rate": (12, 20), "spo2": (96, 100), "systolic_bp": (111, 219),
               "diastolic_bp": (40, 130), "heart_rate": (51, 90), "temperature": (36.1, 38.0)}
# Where a deteriorating patient ends: RR 27 (3), SpO2 89 (3), SBP 98 (2), pulse 125 (2),
# 38.6 °C (1): NEWS2 11, high.  On the way it passes low, a red single parameter,
# medium and high, and the trend rules (a rise of 2, SpO2 falling 3 % in an hour).
_DETERIORATED = {"respiratory_rate": 27, "spo2": 89, "systolic_bp": 98, "diastolic_bp": 60,
                 "heart_rate": 125, "temperature": 38.6}
# The climb takes this share of a load's duration; the rest holds at the end point.
CLIMB_SHARE = 0.6
DETERIORATING_SHARE = 0.02  # of a load's patients, at least MIN_DETERIORATING
MIN_DETERIORATING = 2

_MEASURED = tuple(_BASELINE)
# What a device sends of each set, in the contract's order with its unit: the NEWS2
# parameters and the diastolic pressure (not every reading type: body weight is not
# part of a set).
SENT_UNITS = {t: u for t, u in UNITS.items() if t in PARAMETERS or t in _BASELINE}
_ROUND = {name: (1 if name == "temperature" else 0) for name in _MEASURED}


def baselines(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """(n, len(TYPES)) baseline sets: on air, alert (ACVPU A)."""
    out = np.zeros((n, len(TYPES)))
    for name, (low, high) in _BASELINE.items():
        out[:, COLUMN[name]] = rng.uniform(low, high, n)
    return out


def sets(base: NDArray[np.float64], rng: np.random.Generator,
         climb: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """One set per patient around its baseline, rounded as a device shows it.

    climb : (n,) how far each patient has deteriorated, 0 (stable) to 1; a
    stable patient's set is kept within the NEWS2 0-point ranges."""
    n = len(base)
    out = base.copy()
    f = np.zeros(n) if climb is None else np.clip(climb, 0.0, 1.0)
    for name in _MEASURED:
        c = COLUMN[name]
        deviation = rng.normal(0, _JITTER[name], n)
        if name in _MAX_DEVIATION:
            deviation = np.clip(deviation, -_MAX_DEVIATION[name], _MAX_DEVIATION[name])
        stable = np.clip(base[:, c] + deviation, *_ZERO_RANGE[name])
        out[:, c] = np.round(stable + f * (_DETERIORATED[name] - stable), _ROUND[name])
    return out


def climb(elapsed_s: float, duration_s: float) -> float:
    """How far a deteriorating patient is after `elapsed_s` of a load [0-1]."""
    if duration_s <= 0:
        return 1.0
    return float(min(1.0, max(0.0, elapsed_s / (CLIMB_SHARE * duration_s))))


def pick_deteriorating(n: int, used: Iterable[int]) -> list[int]:
    """Which of patients 0..n-1 deteriorate in a load of n: the highest-numbered
    ones not deteriorated before (whose alerts are still open), so that each load
    opens alerts of its own.  Fewer, or none, once they run out."""
    want = max(MIN_DETERIORATING, round(DETERIORATING_SHARE * n))
    taken = set(used)
    return [i for i in range(n - 1, -1, -1) if i not in taken][:want]


def as_parameters(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Device columns → the scoring parameters' columns (PARAMETERS order),
    as ingest stores them (on_oxygen 0/1, consciousness an ACVPU code)."""
    return values[:, [COLUMN[p] for p in PARAMETERS]]
