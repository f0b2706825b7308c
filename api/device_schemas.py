"""The HTTP edge's shapes for devices: registering one (with its MQTT
credentials), assigning it to a patient, and the answer to readings it posts
over HTTP.  Patients, scores, alerts, wards and users are api/schemas.py's."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.inputs import StrictIn as _In
from api.inputs import Time


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


_ASSIGNMENT_START = (
    "The assignment began then: the device was handed out before it was registered.  Not in"
    " the future beyond VWARD_MAX_FUTURE_SECONDS, nor older than VWARD_MAX_AGE_DAYS, nor before"
    " the patient's admission, nor overlapping another assignment of the device; left out: now")


class DeviceRegister(_In):
    device_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    patient_id: str
    kind: str = Field("generic", description="oximeter, bp_cuff, thermometer, patch, tablet or"
                                             " generic")
    replace: bool = Field(False, description="Re-register a known device with new credentials")
    valid_from: Time | None = Field(None, description=_ASSIGNMENT_START)


class MqttCredentials(BaseModel):
    host: str
    port: int = Field(description="Plain MQTT: listens on the ward's host only (loopback)")
    tls_port: int = Field(description="MQTT over TLS (1.2 or later): where a device at home"
                                      " connects")
    ca_file: str = Field(description="Path, on the ward's host, of the CA certificate the device"
                                     " must trust for the broker's TLS certificate")
    client_id: str = Field(description="The MQTT client id the device must use: its device id")
    username: str
    password: str
    topic: str


class DeviceRegistered(BaseModel):
    device_id: str
    patient_id: str
    ward_id: str
    mqtt: MqttCredentials
    token: str = Field(description="Bearer token for POST /api/v1/devices/{id}/readings")
    readings_url: str
    broker_synced: bool = Field(description="False when the broker is external: give it the"
                                            " credentials yourself")
    refused_unassigned: int = Field(
        0, description="Messages of the device received since the assignment began that were"
                       " refused before it was made (unassigned_device): they stay refused,"
                       " the device must send them again")


class DeviceOut(_Out):
    device_id: str
    kind: str
    patient_id: str | None
    ward_id: str | None
    last_seen: datetime | None
    battery: float | None
    online: bool | None


class DeviceAssign(_In):
    patient_id: str
    valid_from: Time | None = Field(None, description=_ASSIGNMENT_START)


class Assignment(BaseModel):
    device_id: str
    patient_id: str | None
    changed: bool
    refused_unassigned: int = Field(
        0, description="Messages of the device received since the assignment began that were"
                       " refused before it was made (unassigned_device): they stay refused,"
                       " the device must send them again")


class RefusedReading(_Out):
    index: int | None = Field(description="Reading's position in the message; null: all of it")
    code: str
    reason: str


class IngestResult(_Out):
    id: str | None = Field(description="The message id the device sent")
    accepted: int = Field(description="Readings taken (new or already stored)")
    stored: int
    duplicates: int
    refused: list[RefusedReading]
    detail: str
