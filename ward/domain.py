"""The ward's shared vocabulary: reading types, their units and codes, and the
typed values that pass between stages (design.md, "Device contract")."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

# Consciousness is stored as a number so that `observations.value` stays one
# column an analyst can query; the letters are the ACVPU scale (C = new confusion).
ACVPU = ("A", "C", "V", "P", "U")
ACVPU_CODE = {letter: float(i) for i, letter in enumerate(ACVPU)}


class ReadingType(enum.StrEnum):
    RESPIRATORY_RATE = "respiratory_rate"
    SPO2 = "spo2"
    ON_OXYGEN = "on_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    DIASTOLIC_BP = "diastolic_bp"
    HEART_RATE = "heart_rate"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"


@dataclass(frozen=True, slots=True)
class TypeInfo:
    unit: str  # UCUM unit the value is stored in
    loinc: str
    display: str
    low: float  # plausible range a body and a device can produce [unit]
    high: float


# Plausible ranges: outside them the reading is refused as implausible, not
# scored.  They are wide on purpose (a real reading must never be refused):
# physiological extremes recorded in the literature, and what home devices
# can display.
TYPES: dict[ReadingType, TypeInfo] = {
    ReadingType.RESPIRATORY_RATE: TypeInfo("/min", "9279-1", "Respiratory rate", 0, 80),
    ReadingType.SPO2: TypeInfo("%", "59408-5", "SpO2", 40, 100),
    ReadingType.ON_OXYGEN: TypeInfo("1", "3151-8", "Air or oxygen", 0, 1),
    ReadingType.SYSTOLIC_BP: TypeInfo("mm[Hg]", "8480-6", "Systolic blood pressure", 30, 300),
    ReadingType.DIASTOLIC_BP: TypeInfo("mm[Hg]", "8462-4", "Diastolic blood pressure", 10, 200),
    ReadingType.HEART_RATE: TypeInfo("/min", "8867-4", "Heart rate", 15, 300),
    ReadingType.CONSCIOUSNESS: TypeInfo("{ACVPU}", "67775-7", "Consciousness (ACVPU)", 0, 4),
    ReadingType.TEMPERATURE: TypeInfo("Cel", "8310-5", "Body temperature", 25, 45),
}

LOINC_TO_TYPE = {info.loinc: t for t, info in TYPES.items()}

# Highest oxygen flow a home concentrator or cylinder delivers, with margin [L/min].
MAX_OXYGEN_FLOW = 60.0


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured value, in its type's stored unit, at its measurement time."""

    time: datetime
    device_id: str
    type: ReadingType
    value: float


@dataclass(frozen=True, slots=True)
class Observation:
    """A stored reading, mapped onto the patient the device was assigned to."""

    time: datetime
    patient_id: str
    device_id: str
    type: str
    value: float
    received_at: datetime


# MQTT topics of the device contract (design.md).
INGEST_SHARE_GROUP = "ingest"
DEVICE_TOPICS = ("ward/v1/devices/+/readings", "ward/v1/devices/+/status")
INGEST_SUBSCRIPTIONS = tuple(f"$share/{INGEST_SHARE_GROUP}/{t}" for t in DEVICE_TOPICS)
INGEST_SESSION_EXPIRY = 14 * 24 * 3600  # [s] a stopped worker's queue outlives a long weekend


def alerts_topic(ward_id: str) -> str:
    return f"ward/v1/wards/{ward_id}/alerts"
