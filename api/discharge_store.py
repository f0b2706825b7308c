"""psycopg only: what a discharge summary is made from, and the summaries kept
(migration 019).  The decisions and the documents are api/discharge_record.py's,
api/discharge_fhir.py's and api/discharge_pdf.py's; api/admission.py calls both in the discharge's
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from api.discharge_record import DeviceUse, Stay, Vital
from ward.errors import NotFound
from ward.records import (
    ALERT_COLUMNS,
    SCORE_COLUMNS,
    SETTING_COLUMNS,
    AlertRow,
    ScoreRow,
    SettingRow,
)


@dataclass(frozen=True, slots=True)
class Kept:
    """A stored summary, without its PDF."""

    document_id: str
    patient_id: str
    bundle: dict[str, Any]
    created_by: str
    created_at: datetime


def load_stay(conn: psycopg.Connection, patient_id: str) -> Stay:
    """The stay of a patient discharged (in this transaction or before)."""
    row = conn.execute(
        "SELECT p.display_name, p.nhs_number, p.ward_id, w.name, p.admitted_at,"
        " p.discharged_at, p.discharge_outcome, p.admission_source"
        " FROM patients p JOIN wards w USING (ward_id) WHERE p.patient_id = %s",
        (patient_id,)).fetchone()
    if row is None:
        raise NotFound(f"no patient {patient_id}")
    name, nhs, ward_id, ward_name, admitted, discharged, outcome, source = row
    if discharged is None:
        raise NotFound(f"patient {patient_id} is not discharged")
    span = {"p": patient_id, "start": admitted, "end": discharged}
    with conn.cursor(row_factory=class_row(ScoreRow)) as cur:
        scores = cur.execute(
            f"SELECT {SCORE_COLUMNS} FROM scores WHERE patient_id = %(p)s"
            " AND time <= %(end)s ORDER BY time", span).fetchall()
    with conn.cursor(row_factory=class_row(Vital)) as cur:
        vitals = cur.execute(
            "SELECT time, type, value, device_id FROM ("
            " SELECT DISTINCT ON (type) time, type, value, device_id FROM observations"
            " WHERE patient_id = %(p)s AND time <= %(end)s ORDER BY type, time DESC) v"
            " ORDER BY time, type", span).fetchall()
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        alerts = cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE patient_id = %(p)s"
            " ORDER BY opened_at, alert_id", span).fetchall()
    with conn.cursor(row_factory=class_row(SettingRow)) as cur:
        settings = cur.execute(
            f"SELECT {SETTING_COLUMNS} FROM patient_settings WHERE patient_id = %(p)s"
            " AND valid_from <= %(end)s AND (valid_to IS NULL OR valid_to > %(start)s)"
            " ORDER BY valid_from, setting_id", span).fetchall()
    with conn.cursor(row_factory=class_row(DeviceUse)) as cur:
        devices = cur.execute(
            "SELECT a.device_id, d.kind, a.valid_from, a.valid_to FROM device_assignments a"
            " JOIN devices d USING (device_id) WHERE a.patient_id = %(p)s"
            " ORDER BY a.valid_from, a.device_id", span).fetchall()
    return Stay(patient_id, name, nhs, ward_id, ward_name, admitted, discharged, outcome,
                source, tuple(scores), tuple(vitals), tuple(alerts), tuple(settings),
                tuple(devices))


def clinician_role(conn: psycopg.Connection, name: str) -> str | None:
    """The role of the user ``name`` (None: no such user)."""
    row = conn.execute("SELECT role FROM users WHERE name = %s", (name,)).fetchone()
    return None if row is None else row[0]


def insert(conn: psycopg.Connection, patient_id: str, bundle: dict[str, Any], pdf: bytes,
           summary: str, by: str, now: datetime) -> None:
    conn.execute(
        "INSERT INTO discharge_summaries (document_id, patient_id, bundle, pdf, summary_text,"
        " created_by, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (bundle["id"], patient_id, Jsonb(bundle), pdf, summary, by, now))


def by_document(conn: psycopg.Connection, document_id: str) -> Kept:
    with conn.cursor(row_factory=class_row(Kept)) as cur:
        row = cur.execute(
            "SELECT document_id, patient_id, bundle, created_by, created_at"
            " FROM discharge_summaries WHERE document_id = %s", (document_id,)).fetchone()
    if row is None:
        raise NotFound(f"no document {document_id}")
    return row


def of_patient(conn: psycopg.Connection, patient_id: str) -> list[Kept]:
    with conn.cursor(row_factory=class_row(Kept)) as cur:
        return cur.execute(
            "SELECT document_id, patient_id, bundle, created_by, created_at"
            " FROM discharge_summaries WHERE patient_id = %s ORDER BY created_at",
            (patient_id,)).fetchall()


def pdf_of(conn: psycopg.Connection, patient_id: str) -> tuple[str, bytes]:
    """(document id, PDF) of a patient's discharge summary."""
    row = conn.execute("SELECT document_id, pdf FROM discharge_summaries WHERE patient_id = %s",
                       (patient_id,)).fetchone()
    if row is None:
        raise NotFound(f"patient {patient_id} has no discharge summary")
    return row[0], bytes(row[1])
