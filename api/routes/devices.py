"""Register devices (MQTT credentials and a bearer token), move them
between patients, list them.  Admin only."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request, status

from api import admission, schemas
from api.deps import AdminUser, AppSettings, Conn
from ward import devices, services

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


@router.get("", response_model=list[schemas.DeviceOut])
def list_devices(admin: AdminUser, conn: Conn) -> list[devices.DeviceRow]:
    return devices.list_devices(conn)


@router.post("", response_model=schemas.DeviceRegistered, status_code=status.HTTP_201_CREATED,
             responses={404: {"description": "No such patient"},
                        409: {"description": "Device known already, or patient discharged"}})
def register(body: schemas.DeviceRegister, request: Request, admin: AdminUser, conn: Conn,
             cfg: AppSettings) -> schemas.DeviceRegistered:
    """Register a device and assign it to an admitted patient.  Returns its
    MQTT password and its bearer token for HTTP ingestion, shown this once."""
    done = admission.register_device(conn, body.device_id, body.patient_id, body.kind,
                                     replace=body.replace, now=datetime.now(UTC))
    if not cfg.mqtt_external:
        # The broker's password file is written from the database (ward/services.py).
        services.write_broker_credentials(cfg, devices.password_hashes(conn))
    return schemas.DeviceRegistered(
        device_id=done.device_id, patient_id=done.patient_id, ward_id=done.ward_id,
        mqtt=schemas.MqttCredentials(host=cfg.mqtt_host, port=cfg.mqtt_port,
                                     username=done.device_id, password=done.mqtt_password,
                                     topic=f"ward/v1/devices/{done.device_id}/readings"),
        token=done.token,
        readings_url=str(request.url_for("ingest_readings", device_id=done.device_id)),
        broker_synced=not cfg.mqtt_external)


@router.put("/{device_id}/assignment", response_model=schemas.Assignment,
            responses={404: {"description": "No such device or patient"}})
def assign(device_id: str, body: schemas.DeviceAssign, admin: AdminUser,
           conn: Conn) -> schemas.Assignment:
    """Give the device to another admitted patient from now on; its readings
    measured before now stay with the patient it had then."""
    changed = admission.assign_device(conn, device_id, body.patient_id, now=datetime.now(UTC))
    return schemas.Assignment(device_id=device_id, patient_id=body.patient_id, changed=changed)


@router.delete("/{device_id}/assignment", response_model=schemas.Assignment,
               responses={404: {"description": "No such device"}})
def unassign(device_id: str, admin: AdminUser, conn: Conn) -> schemas.Assignment:
    """End the device's assignment now: its readings are refused
    (unassigned_device) until it is assigned again."""
    changed = admission.unassign_device(conn, device_id, now=datetime.now(UTC))
    return schemas.Assignment(device_id=device_id, patient_id=None, changed=changed)
