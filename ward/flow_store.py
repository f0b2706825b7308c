"""psycopg only: the records of capacity and flow (migration 018) and a month
of them for ward/flow.py.  The CLI, the API and the dashboard all come here, so
every door records them the same way."""

from __future__ import annotations

from datetime import date, datetime

import psycopg
from psycopg.rows import class_row

from ward import flow
from ward.errors import Conflict, NotFound, WardError
from ward.rota import load_zone, ward_zone

MAX_BEDS = 100_000  # the table's CHECK: a typo, not a ward


def set_capacity(conn: psycopg.Connection, ward_id: str, beds: int, *, valid_from: date,
                 by: str, reason: str, now: datetime) -> flow.CapacityChange:
    """From `valid_from` (a day of the ward's calendar) the ward runs `beds`;
    kept beside every earlier change."""
    if not 0 <= beds <= MAX_BEDS:
        raise WardError(f"beds must be between 0 and {MAX_BEDS:,}, not {beds}")
    if not by.strip():
        raise WardError("say who sets the capacity")
    with conn.transaction():
        load_zone(conn, ward_id)
        conn.execute(
            "INSERT INTO ward_capacity (ward_id, valid_from, beds, set_by, set_at, reason)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (ward_id, valid_from, beds, by, now, reason))
    return flow.CapacityChange(valid_from, beds, by, now, reason)


def capacity_changes(conn: psycopg.Connection, ward_id: str) -> list[flow.CapacityChange]:
    """Every change of the ward's capacity, in the order they take effect."""
    with conn.cursor(row_factory=class_row(flow.CapacityChange)) as cur:
        return cur.execute(
            "SELECT valid_from, beds, set_by, set_at, reason FROM ward_capacity"
            " WHERE ward_id = %s ORDER BY valid_from, set_at, change_id", (ward_id,)).fetchall()


def current_capacity(conn: psycopg.Connection, ward_id: str, now: datetime) -> int | None:
    tz = load_zone(conn, ward_id)
    today = flow.local_day(now, tz)
    return flow.capacity_by_day(capacity_changes(conn, ward_id), [today])[0]


def record_source(conn: psycopg.Connection, patient_id: str, source: str) -> None:
    """Where an admitted patient came from (flow.SOURCES); recorded once: a
    different source recorded before is a Conflict."""
    if source not in flow.SOURCES:
        raise WardError(f"an admission source is {' or '.join(flow.SOURCES)}, not {source!r}")
    row = conn.execute(
        "UPDATE patients SET admission_source = coalesce(admission_source, %s)"
        " WHERE patient_id = %s RETURNING admission_source", (source, patient_id)).fetchone()
    if row is None:
        raise NotFound(f"no patient {patient_id}")
    if row[0] != source:
        raise Conflict(f"patient {patient_id} was admitted {row[0]}, recorded already")


def record_sources(conn: psycopg.Connection, sources: dict[str, str]) -> None:
    """Many patients' sources at once (a simulated ward); a source recorded
    before is kept."""
    wrong = sorted(set(sources.values()) - set(flow.SOURCES))
    if wrong:
        raise WardError(f"an admission source is {' or '.join(flow.SOURCES)}, not {wrong[0]!r}")
    conn.execute(
        "UPDATE patients p SET admission_source = coalesce(p.admission_source, v.source)"
        " FROM unnest(%s::text[], %s::text[]) AS v(patient_id, source)"
        " WHERE p.patient_id = v.patient_id", (list(sources), list(sources.values())))


def record_readmission(conn: psycopg.Connection, patient_id: str, readmitted_on: date, *,
                       by: str, now: datetime) -> None:
    """A discharged patient admitted to hospital on `readmitted_on`, within
    flow.READMISSION_DAYS of their discharge; recorded once."""
    if not by.strip():
        raise WardError("say who records the readmission")
    with conn.transaction():
        row = conn.execute(
            "SELECT p.discharged_at, p.discharge_outcome, w.time_zone, r.readmitted_on"
            " FROM patients p JOIN wards w USING (ward_id)"
            " LEFT JOIN readmissions r USING (patient_id)"
            " WHERE p.patient_id = %s FOR UPDATE OF p", (patient_id,)).fetchone()
        if row is None:
            raise NotFound(f"no patient {patient_id}")
        discharged_at, outcome, zone, earlier = row
        if discharged_at is None:
            raise Conflict(f"patient {patient_id} is still on the ward")
        if earlier is not None:
            raise Conflict(f"patient {patient_id}'s readmission on {earlier} is recorded"
                           " already")
        tz = ward_zone(zone)
        problem = flow.readmission_problem(flow.local_day(discharged_at, tz), readmitted_on,
                                           outcome, flow.local_day(now, tz))
        if problem:
            raise WardError(f"patient {patient_id}: {problem}")
        conn.execute("INSERT INTO readmissions (patient_id, readmitted_on, recorded_by,"
                     " recorded_at) VALUES (%s, %s, %s, %s)",
                     (patient_id, readmitted_on, by, now))


def load_month(conn: psycopg.Connection, ward_id: str, month_text: str, *,
               now: datetime) -> flow.Month:
    """A month of the ward's flow as known at `now`: every stay that overlaps it,
    by the ward's days."""
    tz = load_zone(conn, ward_id)
    edges = flow.day_edges(flow.month_days(month_text), tz)
    with conn.cursor(row_factory=class_row(flow.Stay)) as cur:
        stays = cur.execute(
            "SELECT p.patient_id, p.admitted_at, p.discharged_at,"
            " p.admission_source AS source, p.discharge_outcome AS outcome, r.readmitted_on"
            " FROM patients p LEFT JOIN readmissions r USING (patient_id)"
            " WHERE p.ward_id = %s AND p.admitted_at < %s"
            " AND (p.discharged_at IS NULL OR p.discharged_at >= %s)",
            (ward_id, edges[-1], edges[0])).fetchall()
    return flow.month(ward_id, month_text, tz, stays, capacity_changes(conn, ward_id), now=now)
