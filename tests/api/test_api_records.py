"""Patients and devices through the API: admission, discharge, settings,
registration and assignment; and bad input answered clearly with nothing
stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from conftest import unique

from ward import mqtt_auth, rabbitmq_admin
from ward.broker_names import RABBITMQ
from ward.mosquitto import Paths

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def _count(conn, sql, *params) -> int:
    return conn.execute(sql, params).fetchone()[0]


def test_admit_list_get_and_refuse_a_second_admission(web, admin, clinician, conn):
    patient_id = api_fixtures.admit(web, admin, ward_id="ward-adm")
    listed = web.get("/api/v1/patients?ward=ward-adm", headers=clinician.headers).json()
    assert patient_id in [p["patient_id"] for p in listed]
    got = web.get(f"/api/v1/patients/{patient_id}", headers=clinician.headers).json()
    assert got["ward_id"] == "ward-adm" and got["display_name"] == "Test Patient"
    assert got["devices"] == [] and got["latest_score"] is None and got["settings"] == []
    again = web.post("/api/v1/patients", json={"patient_id": patient_id, "ward_id": "ward-adm"},
                     headers=admin.headers)
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    assert web.get("/api/v1/patients/nobody-here", headers=clinician.headers).status_code == 404


def test_bad_ids_are_422_and_nothing_is_stored(web, admin, conn):
    before = _count(conn, "SELECT count(*) FROM patients")
    for body in ({"patient_id": "has space"}, {"patient_id": ""}, {"patient_id": "x" * 65},
                 {"patient_id": "ok-id", "ward_id": "bad/ward"}, {}):
        r = web.post("/api/v1/patients", json=body, headers=admin.headers)
        assert r.status_code == 422, body
    r = web.post("/api/v1/patients", content=b"not json",
                 headers={**admin.headers, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert _count(conn, "SELECT count(*) FROM patients") == before


def test_register_returns_working_credentials_and_syncs_the_broker(web, admin, services_up,
                                                                    conn):
    patient_id = api_fixtures.admit(web, admin)
    device_id = unique("ox")
    r = web.post("/api/v1/devices", json={"device_id": device_id, "patient_id": patient_id,
                                          "kind": "oximeter"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["mqtt"]["username"] == device_id
    assert body["mqtt"]["topic"] == f"ward/v1/devices/{device_id}/readings"
    # What a device at home needs: the TLS port and the CA to trust (docs/operating.md).
    assert body["mqtt"]["tls_port"] == services_up.mqtt_tls_port
    assert body["mqtt"]["ca_file"] == str(services_up.home / "tls" / "ca.pem")
    assert body["mqtt"]["client_id"] == device_id
    assert body["token"].startswith("vwd_") and body["broker_synced"] is True
    assert body["readings_url"].endswith(f"/api/v1/devices/{device_id}/readings")
    stored = conn.execute("SELECT mqtt_password_hash FROM devices WHERE device_id = %s",
                          (device_id,)).fetchone()[0]
    assert mqtt_auth.verify_password(body["mqtt"]["password"], stored)
    if services_up.broker == RABBITMQ:
        with rabbitmq_admin.client(services_up) as api:
            user = api.get(f"/users/{device_id}").json()
        assert mqtt_auth.rabbitmq_verify(body["mqtt"]["password"], user["password_hash"])
    else:
        assert f"{device_id}:" in Paths(services_up.home).passwd.read_text()
    devices = {d["device_id"]: d for d in web.get("/api/v1/devices", headers=admin.headers).json()}
    assert devices[device_id]["patient_id"] == patient_id
    # Registered already: refused unless replace, which gives new credentials.
    again = web.post("/api/v1/devices", json={"device_id": device_id, "patient_id": patient_id},
                     headers=admin.headers)
    assert again.status_code == 409
    new = web.post("/api/v1/devices", json={"device_id": device_id, "patient_id": patient_id,
                                            "replace": True}, headers=admin.headers).json()
    old_headers = {"Authorization": f"Bearer {body['token']}"}
    assert web.get("/api/v1/auth/me", headers=old_headers).status_code == 401
    assert web.get("/api/v1/auth/me",
                   headers={"Authorization": f"Bearer {new['token']}"}).status_code == 200


def test_register_needs_an_admitted_patient(web, admin, conn):
    device_id = unique("dev")
    r = web.post("/api/v1/devices", json={"device_id": device_id, "patient_id": "nobody"},
                 headers=admin.headers)
    assert r.status_code == 404 and "no patient nobody" in r.json()["detail"]
    assert _count(conn, "SELECT count(*) FROM devices WHERE device_id = %s", device_id) == 0
    assert _count(conn, "SELECT count(*) FROM patients WHERE patient_id = 'nobody'") == 0


def test_assign_moves_a_device_and_keeps_its_credentials(web, admin, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    other = api_fixtures.admit(web, admin)
    hash_before = conn.execute("SELECT mqtt_password_hash FROM devices WHERE device_id = %s",
                               (dev.device_id,)).fetchone()[0]
    r = web.put(f"/api/v1/devices/{dev.device_id}/assignment", json={"patient_id": other},
                headers=admin.headers)
    assert r.json() == {"device_id": dev.device_id, "patient_id": other, "changed": True,
                        "refused_unassigned": 0}
    rows = conn.execute("SELECT patient_id, valid_to IS NULL FROM device_assignments"
                        " WHERE device_id = %s ORDER BY valid_from", (dev.device_id,)).fetchall()
    assert rows == [(dev.patient_id, False), (other, True)]
    assert conn.execute("SELECT mqtt_password_hash FROM devices WHERE device_id = %s",
                        (dev.device_id,)).fetchone()[0] == hash_before
    same = web.put(f"/api/v1/devices/{dev.device_id}/assignment", json={"patient_id": other},
                   headers=admin.headers)
    assert same.json()["changed"] is False
    off = web.delete(f"/api/v1/devices/{dev.device_id}/assignment", headers=admin.headers)
    assert off.json()["changed"] is True
    assert web.delete(f"/api/v1/devices/{dev.device_id}/assignment",
                      headers=admin.headers).json()["changed"] is False
    assert web.delete("/api/v1/devices/no-such-device/assignment",
                      headers=admin.headers).status_code == 404


def _open_alert(conn, patient_id: str, ward_id: str, kind: str = "news2") -> int:
    now = datetime.now(UTC)
    return conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " condition_time, opened_at, updated_at, last_notified_severity)"
        " VALUES (%s, %s, %s, 'clinical', 'urgent', 'open', 'NEWS2 5 (medium)', %s, %s, %s,"
        " 'urgent') RETURNING alert_id", (patient_id, ward_id, kind, now, now, now)).fetchone()[0]


def test_discharge_unassigns_devices_and_resolves_live_alerts(web, admin, clinician, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    alert_id = _open_alert(conn, dev.patient_id, dev.ward_id)
    second = _open_alert(conn, dev.patient_id, dev.ward_id, kind="spo2_low")
    got = web.get(f"/api/v1/patients/{dev.patient_id}", headers=clinician.headers).json()
    assert got["live_alerts"] == 2
    summary = {"summary": "Home and well; no follow-up needed."}
    refused = web.post(f"/api/v1/patients/{dev.patient_id}/discharge", json=summary,
                       headers=admin.headers)  # the summary is a clinician's
    assert refused.status_code == 403 and "written by a clinician" in refused.json()["detail"]
    r = web.post(f"/api/v1/patients/{dev.patient_id}/discharge",
                 json={**summary, "note": "home, well"}, headers=clinician.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unassigned_devices"] == [dev.device_id]
    assert body["resolved_alerts"] == [alert_id, second]
    assert body["patient"]["discharged_at"] is not None and body["patient"]["devices"] == []
    for a in (alert_id, second):
        state, by = conn.execute("SELECT state, resolved_by FROM alerts WHERE alert_id = %s",
                                 (a,)).fetchone()
        assert (state, by) == ("resolved", clinician.name)
        event = conn.execute("SELECT event, state, actor, detail FROM alert_events"
                             " WHERE alert_id = %s ORDER BY event_id DESC LIMIT 1",
                             (a,)).fetchone()
        assert event == ("resolved", "resolved", clinician.name,
                         {"note": "home, well", "by_hand": True})
    again = web.post(f"/api/v1/patients/{dev.patient_id}/discharge", json=summary,
                     headers=clinician.headers)
    assert again.status_code == 409
    active = web.get("/api/v1/patients?ward=ward-api", headers=clinician.headers).json()
    assert dev.patient_id not in [p["patient_id"] for p in active]


def test_settings_go_through_ward_clinical_with_who_and_why(web, admin, clinician, conn):
    patient_id = api_fixtures.admit(web, admin)
    url = f"/api/v1/patients/{patient_id}/settings"
    r = web.put(f"{url}/spo2-scale", json={"scale": 2, "reason": "confirmed type 2 RF"},
                headers=clinician.headers)
    assert r.status_code == 200, r.text
    assert r.json()["set_by"] == clinician.name and r.json()["spo2_scale"] == 2
    r = web.put(f"{url}/accepted-ranges/heart_rate",
                json={"low": 90, "high": 110, "reason": "resting tachycardia, known"},
                headers=clinician.headers)
    assert r.status_code == 200 and r.json()["parameter"] == "heart_rate"
    setting_id = r.json()["setting_id"]
    current = web.get(url, headers=clinician.headers).json()
    assert {s["kind"] for s in current} == {"spo2_scale", "accepted_range"}
    assert _count(conn, "SELECT count(*) FROM score_queue WHERE patient_id = %s", patient_id) == 1
    assert web.delete(f"{url}/{setting_id}", headers=clinician.headers).status_code == 204
    assert [s["kind"] for s in web.get(url, headers=clinician.headers).json()] == ["spo2_scale"]
    assert web.delete(f"{url}/{setting_id}", headers=clinician.headers).status_code == 404


def test_bad_settings_are_refused_clearly_and_nothing_is_stored(web, admin, clinician, conn):
    patient_id = api_fixtures.admit(web, admin)
    url = f"/api/v1/patients/{patient_id}/settings"
    cases = [
        (f"{url}/spo2-scale", {"scale": 3, "reason": "x"}, 422, None),
        (f"{url}/spo2-scale", {"scale": 2, "reason": ""}, 422, None),
        (f"{url}/spo2-scale", {"scale": 2}, 422, None),
        (f"{url}/accepted-ranges/consciousness", {"low": 0, "high": 1, "reason": "x"}, 422,
         "accepted range is for one of"),
        (f"{url}/accepted-ranges/heart_rate", {"low": 120, "high": 100, "reason": "x"}, 422,
         "low must not exceed high"),
        (f"{url}/spo2-scale", {"scale": 2, "reason": "x",
                               "until": (datetime.now(UTC) - timedelta(days=1)).isoformat()},
         409, "review date must be in the future"),
        (f"{url}/spo2-scale", {"scale": 2, "reason": "x",
                               "until": (datetime.now(UTC) + timedelta(days=15)).isoformat()},
         409, "at most 14 days ahead"),
        (f"{url}/accepted-ranges/spo2", {"low": 88, "high": 92, "reason": "x"}, 422,
         "SpO2 scale 2"),
        (f"{url}/accepted-ranges/heart_rate", {"low": 90, "high": 140, "reason": "x"}, 422,
         "a red parameter always counts"),
        ("/api/v1/patients/nobody/settings/spo2-scale", {"scale": 2, "reason": "x"}, 404, None),
        (f"{url}/spo2-scale", {"scale": 2, "reason": "x", "until": "2099-01-01T08:00:00"}, 422,
         None),
        (f"{url}/spo2-scale", {"scale": 2, "reason": "   "}, 422, None),
    ]
    for path, body, code, words in cases:
        r = web.put(path, json=body, headers=clinician.headers)
        assert r.status_code == code, (path, body, r.text)
        if words:
            assert words in r.json()["detail"]
    # Python's JSON reader takes these; a range of them means nothing.
    r = web.put(f"{url}/accepted-ranges/heart_rate",
                content=b'{"low": -Infinity, "high": Infinity, "reason": "x"}',
                headers={**clinician.headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and "finite" in r.json()["detail"], r.text
    # A non-JSON number where validation fails, and a NUL the database cannot
    # store: a 422 saying where and why, never a 500.
    r = web.put(f"{url}/spo2-scale", content=b'{"scale": Infinity, "reason": "x"}',
                headers={**clinician.headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "scale"], r.text
    r = web.put(f"{url}/spo2-scale", json={"scale": 2, "reason": "type 2\u0000 RF"},
                headers=clinician.headers)
    assert r.status_code == 422 and "cannot store" in r.json()["detail"], r.text
    assert _count(conn, "SELECT count(*) FROM patient_settings WHERE patient_id = %s",
                  patient_id) == 0
