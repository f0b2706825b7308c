"""The NEWS2 chart as data (news2.md): parameters, band edges and points, the
aggregate bands and the monitoring each band demands.  One home for the
published tables; the vectorised kernel (alerts/news2.py), the clinicians'
settings (ward/clinical.py) and the overdue rule all read them from here.

Edges apply as an upper-inclusive cascade on the raw value:
``v <= EDGES[0] -> POINTS[0]``, ``EDGES[k-1] < v <= EDGES[k] -> POINTS[k]``,
``v > EDGES[-1] -> POINTS[-1]``; no rounding first (temperature 35.05 -> 1).
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

# Column order of every (rows x 7) array of scores and inputs, and of the
# scores table's arrays.
PARAMETERS: tuple[str, ...] = (
    "respiratory_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)
# Ordered from least to most severe: a band's index is its level.
BANDS: tuple[str, ...] = ("zero", "low", "low-medium", "medium", "high")
BAND_LEVEL: dict[str, int] = {name: i for i, name in enumerate(BANDS)}

RESPIRATORY_RATE_EDGES = np.array([8.0, 11.0, 20.0, 24.0])  # [/min]
RESPIRATORY_RATE_POINTS = np.array([3, 1, 0, 2, 3], dtype=np.int8)
SPO2_SCALE1_EDGES = np.array([91.0, 93.0, 95.0])  # [%]
SPO2_SCALE1_POINTS = np.array([3, 2, 1, 0], dtype=np.int8)
# Scale 2: <=83, <=85, <=87, <=92, then only on oxygen <=94 -> 1, <=96 -> 2, else 3;
# on air anything above 92 scores 0 (so 92.5 on oxygen -> 1, on air -> 0).
SPO2_SCALE2_EDGES = np.array([83.0, 85.0, 87.0, 92.0, 94.0, 96.0])  # [%]
SPO2_SCALE2_AIR_POINTS = np.array([3, 2, 1, 0, 0, 0, 0], dtype=np.int8)
SPO2_SCALE2_OXYGEN_POINTS = np.array([3, 2, 1, 0, 1, 2, 3], dtype=np.int8)
OXYGEN_POINTS = 2  # "air or oxygen": oxygen scores 2, on both SpO2 scales
SYSTOLIC_BP_EDGES = np.array([90.0, 100.0, 110.0, 219.0])  # [mm[Hg]]
SYSTOLIC_BP_POINTS = np.array([3, 2, 1, 0, 3], dtype=np.int8)
HEART_RATE_EDGES = np.array([40.0, 50.0, 90.0, 110.0, 130.0])  # [/min]
HEART_RATE_POINTS = np.array([3, 1, 0, 1, 2, 3], dtype=np.int8)
CONSCIOUSNESS_POINTS = np.array([0, 3, 3, 3, 3], dtype=np.int8)  # A, C, V, P, U
TEMPERATURE_EDGES = np.array([35.0, 36.0, 38.0, 39.0])  # [Cel]
TEMPERATURE_POINTS = np.array([3, 1, 0, 1, 2], dtype=np.int8)

# The chart rows of the parameters scored by value alone (SpO2 depends on the
# scale and on oxygen, consciousness is a code): (edges, points).
CASCADES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "respiratory_rate": (RESPIRATORY_RATE_EDGES, RESPIRATORY_RATE_POINTS),
    "systolic_bp": (SYSTOLIC_BP_EDGES, SYSTOLIC_BP_POINTS),
    "heart_rate": (HEART_RATE_EDGES, HEART_RATE_POINTS),
    "temperature": (TEMPERATURE_EDGES, TEMPERATURE_POINTS),
}

# Minimum monitoring per band (news2.md, "Aggregate bands"): 12 h; 4-6 h taken at
# its stricter end; 1 h.  NEWS2 asks "continuous" for high: a home device cannot
# promise that, so 15 min is the longest gap we tolerate before the patient is overdue.
MONITORING_INTERVAL: dict[str, timedelta] = {
    "zero": timedelta(hours=12),
    "low": timedelta(hours=4),
    "low-medium": timedelta(hours=1),
    "medium": timedelta(hours=1),
    "high": timedelta(minutes=15),
}
# The red score: a single parameter scoring this is at least low-medium.
RED = 3


def points_between(parameter: str, low: float, high: float) -> tuple[int, int]:
    """(lowest, highest) chart points of any value of ``parameter`` in [low, high].

    For the parameters scored by value alone (``CASCADES``); ``low <= high``, finite.
    """
    if parameter not in CASCADES:
        raise KeyError(f"{parameter!r} is not scored by its value alone; known: {list(CASCADES)}")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"not a range: {low}..{high}")
    edges, points = CASCADES[parameter]
    # Band k covers (edges[k-1], edges[k]]: the bands that [low, high] touches run
    # from the band of ``low`` to the band of ``high``.
    first = int(np.searchsorted(edges, low, side="left"))
    last = int(np.searchsorted(edges, high, side="left"))
    touched = points[first:last + 1]
    return int(touched.min()), int(touched.max())
