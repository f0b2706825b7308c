"""psycopg only: what an admin does to the ward's records through the API:
admit and discharge patients, register devices and move them between
patients.  Built on ward.devices and ward.clinical, so that the CLI and the
API change the records the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

import alerts
from api import accounts
from ward import devices
from ward.errors import Conflict, NotFound


@dataclass(frozen=True, slots=True)
class Registered:
    device_id: str
    patient_id: str
    ward_id: str
    mqtt_password: str
    token: str


def _patient_ward(conn: psycopg.Connection, patient_id: str, *, lock: bool = False) -> str:
    """The ward of an admitted patient."""
    row = conn.execute("SELECT ward_id, discharged_at FROM patients WHERE patient_id = %s"
                       + (" FOR UPDATE" if lock else ""), (patient_id,)).fetchone()
    if row is None:
        raise NotFound(f"no patient {patient_id}")
    if row[1] is not None:
        raise Conflict(f"patient {patient_id} was discharged at {row[1]:%Y-%m-%d %H:%M}Z")
    return row[0]


def admit(conn: psycopg.Connection, patient_id: str, ward_id: str, display_name: str | None,
          *, now: datetime, source: str | None = None) -> None:
    """Admit a patient; `source` is where they came from (ward.flow.SOURCES),
    None: not recorded."""
    devices.check_id(patient_id, "patient id")
    with conn.transaction():
        devices.ensure_ward(conn, ward_id)
        cur = conn.execute(
            "INSERT INTO patients (patient_id, ward_id, display_name, admitted_at,"
            " admission_source) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (patient_id) DO NOTHING",
            (patient_id, ward_id, display_name, now, source))
        if cur.rowcount == 0:
            raise Conflict(f"patient {patient_id} exists already (patient ids are never reused)")


def discharge(conn: psycopg.Connection, patient_id: str, *, by: str, note: str,
              now: datetime, outcome: str | None = None) -> tuple[list[str], list[int]]:
    """Discharge a patient: their devices are unassigned and their live
    alerts resolved, in one transaction; `outcome` is where they went
    (ward.flow.OUTCOMES), None: not recorded.  Returns (devices, alerts)."""
    with conn.transaction():
        _patient_ward(conn, patient_id, lock=True)
        conn.execute("UPDATE patients SET discharged_at = %s, discharge_outcome = %s"
                     " WHERE patient_id = %s", (now, outcome, patient_id))
        # Set-based, as ward.devices.unassign_device does one device.
        device_ids = sorted(r[0] for r in conn.execute(
            "UPDATE device_assignments"
            " SET valid_to = greatest(%s, valid_from + interval '1 microsecond')"
            " WHERE patient_id = %s AND valid_to IS NULL RETURNING device_id",
            (now, patient_id)))
        alert_ids = alerts.resolve_patient_alerts(
            conn, patient_id, by=by, now=now,
            note=note or "patient discharged from the virtual ward")
    return device_ids, alert_ids


def register_device(conn: psycopg.Connection, device_id: str, patient_id: str, kind: str, *,
                    replace: bool, now: datetime, valid_from: datetime | None = None
                    ) -> Registered:
    """Register a device for an admitted patient, from `valid_from` on (`now`
    when left out: ward.devices.assign says what a start back in time may
    be); returns its new MQTT password and bearer token.  A device registered
    before is refused unless `replace`, which gives it new credentials (the
    old ones stop working)."""
    devices.check_id(device_id, "device id")
    with conn.transaction():
        ward_id = _patient_ward(conn, patient_id)
        known = conn.execute("SELECT 1 FROM devices WHERE device_id = %s",
                             (device_id,)).fetchone()
        if known and not replace:
            raise Conflict(f"device {device_id} is registered already; send replace=true to"
                           " give it new credentials")
        passwords = devices.register_devices(
            conn, [devices.NewDevice(device_id, patient_id, ward_id, kind)],
            valid_from=valid_from or now, now=now)
        token = accounts.issue_device_token(conn, device_id)
    return Registered(device_id, patient_id, ward_id, passwords[device_id], token)


def assign_device(conn: psycopg.Connection, device_id: str, patient_id: str, *,
                  now: datetime, valid_from: datetime | None = None) -> bool:
    """Give a registered device to an admitted patient from `valid_from` on
    (`now` when left out), keeping its credentials (ward.devices.register_devices
    would replace them).  False when it was with that patient already since
    then."""
    with conn.transaction():
        _patient_ward(conn, patient_id)
        if conn.execute("SELECT 1 FROM devices WHERE device_id = %s FOR UPDATE",
                        (device_id,)).fetchone() is None:
            raise NotFound(f"no device {device_id}")
        changed = devices.assign(conn, [(device_id, patient_id)],
                                 valid_from=valid_from or now, now=now)
    return bool(changed)


def unassign_device(conn: psycopg.Connection, device_id: str, *, now: datetime) -> bool:
    if conn.execute("SELECT 1 FROM devices WHERE device_id = %s", (device_id,)).fetchone() is None:
        raise NotFound(f"no device {device_id}")
    return devices.unassign_device(conn, device_id, at=now)
