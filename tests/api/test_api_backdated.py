"""A device handed out before it was registered, through the API: admission
at `admitted_at`, registration and assignment from `valid_from`, and the
edges refused with their reasons and nothing stored (clinical safety
finding 10; the CLI's side is tests/ward/test_backdated_assignment.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from api_fixtures import iso
from conftest import unique

pytestmark = [pytest.mark.db]

web, admin = api_fixtures.web, api_fixtures.admin


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _admit(web, admin, admitted_at: datetime | None = None, ward: str = "ward-back") -> str:
    patient_id = unique("pat")
    body = {"patient_id": patient_id, "ward_id": ward}
    if admitted_at is not None:
        body["admitted_at"] = iso(admitted_at)
    r = web.post("/api/v1/patients", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return patient_id


def _register(web, admin, patient_id: str, valid_from: datetime | str | None = None,
              device_id: str | None = None):
    body = {"device_id": device_id or unique("dev"), "patient_id": patient_id}
    if valid_from is not None:
        body["valid_from"] = valid_from if isinstance(valid_from, str) else iso(valid_from)
    return web.post("/api/v1/devices", json=body, headers=admin.headers)


def _assignments(conn, device_id: str) -> list[tuple]:
    return conn.execute("SELECT patient_id, valid_from, valid_to FROM device_assignments"
                        " WHERE device_id = %s ORDER BY valid_from", (device_id,)).fetchall()


def _post_readings(web, device_id: str, token: str, times: list[datetime], tag: str):
    body = {"id": tag, "readings": [{"time": iso(t), "type": "heart_rate", "value": 70 + i}
                                    for i, t in enumerate(times)]}
    return web.post(f"/api/v1/devices/{device_id}/readings", content=json.dumps(body).encode(),
                    headers={"Authorization": f"Bearer {token}",
                             "Content-Type": "application/json"})


def test_api_backdated_registration_accepts_readings_from_then(web, admin, conn):
    now = _now()
    handed_out = now - timedelta(hours=1)
    patient = _admit(web, admin, admitted_at=handed_out)
    assert web.get(f"/api/v1/patients/{patient}",
                   headers=admin.headers).json()["admitted_at"].startswith(iso(handed_out)[:19])
    r = _register(web, admin, patient, valid_from=handed_out)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["refused_unassigned"] == 0
    device = body["device_id"]
    assert _assignments(conn, device) == [(patient, handed_out, None)]
    got = _post_readings(web, device, body["token"],
                         [handed_out - timedelta(minutes=5), handed_out + timedelta(minutes=20)],
                         "backlog")
    assert got.status_code == 200, got.text
    assert got.json()["stored"] == 1
    assert [x["code"] for x in got.json()["refused"]] == ["unassigned_device"]
    assert conn.execute("SELECT time, patient_id FROM observations WHERE device_id = %s",
                        (device,)).fetchall() == [(handed_out + timedelta(minutes=20), patient)]


def test_api_assignment_back_in_time_counts_the_messages_refused_before(web, admin, conn):
    """A device unassigned (its patient discharged) sends readings, refused;
    given to the next patient from when it was handed out, the answer says
    how many messages the device must send again, and they are accepted."""
    now = _now()
    dev = api_fixtures.admit_with_device(web, admin, ward_id="ward-back")
    web.delete(f"/api/v1/devices/{dev.device_id}/assignment", headers=admin.headers)
    handed_out = _assignments(conn, dev.device_id)[-1][2]  # as it was unassigned, a moment ago
    nxt = _admit(web, admin, admitted_at=now - timedelta(hours=1))
    early = handed_out + timedelta(seconds=1)
    refused = _post_readings(web, dev.device_id, dev.token, [early], "early")
    assert [x["code"] for x in refused.json()["refused"]] == ["unassigned_device"]
    r = web.put(f"/api/v1/devices/{dev.device_id}/assignment",
                json={"patient_id": nxt, "valid_from": iso(handed_out)}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"device_id": dev.device_id, "patient_id": nxt, "changed": True,
                        "refused_unassigned": 1}
    again = _post_readings(web, dev.device_id, dev.token, [early], "early-again")
    assert again.json()["stored"] == 1, again.text
    assert conn.execute("SELECT patient_id FROM observations WHERE device_id = %s",
                        (dev.device_id,)).fetchall() == [(nxt,)]


def test_api_assignment_back_in_time_overlapping_another_is_409_naming_it(web, admin, conn):
    now = _now()
    holder = _admit(web, admin, admitted_at=now - timedelta(hours=3))
    other = _admit(web, admin, admitted_at=now - timedelta(hours=3))
    device = _register(web, admin, holder, valid_from=now - timedelta(hours=2)).json()["device_id"]
    r = web.put(f"/api/v1/devices/{device}/assignment",
                json={"patient_id": other, "valid_from": iso(now - timedelta(hours=1))},
                headers=admin.headers)
    assert r.status_code == 409
    assert (f"device {device} is assigned to patient {holder} since"
            f" {iso(now - timedelta(hours=2))}") in r.json()["detail"]
    assert _assignments(conn, device) == [(holder, now - timedelta(hours=2), None)]


def test_api_assignment_before_the_admission_is_409(web, admin, conn):
    now = _now()
    patient = _admit(web, admin)
    r = _register(web, admin, patient, valid_from=now - timedelta(hours=1))
    assert r.status_code == 409
    assert "an assignment cannot begin before the patient's admission" in r.json()["detail"]
    assert conn.execute("SELECT count(*) FROM device_assignments WHERE patient_id = %s",
                        (patient,)).fetchone() == (0,)


@pytest.mark.parametrize(("valid_from", "why"), [
    (lambda now: iso(now + timedelta(hours=1)), "is in the future"),
    (lambda now: iso(now - timedelta(days=31)), "VWARD_MAX_AGE_DAYS"),
    (lambda now: now.replace(tzinfo=None).isoformat(), "timezone"),
])
def test_api_start_in_the_future_too_old_or_naive_is_422_and_nothing_stored(
        web, admin, conn, valid_from, why):
    now = _now()
    patient = _admit(web, admin, admitted_at=now - timedelta(hours=2))
    device = unique("dev")
    r = _register(web, admin, patient, valid_from=valid_from(now), device_id=device)
    assert r.status_code == 422 and why in r.text, r.text
    assert conn.execute("SELECT 1 FROM devices WHERE device_id = %s", (device,)).fetchone() is None
    admitted = web.post("/api/v1/patients", json={"patient_id": unique("pat"),
                                                  "admitted_at": valid_from(now)},
                        headers=admin.headers)
    assert admitted.status_code == 422 and why in admitted.text, admitted.text
