"""The ward's shared vocabulary: reading types, their units and codes, and the
typed values that pass between stages (design.md, "Device contract").

A reading type is a row of ``TYPES``: ingest accepts it (with the unit
conversions of ingest/units.py), stores it, exports it as FHIR and charts it
from this row alone; the NEWS2 parameters among them are ward/news2_chart.py's."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

# Re-exported: ACVPU is part of the NEWS2 chart (ward/news2_chart.py), and the
# topics live in ward/topics.py; importers of ward.domain keep working.
from ward.news2_chart import ACVPU as ACVPU
from ward.news2_chart import ACVPU_CODE as ACVPU_CODE
from ward.topics import DEVICE_TOPICS as DEVICE_TOPICS
from ward.topics import INGEST_SESSION_EXPIRY as INGEST_SESSION_EXPIRY
from ward.topics import INGEST_SHARE_GROUP as INGEST_SHARE_GROUP
from ward.topics import INGEST_SUBSCRIPTIONS as INGEST_SUBSCRIPTIONS
from ward.topics import alerts_topic as alerts_topic


class ReadingType(enum.StrEnum):
    RESPIRATORY_RATE = "respiratory_rate"
    SPO2 = "spo2"
    ON_OXYGEN = "on_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    DIASTOLIC_BP = "diastolic_bp"
    HEART_RATE = "heart_rate"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"
    BODY_WEIGHT = "body_weight"
    BREATHLESSNESS = "breathlessness"


# How a type's value is written: a number in ``unit``, air/oxygen as a boolean
# (or a flow), consciousness as an ACVPU letter.  Stored as a number each way.
QUANTITY, BOOLEAN, CODE = "quantity", "boolean", "code"


@dataclass(frozen=True, slots=True)
class TypeInfo:
    unit: str  # UCUM unit the value is stored in
    loinc: str
    display: str
    low: float  # plausible range a body and a device can produce [unit]
    high: float
    kind: str = QUANTITY
    snomed: str | None = None  # SNOMED CT code, where FHIR carries one beside LOINC
    unit_text: str | None = None  # the unit as people write it, when not its UCUM code
    # Other LOINC codes that name the same reading, (code, display): read on the way
    # in, written after the type's own code on the way out.
    also_loinc: tuple[tuple[str, str], ...] = ()
    snomed_display: str | None = None  # SNOMED CT's term for ``snomed``
    # False where ``loinc`` names a value the ward does not keep (read on the way in,
    # never written out): FHIR then codes the reading by ``snomed`` alone.
    fhir_loinc: bool = True


# Plausible ranges: outside them the reading is refused as implausible, not
# scored.  They are wide on purpose (a real reading must never be refused):
# physiological extremes recorded in the literature, and what home devices
# can display.
TYPES: dict[ReadingType, TypeInfo] = {
    ReadingType.RESPIRATORY_RATE: TypeInfo("/min", "9279-1", "Respiratory rate", 0, 80),
    # The vital-signs profile codes oxygen saturation 2708-6; ours (pulse
    # oximetry, 59408-5) comes first.
    ReadingType.SPO2: TypeInfo("%", "59408-5", "SpO2", 40, 100, also_loinc=(
        ("2708-6", "Oxygen saturation in Arterial blood"),)),
    # A device may send its oxygen flow (LOINC 3151-8, inhaled oxygen flow rate); the
    # ward keeps only on or off, which leaves as the SNOMED CT finding "Patient on
    # oxygen" with a boolean (docs/api.md, "FHIR R4"): a flow code with a boolean
    # value would say a flow of "true".
    ReadingType.ON_OXYGEN: TypeInfo("1", "3151-8", "Air or oxygen", 0, 1, kind=BOOLEAN,
                                    snomed="371825009", snomed_display="Patient on oxygen",
                                    fhir_loinc=False),
    ReadingType.SYSTOLIC_BP: TypeInfo("mm[Hg]", "8480-6", "Systolic blood pressure", 30, 300,
                                      unit_text="mmHg"),
    ReadingType.DIASTOLIC_BP: TypeInfo("mm[Hg]", "8462-4", "Diastolic blood pressure", 10, 200,
                                       unit_text="mmHg"),
    ReadingType.HEART_RATE: TypeInfo("/min", "8867-4", "Heart rate", 15, 300),
    ReadingType.CONSCIOUSNESS: TypeInfo(
        "{ACVPU}", "67775-7", "Consciousness (ACVPU)", 0, len(ACVPU) - 1, kind=CODE,
        snomed="1104441000000107",
        snomed_display="ACVPU (Alert Confusion Voice Pain Unresponsive) scale score"),
    ReadingType.TEMPERATURE: TypeInfo("Cel", "8310-5", "Body temperature", 25, 45),
    # Not scored: heart-failure wards weigh daily, since retained fluid shows on the
    # scales before it shows in the lungs.  From a premature neonate to the heaviest
    # people recorded.
    ReadingType.BODY_WEIGHT: TypeInfo("kg", "29463-7", "Body weight", 0.2, 650,
                                      snomed="27113001", snomed_display="Body weight"),
    # Not scored: the questionnaire's "more breathless than usual?" (the tablet, the
    # patient's own page), true or false.  SNOMED CT alone: no LOINC code says it.
    ReadingType.BREATHLESSNESS: TypeInfo("1", "", "More breathless than usual", 0, 1,
                                         kind=BOOLEAN, snomed="267036007",
                                         snomed_display="Dyspnea", fhir_loinc=False),
}

# Blood pressure leaves as one panel (the FHIR vital-signs profile): a systolic and a
# diastolic reading of the same device and time are its two components.
BP_PANEL_LOINC = "85354-9"
BP_PANEL_DISPLAY = "Blood pressure panel with all children optional"
BP_COMPONENTS: tuple[ReadingType, ReadingType] = (ReadingType.SYSTOLIC_BP,
                                                  ReadingType.DIASTOLIC_BP)

# The code systems of the codes above, as FHIR names them.
LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"
UCUM_SYSTEM = "http://unitsofmeasure.org"

LOINC_TO_TYPE = {code: t for t, info in TYPES.items()
                 for code in (info.loinc, *(c for c, _ in info.also_loinc)) if code}
SNOMED_TO_TYPE = {info.snomed: t for t, info in TYPES.items() if info.snomed}


def device_unit(reading_type: ReadingType) -> str | None:
    """The unit a device writes with a reading of this type; None for the types
    whose value carries its own meaning (a boolean, an ACVPU letter)."""
    info = TYPES[reading_type]
    return info.unit if info.kind == QUANTITY else None


# Highest oxygen flow a home concentrator or cylinder delivers, with margin [L/min].
MAX_OXYGEN_FLOW = 60.0


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured value, in its type's stored unit, at its measurement time."""

    time: datetime
    device_id: str
    type: ReadingType
    value: float
