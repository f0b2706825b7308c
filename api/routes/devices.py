"""Register devices (MQTT credentials and a bearer token), move them
between patients, list them.  Admin only."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, status

from api import admission
from api.deps import AdminUser, AppSettings, Conn
from api.device_schemas import (
    Assignment,
    DeviceAssign,
    DeviceOut,
    DeviceRegister,
    DeviceRegistered,
    MqttCredentials,
)
from ward import broker, devices, times, tls
from ward.settings import Settings
from ward.topics import readings_topic

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


@router.get("", response_model=list[DeviceOut])
def list_devices(admin: AdminUser, conn: Conn) -> list[devices.DeviceRow]:
    return devices.list_devices(conn)


@router.post("", response_model=DeviceRegistered, status_code=status.HTTP_201_CREATED,
             responses={404: {"description": "No such patient"},
                        409: {"description": "Device known already, or patient discharged"}})
def register(body: DeviceRegister, request: Request, admin: AdminUser, conn: Conn,
             cfg: AppSettings) -> DeviceRegistered:
    """Register a device and assign it to an admitted patient, from now or
    from `valid_from` (handed out before it was registered).  Returns its
    MQTT password and its bearer token for HTTP ingestion, shown this once."""
    now = datetime.now(UTC)
    start = _start(body.valid_from, now, cfg)
    done = admission.register_device(conn, body.device_id, body.patient_id, body.kind,
                                     replace=body.replace, now=now, valid_from=start)
    synced = broker.manages_users(cfg)
    if synced:
        # The broker's users come from the database (ward/broker.py), through this
        # connection so that a registration not yet committed is seen.
        broker.sync_users(cfg, conn, new=[done.device_id])
    return DeviceRegistered(
        device_id=done.device_id, patient_id=done.patient_id, ward_id=done.ward_id,
        mqtt=MqttCredentials(host=cfg.mqtt_host, port=cfg.mqtt_port,
                             tls_port=cfg.mqtt_tls_port, ca_file=str(tls.ca_file(cfg)),
                             client_id=done.device_id,
                             username=done.device_id, password=done.mqtt_password,
                             topic=readings_topic(done.device_id)),
        token=done.token,
        readings_url=str(request.url_for("ingest_readings", device_id=done.device_id)),
        broker_synced=synced,
        refused_unassigned=devices.refused_unassigned(conn, done.device_id, start))


@router.put("/{device_id}/assignment", response_model=Assignment,
            responses={404: {"description": "No such device or patient"},
                       409: {"description": "Patient discharged or admitted after valid_from,"
                                            " or another assignment of the device overlaps"}})
def assign(device_id: str, body: DeviceAssign, admin: AdminUser,
           conn: Conn, cfg: AppSettings) -> Assignment:
    """Give the device to another admitted patient from now on (or from
    `valid_from`, back in time); its readings measured before then stay with
    the patient it had then."""
    now = datetime.now(UTC)
    start = _start(body.valid_from, now, cfg)
    changed = admission.assign_device(conn, device_id, body.patient_id, now=now,
                                      valid_from=start)
    return Assignment(device_id=device_id, patient_id=body.patient_id, changed=changed,
                      refused_unassigned=devices.refused_unassigned(conn, device_id, start))


def _start(valid_from: datetime | None, now: datetime, cfg: Settings) -> datetime:
    if valid_from is None:
        return now
    return times.backdated(valid_from, now, what="valid_from",
                                  max_future=timedelta(seconds=cfg.max_future_seconds),
                                  max_age=timedelta(days=cfg.max_age_days))


@router.delete("/{device_id}/assignment", response_model=Assignment,
               responses={404: {"description": "No such device"}})
def unassign(device_id: str, admin: AdminUser, conn: Conn) -> Assignment:
    """End the device's assignment now: its readings are refused
    (unassigned_device) until it is assigned again."""
    changed = admission.unassign_device(conn, device_id, now=datetime.now(UTC))
    return Assignment(device_id=device_id, patient_id=None, changed=changed)
