"""Rows of the ward's tables as psycopg returns them (class_row), written out
once for every stage that reads them, so that a change to the schema is made
in one place.  Fields follow the table's columns (ward/migrations)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime


def select_list(row: type, alias: str = "") -> str:
    """The SELECT list that fills ``row``: its fields in order, each
    qualified by ``alias`` when one is given (for a join)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + f.name for f in fields(row))


@dataclass(frozen=True, slots=True)
class AlertRow:
    """A row of ``alerts`` (migration 002)."""

    alert_id: int
    patient_id: str
    ward_id: str
    kind: str
    category: str
    device_id: str
    severity: str
    state: str
    reason: str
    condition_time: datetime | None
    opened_at: datetime
    updated_at: datetime
    last_notified_severity: str
    clear_since: datetime | None
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    ack_action: str | None
    changed_management: bool | None
    resolved_at: datetime | None
    resolved_by: str | None


ALERT_COLUMNS = select_list(AlertRow)


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """A row of ``scores`` (migration 002); sub_scores and inputs in
    alerts.news2.PARAMETERS order."""

    time: datetime
    patient_id: str
    total: int
    band: str
    max_single: int
    complete: bool
    missing: list[str]
    sub_scores: list[int]
    inputs: list[float | None]
    spo2_scale: int
    overridden: bool
    overridden_parameters: list[str]
    scored_at: datetime


SCORE_COLUMNS = select_list(ScoreRow)


@dataclass(frozen=True, slots=True)
class AlertEventRow:
    """A row of ``alert_events`` (migration 002), the alert's audit trail;
    ``txid`` is the outbox's business and left out."""

    event_id: int
    alert_id: int
    time: datetime
    event: str
    severity: str
    state: str
    actor: str
    detail: dict
    reason: str


ALERT_EVENT_COLUMNS = select_list(AlertEventRow)


@dataclass(frozen=True, slots=True)
class SettingRow:
    """A row of ``patient_settings`` (migration 002): a clinician's SpO2
    scale or accepted range for one patient; ``created_at`` left out."""

    setting_id: int
    patient_id: str
    kind: str
    parameter: str | None
    spo2_scale: int | None
    low: float | None
    high: float | None
    set_by: str
    reason: str
    valid_from: datetime
    valid_to: datetime | None
    ended_by: str | None


SETTING_COLUMNS = select_list(SettingRow)


@dataclass(frozen=True, slots=True)
class HeartbeatRow:
    """A row of ``service_heartbeats`` (migration 007): an alerts engine's or an
    ingest worker's latest sign of life, every time on the database's clock."""

    component: str
    instance_id: str
    pid: int
    host: str
    wards: list[str]
    interval_seconds: float
    started_at: datetime
    beat_at: datetime
    last_tick_at: datetime | None
    last_batch_at: datetime | None
    messages: int | None
    readings: int | None
    broker_connected: bool | None
    stopped_at: datetime | None


HEARTBEAT_COLUMNS = select_list(HeartbeatRow)
