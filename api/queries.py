"""psycopg only: what the API reads (patients, alerts, the ward summary),
into frozen rows.  Parameterised SQL; the ward summary's SQL is a constant
so that `vward bench web` can time it alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ward.errors import NotFound
from ward.news2_chart import BANDS, PARAMETERS
from ward.records import ALERT_COLUMNS, ALERT_EVENT_COLUMNS, AlertEventRow, AlertRow
from ward.score_view import effective_band_sql
from ward.severity import SEVERITIES

# Column order of scores.sub_scores, inputs and input_times: the NEWS2
# parameters (ward/news2_chart.py), those of the reading types that NEWS2 scores.
NEWS2_PARAMETERS = PARAMETERS


@dataclass(frozen=True, slots=True)
class PatientRow:
    patient_id: str
    ward_id: str
    display_name: str | None
    admitted_at: datetime
    discharged_at: datetime | None
    devices: list[str]


_PATIENTS = """
SELECT p.patient_id, p.ward_id, p.display_name, p.admitted_at, p.discharged_at,
       coalesce(array_agg(a.device_id ORDER BY a.device_id)
                FILTER (WHERE a.device_id IS NOT NULL), '{}') AS devices
FROM patients p
LEFT JOIN device_assignments a ON a.patient_id = p.patient_id AND a.valid_to IS NULL
"""


def list_patients(conn: psycopg.Connection, *, ward_id: str | None,
                  include_discharged: bool) -> list[PatientRow]:
    with conn.cursor(row_factory=class_row(PatientRow)) as cur:
        return cur.execute(
            _PATIENTS + " WHERE (%(ward)s::text IS NULL OR p.ward_id = %(ward)s)"
            " AND (%(all)s OR p.discharged_at IS NULL)"
            " GROUP BY p.patient_id ORDER BY p.ward_id, p.patient_id",
            {"ward": ward_id, "all": include_discharged}).fetchall()


def get_patient(conn: psycopg.Connection, patient_id: str) -> PatientRow:
    with conn.cursor(row_factory=class_row(PatientRow)) as cur:
        row = cur.execute(_PATIENTS + " WHERE p.patient_id = %s GROUP BY p.patient_id",
                          (patient_id,)).fetchone()
    if row is None:
        raise NotFound(f"no patient {patient_id}")
    return row


# ---------------------------------------------------------------- alerts


ALERT_STATES = {"live": ("open", "acknowledged"), "open": ("open",),
                "acknowledged": ("acknowledged",), "resolved": ("resolved",),
                "all": ("open", "acknowledged", "resolved")}


def list_alerts(conn: psycopg.Connection, *, ward_id: str | None, patient_id: str | None,
                state: str, category: str | None, limit: int) -> list[AlertRow]:
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        return cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts"
            " WHERE state = ANY(%(states)s)"
            " AND (%(ward)s::text IS NULL OR ward_id = %(ward)s)"
            " AND (%(patient)s::text IS NULL OR patient_id = %(patient)s)"
            " AND (%(category)s::text IS NULL OR category = %(category)s)"
            " ORDER BY opened_at DESC, alert_id DESC LIMIT %(limit)s",
            {"states": list(ALERT_STATES[state]), "ward": ward_id, "patient": patient_id,
             "category": category, "limit": limit}).fetchall()


def get_alert(conn: psycopg.Connection,
              alert_id: int) -> tuple[AlertRow, list[AlertEventRow]]:
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        alert = cur.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = %s",
                            (alert_id,)).fetchone()
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    with conn.cursor(row_factory=class_row(AlertEventRow)) as cur:
        events = cur.execute(
            f"SELECT {ALERT_EVENT_COLUMNS} FROM alert_events"
            " WHERE alert_id = %s ORDER BY event_id", (alert_id,)).fetchall()
    return alert, events


def live_alert_count(conn: psycopg.Connection, patient_id: str) -> int:
    """The patient's alerts not yet resolved (open or acknowledged)."""
    row = conn.execute("SELECT count(*)::int FROM alerts WHERE patient_id = %s"
                       " AND state <> 'resolved'", (patient_id,)).fetchone()
    assert row is not None
    return row[0]


def require_alert(conn: psycopg.Connection, alert_id: int) -> None:
    if conn.execute("SELECT 1 FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone() is None:
        raise NotFound(f"no alert {alert_id}")


# ---------------------------------------------------------------- wards


@dataclass(frozen=True, slots=True)
class WardRow:
    ward_id: str
    name: str
    time_zone: str
    patients: int
    live_alerts: int


_WARDS = """
SELECT w.ward_id, w.name, w.time_zone,
       (SELECT count(*) FROM patients p WHERE p.ward_id = w.ward_id
        AND p.discharged_at IS NULL)::int AS patients,
       (SELECT count(*) FROM alerts a WHERE a.ward_id = w.ward_id
        AND a.state <> 'resolved')::int AS live_alerts
FROM wards w WHERE %(ward)s::text IS NULL OR w.ward_id = %(ward)s ORDER BY w.ward_id
"""


def list_wards(conn: psycopg.Connection) -> list[WardRow]:
    with conn.cursor(row_factory=class_row(WardRow)) as cur:
        return cur.execute(_WARDS, {"ward": None}).fetchall()


def get_ward(conn: psycopg.Connection, ward_id: str) -> WardRow:
    with conn.cursor(row_factory=class_row(WardRow)) as cur:
        row = cur.execute(_WARDS, {"ward": ward_id}).fetchone()
    if row is None:
        raise NotFound(f"no ward {ward_id}")
    return row


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One admitted patient on the ward view: their latest score (with the
    values that made it and when each was measured), their latest complete
    set, their latest reading and their live alerts."""

    patient_id: str
    display_name: str | None
    admitted_at: datetime
    score_time: datetime | None
    total: int | None
    band: str | None
    max_single: int | None
    complete: bool | None
    missing: list[str] | None
    sub_scores: list[int] | None
    inputs: list[float | None] | None
    spo2_scale: int | None
    overridden: bool | None
    overridden_parameters: list[str] | None
    adjusted_total: int | None
    adjusted_band: str | None
    input_times: list[datetime | None] | None
    stale: list[str] | None
    monitoring_band: str | None
    last_complete_set: datetime | None
    last_reading: datetime | None
    open_alerts: int
    acknowledged_alerts: int
    alert_kinds: list[str]
    top_severity: str | None


# Highest risk first: the ward view must never bury a deteriorating patient, nor
# lift one because a value aged out (the effective band, ward/score_view.py).
WARD_SUMMARY_SQL = f"""
-- Live alerts once for the ward (MATERIALIZED: never re-run per patient).
WITH live AS MATERIALIZED (
    SELECT patient_id,
           count(*) FILTER (WHERE state = 'open') AS open_alerts,
           count(*) FILTER (WHERE state = 'acknowledged') AS acknowledged_alerts,
           array_agg(DISTINCT kind) AS kinds,
           -- ward.severity.SEVERITIES, highest first
           (array_agg(severity ORDER BY array_position(%(severities)s::text[], severity)
                DESC NULLS LAST))[1] AS top_severity
    FROM alerts WHERE ward_id = %(ward)s AND state <> 'resolved'
    GROUP BY patient_id
)
SELECT p.patient_id, p.display_name, p.admitted_at,
       s.time AS score_time, s.total, s.band, s.max_single, s.complete, s.missing,
       s.sub_scores, s.inputs, s.spo2_scale, s.overridden, s.overridden_parameters,
       s.adjusted_total, s.adjusted_band, s.input_times, s.stale, s.monitoring_band,
       c.measured_at AS last_complete_set, o.time AS last_reading,
       coalesce(a.open_alerts, 0)::int AS open_alerts,
       coalesce(a.acknowledged_alerts, 0)::int AS acknowledged_alerts,
       coalesce(a.kinds, '{{}}') AS alert_kinds,
       a.top_severity
FROM patients p
LEFT JOIN LATERAL (
    SELECT time, total, band, max_single, complete, missing, sub_scores, inputs, spo2_scale,
           overridden, overridden_parameters, adjusted_total, adjusted_band, input_times,
           stale, monitoring_band
    FROM scores WHERE scores.patient_id = p.patient_id ORDER BY time DESC LIMIT 1
) s ON true
LEFT JOIN LATERAL last_complete_set(p.patient_id) c ON true
LEFT JOIN LATERAL (
    SELECT time FROM observations WHERE observations.patient_id = p.patient_id
    ORDER BY time DESC LIMIT 1
) o ON true
LEFT JOIN live a ON a.patient_id = p.patient_id
WHERE p.ward_id = %(ward)s AND p.discharged_at IS NULL
ORDER BY array_position(%(bands)s::text[], {effective_band_sql("s")}) DESC NULLS LAST,
         s.total DESC NULLS LAST, coalesce(a.open_alerts, 0) DESC, p.patient_id
"""


def ward_summary_params(ward_id: str, now: datetime) -> dict:
    return {"ward": ward_id, "now": now, "bands": list(BANDS), "severities": list(SEVERITIES)}


def ward_summary(conn: psycopg.Connection, ward_id: str, now: datetime) -> list[SummaryRow]:
    with conn.cursor(row_factory=class_row(SummaryRow)) as cur:
        return cur.execute(WARD_SUMMARY_SQL, ward_summary_params(ward_id, now)).fetchall()
