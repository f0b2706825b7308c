"""Registering devices, patients and wards, and assigning devices to
patients over time.  psycopg only; the broker's credential files are written
from what this stores (ward/services.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import class_row

from ward import mqtt_auth
from ward.errors import Conflict, WardError

DEFAULT_WARD = "ward-1"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: str
    kind: str
    patient_id: str | None
    ward_id: str | None
    last_seen: datetime | None
    battery: float | None
    online: bool | None


@dataclass(frozen=True, slots=True)
class NewDevice:
    device_id: str
    patient_id: str
    ward_id: str = DEFAULT_WARD
    kind: str = "generic"


def check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise WardError(
            f"{what} {value!r} is not valid: 1-64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return value


def ensure_ward(
    conn: psycopg.Connection,
    ward_id: str,
    *,
    name: str | None = None,
    time_zone: str = "Europe/London",
) -> None:
    check_id(ward_id, "ward id")
    conn.execute(
        "INSERT INTO wards (ward_id, name, time_zone) VALUES (%s, %s, %s)"
        " ON CONFLICT (ward_id) DO NOTHING",
        (ward_id, name or ward_id, time_zone),
    )


def register_devices(
    conn: psycopg.Connection, new: Iterable[NewDevice], *, valid_from: datetime | None = None
) -> dict[str, str]:
    """Register devices (creating wards and patients as needed), assign each
    to its patient from `valid_from` on, and return each device's new MQTT
    password.  A device already known gets a new password, and is moved to
    the patient named if it was assigned to another one.  One transaction."""
    valid_from = valid_from or datetime.now(UTC)
    items = list(new)
    for d in items:
        check_id(d.device_id, "device id")
        check_id(d.patient_id, "patient id")
    passwords = {d.device_id: mqtt_auth.new_password() for d in items}
    with conn.transaction():
        for ward_id in sorted({d.ward_id for d in items}):
            ensure_ward(conn, ward_id)
        _ensure_patients(conn, items, valid_from)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO devices (device_id, kind, mqtt_password_hash) VALUES (%s, %s, %s)"
                " ON CONFLICT (device_id) DO UPDATE"
                " SET mqtt_password_hash = EXCLUDED.mqtt_password_hash,"
                " kind = CASE WHEN EXCLUDED.kind = 'generic' THEN devices.kind"
                " ELSE EXCLUDED.kind END",
                [
                    (d.device_id, d.kind, mqtt_auth.hash_password(passwords[d.device_id]))
                    for d in items
                ],
            )
            # Close an assignment to another patient, then open the new one.
            cur.executemany(
                "UPDATE device_assignments"
                " SET valid_to = greatest(%s, valid_from + interval '1 microsecond')"
                " WHERE device_id = %s AND valid_to IS NULL AND patient_id <> %s",
                [(valid_from, d.device_id, d.patient_id) for d in items],
            )
            cur.executemany(
                "INSERT INTO device_assignments (device_id, patient_id, valid_from)"
                " SELECT %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM device_assignments"
                " WHERE device_id = %s AND valid_to IS NULL)",
                [(d.device_id, d.patient_id, valid_from, d.device_id) for d in items],
            )
    return passwords


def _ensure_patients(
    conn: psycopg.Connection, items: list[NewDevice], admitted_at: datetime
) -> None:
    wanted = {d.patient_id: d.ward_id for d in items}
    rows = conn.execute(
        "SELECT patient_id, ward_id FROM patients WHERE patient_id = ANY(%s)", (list(wanted),)
    ).fetchall()
    for patient_id, ward_id in rows:
        if wanted[patient_id] != ward_id:
            raise Conflict(f"patient {patient_id} is on ward {ward_id}, not {wanted[patient_id]}")
    known = {r[0] for r in rows}
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO patients (patient_id, ward_id, admitted_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (patient_id) DO NOTHING",
            [(p, w, admitted_at) for p, w in wanted.items() if p not in known],
        )


def unassign_device(
    conn: psycopg.Connection, device_id: str, *, at: datetime | None = None
) -> bool:
    at = at or datetime.now(UTC)
    with conn.transaction():
        cur = conn.execute(
            "UPDATE device_assignments"
            " SET valid_to = greatest(%s, valid_from + interval '1 microsecond')"
            " WHERE device_id = %s AND valid_to IS NULL",
            (at, device_id),
        )
    return cur.rowcount > 0


def password_hashes(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT device_id, mqtt_password_hash FROM devices").fetchall())


def list_devices(conn: psycopg.Connection) -> list[DeviceRow]:
    with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        return cur.execute(
            """
            SELECT d.device_id, d.kind, a.patient_id, p.ward_id, d.last_seen,
                   s.battery, s.online
            FROM devices d
            LEFT JOIN device_assignments a ON a.device_id = d.device_id AND a.valid_to IS NULL
            LEFT JOIN patients p ON p.patient_id = a.patient_id
            LEFT JOIN LATERAL (
                SELECT battery, online FROM device_status ds
                WHERE ds.device_id = d.device_id ORDER BY time DESC LIMIT 1
            ) s ON true
            ORDER BY p.ward_id NULLS LAST, a.patient_id NULLS LAST, d.device_id
            """
        ).fetchall()
