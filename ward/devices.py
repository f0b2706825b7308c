"""Registering devices, patients and wards, and assigning devices to
patients over time.  psycopg only; the broker's credential files are written
from what this stores (ward/broker.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import class_row

from ward import mqtt_auth, nhs_number
from ward.broker_names import LEGACY_SERVICE_USERS
from ward.errors import Conflict, NotFound, WardError
from ward.rabbitmq_config import ADMIN_USER
from ward.times import iso

DEFAULT_WARD = "ward-1"
# No '@': the broker's service users have one (ingest@vward), so no device id
# can take a service's name (issue 10).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Broker users without an '@': RabbitMQ's admin, and the one service user of
# before issue 10, which a broker the ward does not manage may still have.
_RESERVED_DEVICE_IDS = frozenset({ADMIN_USER, *LEGACY_SERVICE_USERS})


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
    if not _ID.fullmatch(value):
        raise WardError(
            f"{what} {value!r} is not valid: 1-64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    if what == "device id" and value in _RESERVED_DEVICE_IDS:
        raise WardError(
            f"device id {value!r} is reserved: it names one of the broker's own users"
            " (a device is its broker user)")
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
    conn: psycopg.Connection,
    new: Iterable[NewDevice],
    *,
    valid_from: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """Register devices (creating wards and patients as needed), assign each
    to its patient from `valid_from` on (`now` when left out), and return each
    device's new MQTT password.  A device already known gets a new password,
    and is moved to the patient named if it was assigned to another one.  One
    transaction.  New patients are admitted at `valid_from`; the rules of a
    backdated start are `assign` 's."""
    now = now or datetime.now(UTC)
    valid_from = valid_from or now
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
                "INSERT INTO devices (device_id, kind, mqtt_password_hash, rabbitmq_password_hash)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (device_id) DO UPDATE"
                " SET mqtt_password_hash = EXCLUDED.mqtt_password_hash,"
                " rabbitmq_password_hash = EXCLUDED.rabbitmq_password_hash,"
                " kind = CASE WHEN EXCLUDED.kind = 'generic' THEN devices.kind"
                " ELSE EXCLUDED.kind END",
                [
                    (d.device_id, d.kind, mqtt_auth.hash_password(passwords[d.device_id]),
                     mqtt_auth.rabbitmq_hash(passwords[d.device_id]))
                    for d in items
                ],
            )
        assign(conn, [(d.device_id, d.patient_id) for d in items], valid_from=valid_from, now=now)
    return passwords


def assign(
    conn: psycopg.Connection,
    pairs: list[tuple[str, str]],
    *,
    valid_from: datetime,
    now: datetime,
) -> list[str]:
    """Give each registered device of (device, patient) `pairs` to its patient
    from `valid_from` on; returns the devices whose assignment changed.

    A device with another patient now is moved at `now`.  A `valid_from`
    before `now` (a device handed out before it was registered) starts the
    assignment back then: a device already with the patient since later has
    its assignment moved back; but an assignment never begins before the
    patient's admission, nor overlaps another assignment of the device, not
    even the current one of another patient (its readings of that time were
    stored for that patient).  Those are refused with a Conflict naming
    them."""
    if not pairs:
        return []
    devices_, patients = (list(x) for x in zip(*pairs, strict=True))
    with conn.transaction():
        _check_admitted(conn, sorted(set(patients)), valid_from)
        _check_overlaps(conn, devices_, patients, valid_from, now)
        try:
            with conn.transaction(), conn.cursor() as cur:
                return _write_assignments(cur, devices_, patients, valid_from, now)
        except psycopg.errors.ExclusionViolation as exc:
            # Only a registration running at the same moment gets here.
            detail = exc.diag.message_detail or ""
            raise Conflict(
                f"the assignment overlaps another one of the same device, made meanwhile:"
                f" {detail}"
            ) from None


def _write_assignments(
    cur: psycopg.Cursor, devices_: list[str], patients: list[str], valid_from: datetime,
    now: datetime,
) -> list[str]:
    params = {"d": devices_, "p": patients, "from": valid_from, "now": now}
    # Another patient's assignment ends now, never in the past (_check_overlaps).
    moved = cur.execute(
        "UPDATE device_assignments a"
        " SET valid_to = greatest(%(now)s, a.valid_from + interval '1 microsecond')"
        " FROM unnest(%(d)s::text[], %(p)s::text[]) AS n(device_id, patient_id)"
        " WHERE a.device_id = n.device_id AND a.valid_to IS NULL"
        " AND a.patient_id <> n.patient_id RETURNING a.device_id",
        params,
    ).fetchall()
    # With the patient already, from later than said: it begins back then.
    earlier = cur.execute(
        "UPDATE device_assignments a SET valid_from = %(from)s"
        " FROM unnest(%(d)s::text[], %(p)s::text[]) AS n(device_id, patient_id)"
        " WHERE a.device_id = n.device_id AND a.valid_to IS NULL"
        " AND a.patient_id = n.patient_id AND a.valid_from > %(from)s RETURNING a.device_id",
        params,
    ).fetchall()
    opened = cur.execute(
        "INSERT INTO device_assignments (device_id, patient_id, valid_from)"
        " SELECT n.device_id, n.patient_id, %(from)s"
        " FROM unnest(%(d)s::text[], %(p)s::text[]) AS n(device_id, patient_id)"
        " WHERE NOT EXISTS (SELECT 1 FROM device_assignments a"
        "   WHERE a.device_id = n.device_id AND a.valid_to IS NULL)"
        " RETURNING device_id",
        params,
    ).fetchall()
    return sorted({r[0] for r in [*moved, *earlier, *opened]})


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


def _check_admitted(conn: psycopg.Connection, patients: list[str], valid_from: datetime) -> None:
    rows = conn.execute(
        "SELECT patient_id, admitted_at, discharged_at FROM patients"
        " WHERE patient_id = ANY(%s) AND (admitted_at > %s OR discharged_at IS NOT NULL)"
        " ORDER BY patient_id",
        (patients, valid_from),
    ).fetchall()
    for patient_id, admitted_at, discharged_at in rows:
        if discharged_at is not None:
            raise Conflict(
                f"patient {patient_id} was discharged at {iso(discharged_at)}: no device can"
                " be assigned to them"
            )
        raise Conflict(
            f"patient {patient_id} was admitted at {iso(admitted_at)}, after {iso(valid_from)}:"
            " an assignment cannot begin before the patient's admission"
        )


def _check_overlaps(
    conn: psycopg.Connection, devices_: list[str], patients: list[str], valid_from: datetime,
    now: datetime,
) -> None:
    """Refuse, naming it, an assignment of the device that the new one from
    `valid_from` would overlap once another patient's current one ends `now`
    (the device's current one with the same patient is moved back instead).
    The table's exclusion constraint is the backstop; this says which."""
    row = conn.execute(
        "SELECT a.device_id, a.patient_id, a.valid_from, a.valid_to, n.patient_id"
        " FROM device_assignments a"
        " JOIN unnest(%(d)s::text[], %(p)s::text[]) AS n(device_id, patient_id)"
        "   ON a.device_id = n.device_id"
        " WHERE NOT (a.valid_to IS NULL AND a.patient_id = n.patient_id)"
        " AND tstzrange(a.valid_from, coalesce(a.valid_to,"
        "   greatest(%(now)s, a.valid_from + interval '1 microsecond')))"
        "   && tstzrange(%(from)s, NULL)"
        " ORDER BY a.device_id, a.valid_from DESC LIMIT 1",
        {"d": devices_, "p": patients, "from": valid_from, "now": now},
    ).fetchone()
    if row is None:
        return
    device_id, holder, since, until, wanted = row
    start = f"an assignment to patient {wanted} from {iso(valid_from)} would overlap it"
    if until is None:
        raise Conflict(
            f"device {device_id} is assigned to patient {holder} since {iso(since)}: {start}"
            f" (the readings it sent meanwhile were stored for {holder}); move it from now"
            " on instead"
        )
    raise Conflict(
        f"device {device_id} was assigned to patient {holder} from {iso(since)} until"
        f" {iso(until)}: {start}; begin at {iso(until)} or later"
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


def refused_unassigned(conn: psycopg.Connection, device_id: str, since: datetime) -> int:
    """Messages of the device received since `since` that had readings refused
    because it had no patient (ingest's `unassigned_device`, alone or among
    other reasons).  They stay refused in rejected_messages after a backdated
    assignment: the device must send them again."""
    row = conn.execute(
        "SELECT count(*) FROM rejected_messages WHERE device_id = %s AND received_at >= %s"
        " AND (reason_code = 'unassigned_device'"
        "      OR (reason_code = 'several' AND reason LIKE '%%was not assigned to a patient%%'))",
        (device_id, since),
    ).fetchone()
    return row[0] if row else 0


def password_hashes(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT device_id, mqtt_password_hash FROM devices").fetchall())


def rabbitmq_hashes(
    conn: psycopg.Connection, device_ids: list[str] | None = None
) -> list[tuple[str, str | None]]:
    """(device id, RabbitMQ hash) of every device, or of those named; NULL for
    one registered before migration 009 (registering it again gives it one)."""
    if device_ids is not None:
        return conn.execute(
            "SELECT device_id, rabbitmq_password_hash FROM devices WHERE device_id = ANY(%s)"
            " ORDER BY device_id", (device_ids,)
        ).fetchall()
    return conn.execute(
        "SELECT device_id, rabbitmq_password_hash FROM devices ORDER BY device_id"
    ).fetchall()


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


def set_nhs_number(conn: psycopg.Connection, patient_id: str, text: str) -> str:
    """Record an admitted patient's NHS number, checked (ward/nhs_number.py: a typing
    slip is refused with the reason); returns it as stored.  The discharge summary,
    made at discharge, carries it; one already made never changes."""
    number = nhs_number.checked(text)
    row = conn.execute("UPDATE patients SET nhs_number = %s WHERE patient_id = %s"
                       " AND discharged_at IS NULL RETURNING 1", (number, patient_id)).fetchone()
    if row is None:
        raise NotFound(f"no admitted patient {patient_id}")
    return number
