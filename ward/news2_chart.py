"""The NEWS2 chart as data (news2.md): parameters, band edges and points, the
aggregate bands with the response, severity and monitoring each demands, ACVPU,
the SpO2 scales and the codes a score carries when it leaves as FHIR.  One home
for the published tables; the vectorised kernel (alerts/news2.py), the per-row
reference (benchmarks), the clinicians' settings (ward/clinical.py), the
overdue rule, the reasons, the dashboard's shading and FHIR all read them here.

Edges apply as an upper-inclusive cascade on the raw value:
``v <= EDGES[0] -> POINTS[0]``, ``EDGES[k-1] < v <= EDGES[k] -> POINTS[k]``,
``v > EDGES[-1] -> POINTS[-1]``; no rounding first (temperature 35.05 -> 1).
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from ward.severity import Severity

# Column order of every (rows x len(PARAMETERS)) array of scores and inputs, and
# of the scores table's arrays (sub_scores, inputs, input_times).
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
# The aggregate bands by total (news2.md): low from 1, medium from 5, high from 7;
# below medium, a single parameter scoring RED makes the band low-medium.
LOW_TOTAL = 1
MEDIUM_TOTAL = 5
HIGH_TOTAL = 7
# The red score: a single parameter scoring this is at least low-medium.
RED = 3
# news2.md, "Aggregate bands and the response they demand".
BAND_RESPONSE: dict[str, str] = {
    "zero": "routine",
    "low": "registered nurse assesses",
    "low-medium": "urgent ward-based response, medical team informed",
    "medium": "urgent response; key threshold; think sepsis",
    "high": "emergency response, critical-care team",
}
# The response column as the alert each band raises: high ("emergency response") is
# EMERGENCY; low-medium ("urgent ward-based response, medical team informed") and
# medium ("urgent response") are URGENT.  Low ("registered nurse assesses" and decides
# the monitoring frequency) is LOW: on a virtual ward nobody looks unless prompted, so
# a patient whose band rises into low gets an alert asking for that assessment (once
# per episode: alerts/lifecycle.py keeps a steady low baseline from re-alerting).
# Zero ("routine") needs no alert.
BAND_SEVERITY: dict[str, Severity | None] = {
    "zero": None,
    "low": Severity.LOW,
    "low-medium": Severity.URGENT,
    "medium": Severity.URGENT,
    "high": Severity.EMERGENCY,
}

# Consciousness, the ACVPU scale (C = new confusion): stored as the letter's index
# so that ``observations.value`` stays one numeric column; A scores 0, the rest RED.
ACVPU: tuple[str, ...] = ("A", "C", "V", "P", "U")
ACVPU_CODE: dict[str, float] = {letter: float(i) for i, letter in enumerate(ACVPU)}
ACVPU_NAMES: tuple[str, ...] = ("alert", "new confusion", "responds to voice",
                                "responds to pain", "unresponsive")
# SpO2 scale 1 is the default; scale 2 only for confirmed hypercapnic respiratory
# failure with a prescribed target of 88-92 %, set by a clinician per patient.
SPO2_SCALES: tuple[int, ...] = (1, 2)

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
CONSCIOUSNESS_POINTS = np.array([0] + [RED] * (len(ACVPU) - 1), dtype=np.int8)  # ACVPU order
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

# Coding when a score leaves as FHIR (news2.md): SNOMED CT.
NEWS2_TOTAL_SNOMED = "1104051000000101"
# Sub-score codes per parameter; SpO2 has one per scale ("spo2:1", "spo2:2").
SUBSCORE_SNOMED: dict[str, str] = {
    "respiratory_rate": "1104301000000104",
    "spo2:1": "1104311000000102",
    "spo2:2": "1104321000000108",
    "on_oxygen": "1104331000000105",
    "systolic_bp": "1104341000000101",
    "heart_rate": "1104351000000103",
    "consciousness": "1104361000000100",
    "temperature": "1104371000000107",
}
# ACVPU values as SNOMED CT, in ACVPU order, with their FHIR display.
ACVPU_SNOMED: tuple[str, ...] = ("248234008", "130987000", "300202002", "450847001",
                                 "422768004")
# SNOMED CT's terms (A is "Mentally alert", C "Acute confusion").
ACVPU_DISPLAY: tuple[str, ...] = ("Mentally alert", "Acute confusion", "Responds to voice",
                                  "Responds to pain", "Unresponsive")


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
