"""The HTTP edge's shapes: request bodies and response models (pydantic
only here, in api/device_schemas.py and in api/inputs.py, conventions.md §2).
Rows from api/queries.py and api/series.py are read into them with
from_attributes.  A device's registration, assignment and readings over HTTP
are api/device_schemas.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from api.inputs import StrictIn as _In
from api.inputs import Time, no_bool
from api.pause_schemas import PauseOut
from ward.news2_chart import BANDS


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---------------------------------------------------------------- auth, users


class TokenRequest(_In):
    name: str
    password: str
    label: str = Field("", description="What the token is for (shown in `vward user list`)")


class UserOut(_Out):
    name: str
    role: Literal["clinician", "admin"]


class TokenOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'")
    user: UserOut


class Me(BaseModel):
    kind: Literal["user", "device"]
    name: str
    role: Literal["clinician", "admin", "device"]


class UserCreate(_In):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    role: Literal["clinician", "admin"]
    password: str | None = Field(None, min_length=8,
                                 description="Left out, one is generated and returned once")
    email: str | None = Field(None, max_length=300, description="For notifications by email")
    phone: str | None = Field(None, max_length=40, description="For SMS: +44 7700 900123")
    webhook_url: str | None = Field(None, max_length=2000,
                                    description="https URL notifications are POSTed to")


class UserListItem(_Out):
    name: str
    role: str
    created_at: datetime
    tokens: int = Field(description="Bearer tokens not revoked")
    last_used: datetime | None
    email: str | None
    phone: str | None
    webhook_url: str | None


class UserCreated(BaseModel):
    user: UserOut
    password: str | None = Field(description="The generated password, shown this once")
    token: str


# ---------------------------------------------------------------- patients


class PatientAdmit(_In):
    patient_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    ward_id: str = Field("ward-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    display_name: str | None = Field(None, max_length=200)
    admitted_at: Time | None = Field(
        None, description="Admitted then, in the past (not older than VWARD_MAX_AGE_DAYS);"
                          " left out: now")
    source: Literal["step-up", "step-down"] | None = Field(
        None, description="Where the patient came from: step-up (home or the community,"
                          " instead of a hospital admission) or step-down (a hospital bed);"
                          " left out: not recorded")
    nhs_number: str | None = Field(
        None, max_length=20, description="The patient's NHS number (10 digits with a valid"
                                         " check digit; spaces allowed): the GP's system files"
                                         " the discharge summary under it")


class PatientOut(_Out):
    patient_id: str
    ward_id: str
    display_name: str | None
    admitted_at: datetime
    discharged_at: datetime | None
    devices: list[str] = Field(description="Devices assigned now")


class SettingOut(_Out):
    setting_id: int
    kind: Literal["spo2_scale", "accepted_range"]
    parameter: str | None
    spo2_scale: int | None
    low: float | None
    high: float | None
    set_by: str
    reason: str
    valid_from: datetime
    valid_to: datetime | None = Field(description="When it stops: its review date, or when it"
                                                  " was ended or replaced before that")
    review_at: datetime | None = Field(
        None, description="The review date set with it (every accepted range and SpO2 scale 2"
                          " has one, at most 14 days ahead); it lapses then")
    ended_at: datetime | None = Field(None, description="Ended or replaced before its review")
    ended_by: str | None = None
    end_reason: str | None = None


# The NEWS2 bands (ward/news2_chart.py), as the OpenAPI schema's enum.
Band = Literal[BANDS]  # type: ignore[valid-type]


class ParameterOut(BaseModel):
    """One NEWS2 parameter of a score: the value, its true sub-score, and how old it was."""

    value: float | None = Field(description="The value scored, in the stored unit; null: missing")
    sub_score: int | None = Field(description="Its true NEWS2 sub-score; null: missing")
    measured_at: datetime | None = Field(
        description="When it was measured; null when missing, or on a score computed before"
                    " measurement times were kept")
    age_seconds: float | None = Field(
        description="How long before the score's `time` it was measured [s]; null as"
                    " `measured_at`")
    stale: bool = Field(
        description="Measured longer ago than the monitoring band's interval: still shown and"
                    " counted, and the set is not complete")


class ScoreOut(BaseModel):
    time: datetime = Field(description="When it was scored: the measurement time of the newest"
                                       " reading in it (each value's own time: `parameters`)")
    total: int = Field(description="The true NEWS2 total (RCP chart, no per-patient adjustment)")
    band: Band = Field(description="The true NEWS2 band")
    max_single: int = Field(description="The highest true sub-score")
    complete: bool = Field(description="Every parameter measured, each within the interval the"
                                       " monitoring band demands; else a lower bound")
    missing: list[str]
    spo2_scale: int
    overridden: bool = Field(False, description="A clinician's accepted range changed a"
                                                " sub-score: see `adjusted_total`")
    overridden_parameters: list[str] = Field(
        default_factory=list, description="Parameters a clinician's accepted range scored 0 in"
                                          " the adjusted score")
    adjusted_total: int | None = Field(
        None, description="NOT NEWS2: the total after the patient's accepted ranges, which"
                          " alerts follow; null when no accepted range changed a sub-score")
    adjusted_band: Band | None = Field(None, description="The band of `adjusted_total`; null"
                                                         " as it")
    monitoring_band: Band = Field(
        description="The highest band since the last complete set: the band whose monitoring"
                    " interval applies (on scores from before it was kept: the own band)")
    effective_band: Band = Field(
        description="What this score shows of the patient, never better than the data: its"
                    " own band (adjusted where set) when complete, else the monitoring band")
    stale: list[str] = Field(default_factory=list,
                             description="Parameters measured longer ago than the monitoring"
                                         " band's interval")
    parameters: dict[str, ParameterOut] = Field(
        description="Per NEWS2 parameter: value, true sub-score, measurement time, age, stale")
    sub_scores: dict[str, int | None] = Field(description="Per NEWS2 parameter, the true"
                                                          " sub-score; null: missing")
    inputs: dict[str, float | None] = Field(description="The values scored, stored units")


class PatientDetail(PatientOut):
    latest_score: ScoreOut | None
    settings: list[SettingOut] = Field(description="Scoring settings in force now")
    pauses: list[PauseOut] = Field(
        default_factory=list, description="Alert kinds whose notifying is paused now, each"
        " with its end (the alerts still open and show; an emergency is always notified)")
    live_alerts: int


class Spo2ScaleSet(_In):
    scale: Annotated[Literal[1, 2], BeforeValidator(no_bool)] = Field(
        description="2 only for confirmed hypercapnic respiratory failure with a prescribed"
                    " target of 88-92 %")
    reason: str = Field(pattern=r"\S", description="The clinical reason, kept in the record")
    # Aware: a review date without a time zone is ambiguous (and cannot be
    # compared with now).
    until: Time | None = Field(
        None, description="Review date, when scale 2 lapses (at most 14 days ahead; left out:"
                          " 14 days ahead); scale 1 needs none")


class AcceptedRangeSet(_In):
    # Finite: checked in the route (a non-finite value in a 422's echoed
    # input would not serialise).
    low: float
    high: float
    reason: str = Field(pattern=r"\S", description="The clinical reason, kept in the record")
    until: Time | None = Field(
        None, description="Review date, when the range lapses (at most 14 days ahead; left"
                          " out: 14 days ahead)")


# ---------------------------------------------------------------- series


def _absent(value: object) -> bool:
    return value is None


class SeriesOut(_Out):
    type: str
    unit: str
    loinc: str
    time: list[datetime]
    # Raw series have value and device_id, bucketed ones avg, min, max and
    # count; the others are left out of the JSON.
    value: list[float] | None = Field(None, exclude_if=_absent)
    device_id: list[str] | None = Field(None, exclude_if=_absent)
    avg: list[float] | None = Field(None, exclude_if=_absent)
    min: list[float] | None = Field(None, exclude_if=_absent)
    max: list[float] | None = Field(None, exclude_if=_absent)
    count: list[int] | None = Field(None, exclude_if=_absent)


class Observations(BaseModel):
    patient_id: str
    start: datetime
    end: datetime
    bucket_seconds: int | None = Field(description="Bucket width; null: raw readings")
    truncated: bool = Field(description="More raw readings than `limit`: ask with a bucket")
    series: list[SeriesOut]


class Scores(BaseModel):
    patient_id: str
    start: datetime
    end: datetime
    scores: list[ScoreOut]


# ---------------------------------------------------------------- alerts


class AlertOut(_Out):
    alert_id: int
    patient_id: str
    ward_id: str
    kind: str
    category: Literal["clinical", "technical"]
    device_id: str
    severity: str
    state: Literal["open", "acknowledged", "resolved"]
    reason: str
    condition_time: datetime | None
    opened_at: datetime
    updated_at: datetime
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_via: str | None = Field(
        None, description="How it was acknowledged: dashboard, api, cli, or link:<channel>"
        " (link:email, link:webhook, link:sms) from a notification; null before migration 015")
    ack_note: str | None
    ack_action: str | None
    changed_management: bool | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_note: str | None = Field(None, description="Why it was resolved by hand")
    band: str | None = Field(None, description="The NEWS2 band notified (news2, overdue)")
    red: list[str] = Field(default_factory=list,
                           description="The parameters scoring 3 that were notified")


class AlertEventOut(_Out):
    event_id: int
    time: datetime
    event: str
    severity: str
    state: str
    actor: str
    detail: dict
    reason: str = Field(description="Why, in words (the engine's events; empty for a person's)")


class AlertWithEvents(AlertOut):
    events: list[AlertEventOut]


class Acknowledge(_In):
    note: str = ""
    action: str = Field("", description="What the clinician did")
    changed_management: StrictBool | None = Field(
        None, description="Did the alert change the patient's management?")


class Resolve(_In):
    note: str = Field("", description="Why: required to resolve an urgent or emergency alert"
                                      " by hand (else 409)")


# ---------------------------------------------------------------- wards


class WardOut(_Out):
    ward_id: str
    name: str
    time_zone: str
    patients: int
    live_alerts: int
    protocol: str = Field(description="The protocol the ward runs (docs/alerts.md, 'Ward"
                          " protocols'): news2, covid-oximetry or heart-failure")


class WardPatient(BaseModel):
    patient_id: str
    display_name: str | None
    admitted_at: datetime
    score: ScoreOut | None = Field(description="The latest score")
    last_complete_set: datetime | None = Field(
        description="The latest complete set within the longest monitoring interval (12 h);"
                    " null: none")
    overdue: bool = Field(description="No complete set within the monitoring band's interval"
                                      " (the alerts engine's rule), or an open overdue alert")
    last_reading: datetime | None
    open_alerts: int
    acknowledged_alerts: int
    alert_kinds: list[str]
    top_severity: str | None


class WardSummary(BaseModel):
    ward_id: str
    name: str
    generated_at: datetime
    patients: int
    by_band: dict[str, int] = Field(description="Patients per effective band of their latest"
                                                " score (never better than the data)")
    unscored: int
    open_alerts: int
    acknowledged_alerts: int
    rows: list[WardPatient] = Field(description="Highest risk first: effective band, then the"
                                                " true total, then open alerts")


# ---------------------------------------------------------------- audit, sign-in locks


class PatientReadOut(_Out):
    at: datetime = Field(description="When (the first of that minute's like reads)")
    actor: str = Field(description="Who: the user's name")
    role: str
    patient_id: str
    via: Literal["api", "fhir", "dashboard"]
    what: str = Field(description="What was read: patient, scores, observations, alerts,"
                                  " alert, settings, Patient, Observation, patient page, ...")
    address: str | None = Field(description="The client's address")


class SignInLockOut(_Out):
    lock_id: int
    scope: Literal["account", "address"]
    key: str = Field(description="The account name, or the client address (IPv6: its /64)")
    locked_at: datetime
    locked_until: datetime
    failures: int = Field(description="Failed sign-ins within the window that set it")
    last_address: str = Field(description="Where the failure that set it came from")
    lifted_at: datetime | None
    lifted_by: str | None
