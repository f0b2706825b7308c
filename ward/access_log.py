"""psycopg only: who read which patient's data, when and through what
(migration 010's append-only `patient_reads`).  Written by the API, FHIR and
the dashboard, one insert per request; listed by `vward audit` and
GET /api/v1/audit.

A person reading the same patient the same way within the same minute is
one row: the insert does nothing on that conflict, so a dashboard page that
refreshes every few seconds costs one row a minute, and the table stays
append-only (no counter is ever updated)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row

Via = Literal["api", "fhir", "dashboard", "link"]  # link: an acknowledge link's page


@dataclass(frozen=True, slots=True)
class Read:
    """One read of a patient's data, as the door that served it saw it."""

    actor: str
    role: str
    patient_id: str
    via: Via
    what: str
    address: str | None = None


@dataclass(frozen=True, slots=True)
class ReadRow:
    at: datetime
    actor: str
    role: str
    patient_id: str
    via: str
    what: str
    address: str | None


def record(conn: psycopg.Connection, read: Read, now: datetime) -> None:
    """One statement; nothing when there is no such patient (a search for an
    unknown id read nothing)."""
    conn.execute(
        "INSERT INTO patient_reads (at, minute, actor, role, patient_id, via, what, address)"
        " SELECT %s, %s, %s, %s, p.patient_id, %s, %s, %s FROM patients p"
        " WHERE p.patient_id = %s"
        " ON CONFLICT (patient_id, actor, via, what, minute) DO NOTHING",
        (now, int(now.timestamp() // 60), read.actor, read.role, read.via, read.what,
         read.address, read.patient_id))


def list_reads(conn: psycopg.Connection, patient_id: str, *, since: datetime | None = None,
               limit: int = 1000) -> list[ReadRow]:
    """The patient's reads, newest first."""
    with conn.cursor(row_factory=class_row(ReadRow)) as cur:
        return cur.execute(
            "SELECT at, actor, role, patient_id, via, what, address FROM patient_reads"
            " WHERE patient_id = %s AND at >= coalesce(%s, '-infinity'::timestamptz)"
            " ORDER BY at DESC, read_id DESC LIMIT %s",
            (patient_id, since, limit)).fetchall()
