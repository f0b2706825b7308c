"""A patient's stay as the discharge summary tells it, and its sentences; pure.

What api/discharge_store.py loads at discharge (``Stay``), what the discharging
clinician adds (``Authored``), which NEWS2 scores the summary names, and the
words both forms use (api/discharge_fhir.py's narrative, api/discharge_pdf.py's
page), so that the FHIR document and the PDF say the same thing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ward.domain import BOOLEAN, CODE, TYPES, ReadingType
from ward.news2_chart import ACVPU
from ward.records import AlertRow, ScoreRow, SettingRow

SOURCE_TEXT = {"step-up": "step-up: from home or the community",
               "step-down": "step-down: from a hospital bed"}


@dataclass(frozen=True, slots=True)
class DeviceUse:
    device_id: str
    kind: str
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True, slots=True)
class Vital:
    """A stored reading (api/fhir_vitals.Row)."""

    time: datetime
    type: str
    value: float
    device_id: str


@dataclass(frozen=True, slots=True)
class Stay:
    """Everything the ward holds of one patient's stay, as loaded at discharge."""

    patient_id: str
    display_name: str | None
    nhs_number: str | None
    ward_id: str
    ward_name: str
    admitted_at: datetime
    discharged_at: datetime
    outcome: str | None
    admission_source: str | None
    scores: tuple[ScoreRow, ...]  # the stay's NEWS2, oldest first
    vitals: tuple[Vital, ...]  # the latest reading of each type, oldest first
    alerts: tuple[AlertRow, ...]  # oldest first
    settings: tuple[SettingRow, ...]  # in force at some time during the stay
    devices: tuple[DeviceUse, ...]


@dataclass(frozen=True, slots=True)
class Authored:
    """What the discharging clinician adds, and the document's own identity."""

    document_id: str
    by: str
    summary: str
    admission_reason: str | None
    made_at: datetime


@dataclass(frozen=True, slots=True)
class KeyScores:
    admission: ScoreRow | None
    highest: ScoreRow | None
    discharge: ScoreRow | None


def key_scores(scores: Iterable[ScoreRow]) -> KeyScores:
    """NEWS2 on admission (the first complete set, else the first score), the
    highest (the true NEWS2; the earliest of equals) and at discharge (the last
    complete set, else the last score)."""
    rows = sorted(scores, key=lambda s: s.time)
    if not rows:
        return KeyScores(None, None, None)
    complete = [s for s in rows if s.complete] or rows
    highest = max(rows, key=lambda s: (s.total, -s.time.timestamp()))
    return KeyScores(complete[0], highest, complete[-1])


def stay_lines(stay: Stay, authored: Authored) -> list[str]:
    who = stay.display_name or stay.patient_id
    lines = [f"{who} (ward id {stay.patient_id}"
             + (f", NHS number {stay.nhs_number})" if stay.nhs_number else ")"),
             f"Ward: {stay.ward_name} ({stay.ward_id})",
             f"Admitted {when(stay.admitted_at)}"
             + (f" ({SOURCE_TEXT.get(stay.admission_source, '')})"
                if stay.admission_source else ""),
             f"Discharged {when(stay.discharged_at)} by {authored.by}"
             + (f", to: {stay.outcome}" if stay.outcome else "")]
    if authored.admission_reason:
        lines.append(f"Reason for admission: {authored.admission_reason}")
    return lines


def score_line(label: str, s: ScoreRow | None) -> str:
    if s is None:
        return f"{label}: no score"
    extra = "" if s.complete else " (incomplete set: a lower bound)"
    scale = ", SpO2 scale 2" if s.spo2_scale == 2 else ""
    return f"{label}: NEWS2 {s.total} ({s.band}) at {when(s.time)}{scale}{extra}"


def score_lines(key: KeyScores) -> list[str]:
    return [score_line("On admission", key.admission), score_line("Highest", key.highest),
            score_line("At discharge", key.discharge)]


def vital_line(v: Vital) -> str:
    """A reading as people write it: its name, value and unit (ACVPU as its
    letter, oxygen as yes or no)."""
    try:
        info = TYPES[ReadingType(v.type)]
    except ValueError:
        return f"{v.type}: {v.value:g} at {when(v.time)} ({v.device_id})"
    if info.kind == CODE and 0 <= int(v.value) < len(ACVPU):
        value = ACVPU[int(v.value)]
    elif v.type == ReadingType.ON_OXYGEN:
        value = "oxygen" if v.value >= 0.5 else "air"
    elif info.kind == BOOLEAN:
        value = "yes" if v.value >= 0.5 else "no"
    else:
        value = f"{v.value:g} {info.unit_text or info.unit}"
    return f"{info.display}: {value} at {when(v.time)} ({v.device_id})"


def ack_text(a: AlertRow) -> str:
    parts = [f"Acknowledged by {a.acknowledged_by} at {when(a.acknowledged_at)}"
             + (f" (via {a.ack_via})" if a.ack_via else "")]
    if a.ack_action:
        parts.append(f"action: {a.ack_action}")
    if a.ack_note:
        parts.append(f"note: {a.ack_note}")
    parts.append("changed management: " + {True: "yes", False: "no"}.get(
        a.changed_management, "not recorded"))  # type: ignore[arg-type]
    return "; ".join(parts)


def alert_line(a: AlertRow) -> str:
    head = f"{when(a.opened_at)} {a.severity} {a.kind}: {a.reason}"
    ack = (ack_text(a) if a.acknowledged_at is not None and a.acknowledged_by
           else "Not acknowledged")
    return f"{head}. {ack}."



def setting_text(s: SettingRow) -> str:
    what = (f"SpO2 scale {s.spo2_scale}" if s.kind == "spo2_scale"
            else f"accepted range {s.parameter} {s.low:g}-{s.high:g}")
    return f"{what}: {s.reason} (set by {s.set_by})"



def setting_line(s: SettingRow) -> str:
    until = (f", ended {when(s.ended_at)}" if s.ended_at
             else f", review by {when(s.valid_to)}" if s.valid_to else "")
    return f"{setting_text(s)}, from {when(s.valid_from)}{until}"


def device_line(d: DeviceUse) -> str:
    until = f" to {when(d.valid_to)}" if d.valid_to else ""
    return f"{d.device_id} ({d.kind}) from {when(d.valid_from)}{until}"


def when(t: datetime | None) -> str:
    return "-" if t is None else f"{t:%Y-%m-%d %H:%M}Z"
