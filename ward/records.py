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
    """A row of ``alerts`` (migration 002; band, red and resolve_note 005)."""

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
    band: str | None  # the band notified (news2, overdue)
    red: list[str]  # the parameters scoring 3 that were notified
    resolve_note: str | None  # why a clinician resolved it by hand
    ack_via: str | None  # how it was acknowledged (migration 015): a door or 'link:<channel>'


ALERT_COLUMNS = select_list(AlertRow)


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """A row of ``scores`` (migrations 002 and 005); sub_scores, inputs and
    input_times in ward.news2_chart.PARAMETERS order.  total, band, max_single
    and sub_scores are the true NEWS2; adjusted_total and adjusted_band the
    score after accepted ranges (None when none changed a sub-score).
    ward/score_view.py reads what a row shows."""

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
    adjusted_total: int | None
    adjusted_band: str | None
    input_times: list[datetime | None]  # [] on rows scored before 005
    stale: list[str]
    monitoring_band: str | None  # None on rows scored before 005


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
    """A row of ``patient_settings`` (the view of migration 005 over the
    append-only setting_records and setting_ends): a clinician's SpO2 scale or
    accepted range for one patient; ``created_at`` left out.  ``valid_to`` is
    when it stops (its review date, or its end if ended before that)."""

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
    review_at: datetime | None  # the review date set with it (None: none)
    ended_at: datetime | None  # ended early or replaced then
    end_reason: str | None


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
