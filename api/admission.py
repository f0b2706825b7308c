"""psycopg only: what an admin does to the ward's records through the API:
admit and discharge patients, register devices and move them between
patients; and a clinician's discharge that tells the GP (a discharge summary,
made once: api/discharge_fhir.py, api/discharge_pdf.py, kept by
api/discharge_store.py).  Built on ward.devices and ward.clinical, so that
the CLI and the API change the records the same way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg

import alerts
from api import accounts, discharge_fhir, discharge_pdf, discharge_record, discharge_store
from ward import devices
from ward.errors import Conflict, NotFound, WardError
from ward.nhs_number import checked as checked_nhs_number

# The clinician's summary for the GP: required, and a summary, not a record dump.
MAX_SUMMARY = 20_000  # [characters]
MAX_REASON = 500  # [characters]


class NotAClinician(WardError):
    """The discharging person is not a clinician of the ward's users."""


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
          *, now: datetime, source: str | None = None, nhs_number: str | None = None) -> None:
    """Admit a patient; `source` is where they came from (ward.flow.SOURCES),
    None: not recorded; `nhs_number` checked (ward.nhs_number), None: not known."""
    devices.check_id(patient_id, "patient id")
    number = checked_nhs_number(nhs_number) if nhs_number is not None else None
    with conn.transaction():
        devices.ensure_ward(conn, ward_id)
        cur = conn.execute(
            "INSERT INTO patients (patient_id, ward_id, display_name, admitted_at,"
            " admission_source, nhs_number) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (patient_id) DO NOTHING",
            (patient_id, ward_id, display_name, now, source, number))
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


@dataclass(frozen=True, slots=True)
class Summarised:
    """A discharge and its summary: the document's path (``/fhir/Bundle/{id}``)."""

    document_id: str
    unassigned_devices: list[str]
    resolved_alerts: list[int]

    @property
    def path(self) -> str:
        return f"/fhir/Bundle/{self.document_id}"


def summary_problem(summary: str | None, admission_reason: str | None) -> str | None:
    """Why the clinician's words cannot go to the GP as they are, or None."""
    text = (summary or "").strip()
    if not text:
        return ("the discharge summary is empty: write what the GP needs to know (what"
                " happened, what to watch for, follow-up); nothing was changed")
    if len(text) > MAX_SUMMARY:
        return f"the discharge summary is {len(text)} characters; at most {MAX_SUMMARY}"
    if admission_reason and len(admission_reason.strip()) > MAX_REASON:
        return f"the reason for admission is longer than {MAX_REASON} characters"
    return None


def discharge_with_summary(conn: psycopg.Connection, patient_id: str, *, by: str,
                           summary: str, now: datetime, outcome: str | None = None,
                           admission_reason: str | None = None, note: str = "") -> Summarised:
    """Discharge a patient and make their discharge summary, in one transaction:
    the FHIR document and its PDF are made from the stored stay once, kept
    unchanged (migration 019), and the discharge happens only if they are made.
    ``by`` must be a clinician among the ward's users (the document's author)."""
    problem = summary_problem(summary, admission_reason)
    if problem:
        raise WardError(problem)
    role = discharge_store.clinician_role(conn, by)
    if role != "clinician":
        raise NotAClinician(
            f"{by} is {'not a user of the ward' if role is None else 'an ' + role}: a"
            " discharge summary is written by a clinician (vward user add NAME --role"
            " clinician); nothing was changed")
    with conn.transaction():
        device_ids, alert_ids = discharge(conn, patient_id, by=by, now=now, outcome=outcome,
                                          note=note or "discharged with a summary to the GP")
        stay = discharge_store.load_stay(conn, patient_id)
        authored = discharge_record.Authored(str(uuid.uuid4()), by, summary.strip(),
                                             (admission_reason or "").strip() or None, now)
        bundle = discharge_fhir.document(stay, authored)
        discharge_store.insert(conn, patient_id, bundle, discharge_pdf.render(stay, authored),
                               authored.summary, by, now)
    return Summarised(authored.document_id, device_ids, alert_ids)


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
