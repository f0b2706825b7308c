"""psycopg only: what the API reads (patients, alerts, wards), into frozen
rows.  Parameterised SQL; the ward summary is the read layer's (ward/reads.py),
shared with the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ward import reads
from ward.errors import NotFound
from ward.news2_chart import PARAMETERS
from ward.records import ALERT_COLUMNS, ALERT_EVENT_COLUMNS, AlertEventRow, AlertRow

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
                  include_discharged: bool, wards: list[str] | None = None) -> list[PatientRow]:
    """``wards``: only these (a clinician's, ward/access.as_filter); None: all."""
    with conn.cursor(row_factory=class_row(PatientRow)) as cur:
        return cur.execute(
            _PATIENTS + " WHERE (%(ward)s::text IS NULL OR p.ward_id = %(ward)s)"
            " AND (%(wards)s::text[] IS NULL OR p.ward_id = ANY(%(wards)s))"
            " AND (%(all)s OR p.discharged_at IS NULL)"
            " GROUP BY p.patient_id ORDER BY p.ward_id, p.patient_id",
            {"ward": ward_id, "wards": wards, "all": include_discharged}).fetchall()


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
                state: str, category: str | None, limit: int,
                wards: list[str] | None = None) -> list[AlertRow]:
    """``wards``: only these (a clinician's, ward/access.as_filter); None: all."""
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        return cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts"
            " WHERE state = ANY(%(states)s)"
            " AND (%(ward)s::text IS NULL OR ward_id = %(ward)s)"
            " AND (%(wards)s::text[] IS NULL OR ward_id = ANY(%(wards)s))"
            " AND (%(patient)s::text IS NULL OR patient_id = %(patient)s)"
            " AND (%(category)s::text IS NULL OR category = %(category)s)"
            " ORDER BY opened_at DESC, alert_id DESC LIMIT %(limit)s",
            {"states": list(ALERT_STATES[state]), "ward": ward_id, "patient": patient_id,
             "category": category, "limit": limit, "wards": wards}).fetchall()


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


def require_alert(conn: psycopg.Connection, alert_id: int) -> str:
    """The alert's patient; NotFound when there is no such alert."""
    row = conn.execute("SELECT patient_id FROM alerts WHERE alert_id = %s",
                       (alert_id,)).fetchone()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    return row[0]


# ---------------------------------------------------------------- wards


@dataclass(frozen=True, slots=True)
class WardRow:
    ward_id: str
    name: str
    time_zone: str
    patients: int
    live_alerts: int
    protocol: str = "news2"  # ward/protocols.py


_WARDS = """
SELECT w.ward_id, w.name, w.time_zone, w.protocol,
       (SELECT count(*) FROM patients p WHERE p.ward_id = w.ward_id
        AND p.discharged_at IS NULL)::int AS patients,
       (SELECT count(*) FROM alerts a WHERE a.ward_id = w.ward_id
        AND a.state <> 'resolved')::int AS live_alerts
FROM wards w WHERE (%(ward)s::text IS NULL OR w.ward_id = %(ward)s)
AND (%(wards)s::text[] IS NULL OR w.ward_id = ANY(%(wards)s)) ORDER BY w.ward_id
"""


def list_wards(conn: psycopg.Connection, wards: list[str] | None = None) -> list[WardRow]:
    """``wards``: only these (a clinician's, ward/access.as_filter); None: all."""
    with conn.cursor(row_factory=class_row(WardRow)) as cur:
        return cur.execute(_WARDS, {"ward": None, "wards": wards}).fetchall()


def get_ward(conn: psycopg.Connection, ward_id: str) -> WardRow:
    with conn.cursor(row_factory=class_row(WardRow)) as cur:
        row = cur.execute(_WARDS, {"ward": ward_id, "wards": None}).fetchone()
    if row is None:
        raise NotFound(f"no ward {ward_id}")
    return row


# The ward summary is the read layer's (ward/reads.py), one statement for the REST
# API and the dashboard; named here too for the API's views and `vward bench web`.
SummaryRow = reads.SummaryRow
WARD_SUMMARY_SQL = reads.WARD_SUMMARY_SQL
ward_summary_params = reads.ward_summary_params


def ward_summary(conn: psycopg.Connection, ward_id: str, now: datetime) -> list[SummaryRow]:
    """The ward's admitted patients, highest risk first (ward.reads.ward_summary)."""
    return reads.ward_summary(conn, ward_id, now)
