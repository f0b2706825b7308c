"""HTTP ingestion: the same judgement and the same write path as MQTT
(dedup, score_queue, rejected_messages), for JSON and FHIR payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from api_fixtures import iso
from conftest import wait_for
from ingest_helpers import listen_rejections

from api import accounts
from simulators.device_client import DeviceClient
from ward import db
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db]

web, admin = api_fixtures.web, api_fixtures.admin


def _post(web, dev, payload, **headers):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return web.post(f"/api/v1/devices/{dev.device_id}/readings", content=body,
                    headers={**dev.headers, "Content-Type": "application/json", **headers})


def _rows(conn, device_id):
    return conn.execute("SELECT time, patient_id, type, value FROM observations"
                        " WHERE device_id = %s ORDER BY type, time", (device_id,)).fetchall()


def _rejections(conn, device_id):
    return conn.execute("SELECT topic, message_id, reason_code, reason, whole, payload"
                        " FROM rejected_messages WHERE device_id = %s ORDER BY rejection_id",
                        (device_id,)).fetchall()


def test_the_design_example_is_stored_and_queued_for_scoring(web, admin, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    t = datetime.now(UTC)
    r = _post(web, dev, {"id": "5f2c-0042", "readings": [
        {"time": iso(t), "type": "heart_rate", "value": 72, "unit": "/min"},
        {"time": iso(t), "type": "spo2", "value": 96, "unit": "%"},
        {"time": iso(t), "type": "on_oxygen", "value": False}]})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "5f2c-0042", "accepted": 3, "stored": 3, "duplicates": 0,
                        "refused": [], "detail": "stored"}
    assert [(row[1], row[2], row[3]) for row in _rows(conn, dev.device_id)] == [
        (dev.patient_id, "heart_rate", 72.0), (dev.patient_id, "on_oxygen", 0.0),
        (dev.patient_id, "spo2", 96.0)]
    assert conn.execute("SELECT since FROM score_queue WHERE patient_id = %s",
                        (dev.patient_id,)).fetchone() == (t,)
    assert conn.execute("SELECT last_seen IS NOT NULL FROM devices WHERE device_id = %s",
                        (dev.device_id,)).fetchone() == (True,)
    # A retransmission is taken and stored once.
    again = _post(web, dev, {"id": "5f2c-0042", "readings": [
        {"time": iso(t), "type": "heart_rate", "value": 72, "unit": "/min"}]})
    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    assert len(_rows(conn, dev.device_id)) == 3


def test_a_partly_bad_message_keeps_its_good_readings(web, admin, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    t = datetime.now(UTC)
    r = _post(web, dev, {"id": "m-1", "readings": [
        {"time": iso(t), "type": "heart_rate", "value": 70},
        {"time": iso(t), "type": "heart_rate", "value": 900},
        {"time": iso(t), "type": "glucose", "value": 5},
        {"time": iso(t), "type": "temperature", "value": 98.6, "unit": "[degF]"}]})
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["stored"]) == (2, 2)
    assert [(x["index"], x["code"]) for x in body["refused"]] == [(1, "implausible"),
                                                                 (2, "unknown_type")]
    assert "heart_rate 900" in body["refused"][0]["reason"]
    assert [row[2] for row in _rows(conn, dev.device_id)] == ["heart_rate", "temperature"]
    [(topic, message_id, code, _reason, whole, payload)] = _rejections(conn, dev.device_id)
    assert topic == f"http:/api/v1/devices/{dev.device_id}/readings"
    assert (message_id, code, whole) == ("m-1", "several", False)
    assert json.loads(payload)["id"] == "m-1"  # kept whole


@pytest.mark.parametrize(("payload", "status", "code"), [
    (b"{not json", 400, "malformed_json"),
    (b"[1, 2]", 400, "bad_structure"),
    (b'{"id": "x", "readings": []}', 400, "bad_structure"),
    (b'{"resourceType": "Patient"}', 400, "bad_structure"),
    (b'{"id": "big", "readings": [' + b" " * 300_000 + b"]}", 413, "oversized"),
])
def test_an_unreadable_message_is_refused_whole_and_kept(web, admin, conn, payload, status, code):
    dev = api_fixtures.admit_with_device(web, admin)
    r = _post(web, dev, payload)
    assert r.status_code == status
    body = r.json()
    assert body["accepted"] == 0 and body["refused"][0]["code"] == code
    assert body["refused"][0]["index"] is None and body["detail"]
    assert _rows(conn, dev.device_id) == []
    [row] = _rejections(conn, dev.device_id)
    assert row[2] == code and row[4] is True and row[5] == payload


def test_every_reading_refused_is_422_and_nothing_stored(web, admin, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    now = datetime.now(UTC)
    r = _post(web, dev, {"id": "bad", "readings": [
        {"time": iso(now + timedelta(days=2)), "type": "spo2", "value": 95},
        {"time": iso(now), "type": "spo2", "value": 140, "unit": "%"},
        {"time": "yesterday", "type": "spo2", "value": 95}]})
    assert r.status_code == 422
    assert [x["code"] for x in r.json()["refused"]] == ["future_time", "implausible", "bad_time"]
    assert _rows(conn, dev.device_id) == []
    assert conn.execute("SELECT count(*) FROM score_queue WHERE patient_id = %s",
                        (dev.patient_id,)).fetchone() == (0,)


def test_far_past_the_limit_nothing_is_read_or_kept(web, admin, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    r = _post(web, dev, b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413 and "exceeds" in r.json()["detail"]
    assert _rejections(conn, dev.device_id) == []


def test_a_fhir_bundle_is_read_like_on_mqtt(web, admin, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    t = iso(datetime.now(UTC))
    loinc = "http://loinc.org"
    bundle = {"resourceType": "Bundle", "id": "b-1", "type": "collection", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": loinc, "code": "8867-4"}]},
                      "effectiveDateTime": t,
                      "valueQuantity": {"value": 88, "system": "http://unitsofmeasure.org",
                                        "code": "/min"}}},
        {"resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": loinc, "code": "85354-9"}]},
                      "effectiveDateTime": t, "component": [
                          {"code": {"coding": [{"system": loinc, "code": "8480-6"}]},
                           "valueQuantity": {"value": 121, "code": "mm[Hg]"}},
                          {"code": {"coding": [{"system": loinc, "code": "8462-4"}]},
                           "valueQuantity": {"value": 79, "code": "mm[Hg]"}}]}}]}
    r = _post(web, dev, bundle, **{"Content-Type": "application/fhir+json"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "b-1" and r.json()["stored"] == 3
    assert {(row[2], row[3]) for row in _rows(conn, dev.device_id)} == {
        ("heart_rate", 88.0), ("systolic_bp", 121.0), ("diastolic_bp", 79.0)}


def test_an_unassigned_device_is_refused(web, admin, conn):
    dev = api_fixtures.admit_with_device(web, admin)
    web.delete(f"/api/v1/devices/{dev.device_id}/assignment", headers=admin.headers)
    r = _post(web, dev, {"id": "late", "readings": [
        {"time": iso(datetime.now(UTC)), "type": "spo2", "value": 95}]})
    assert r.status_code == 422
    assert r.json()["refused"][0]["code"] == "unassigned_device"


# ---------------------------------------------------------------- same as MQTT


@pytest.mark.broker
def test_http_and_mqtt_give_the_same_rows_queue_and_refusals(web, services_up, register, spawn,
                                                            conn):
    """One message, sent by one device over MQTT (the real `vward ingest`)
    and by another over HTTP: the same readings stored, the same
    score_queue row, the same rejected-messages row and the same refusals."""
    now = datetime.now(UTC).replace(microsecond=0)
    by_mqtt = register(valid_from=now - timedelta(hours=1))
    by_http = register(valid_from=now - timedelta(hours=1))
    with db.connect(services_up, autocommit=True) as c:
        token = accounts.issue_device_token(c, by_http.device_id)
    message = {"id": "same-1", "readings": [
        {"time": iso(now - timedelta(minutes=2)), "type": "respiratory_rate", "value": 18},
        {"time": iso(now - timedelta(minutes=1)), "type": "consciousness", "value": "c"},
        {"time": iso(now - timedelta(hours=3)), "type": "spo2", "value": 95},  # before assigned
        {"time": iso(now), "type": "heart_rate", "value": 900},
        {"time": iso(now), "type": "temperature", "value": 37, "unit": "K"},
        {"time": iso(now), "type": "on_oxygen", "value": 2, "unit": "L/min"}]}
    payload = json.dumps(message).encode()

    p = spawn("ingest")
    wait_for(lambda: "connected to" in p.output(), what="ingest connected")
    listener, feedback = listen_rejections(services_up, by_mqtt.device_id)
    with DeviceClient(host=services_up.mqtt_host, port=services_up.mqtt_port,
                      protocol=mqtt_protocol(services_up), device_id=by_mqtt.device_id,
                      password=by_mqtt.password).connect() as dev:
        dev.publish(f"ward/v1/devices/{by_mqtt.device_id}/readings", payload)
    r = web.post(f"/api/v1/devices/{by_http.device_id}/readings", content=payload,
                 headers={"Authorization": f"Bearer {token}"})
    wait_for(lambda: feedback, what="the MQTT rejections message")
    listener.loop_stop()
    listener.disconnect()

    def same(device, patient):
        rows = [(t, ty, v) for t, p_, ty, v in _rows(conn, device.device_id) if p_ == patient]
        queued = conn.execute("SELECT since FROM score_queue WHERE patient_id = %s",
                              (patient,)).fetchone()
        [rej] = _rejections(conn, device.device_id)
        return rows, queued, rej[1:5], rej[5]

    mqtt_side = same(by_mqtt, by_mqtt.patient_id)
    http_side = same(by_http, by_http.patient_id)
    assert len(mqtt_side[0]) == 3
    assert mqtt_side[0] == http_side[0]
    assert mqtt_side[1] == http_side[1] == (now - timedelta(minutes=2),)

    def swap(text: str) -> str:
        return text.replace(by_mqtt.device_id, by_http.device_id)

    assert tuple(swap(x) if isinstance(x, str) else x for x in mqtt_side[2]) == http_side[2]
    assert mqtt_side[3] == http_side[3] == payload
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in ("id", "accepted")} == {"id": feedback[0]["id"],
                                                        "accepted": feedback[0]["accepted"]}
    assert json.loads(swap(json.dumps(feedback[0]["refused"]))) == body["refused"]
    assert [(x["index"], x["code"]) for x in body["refused"]] == [
        (2, "unassigned_device"), (3, "implausible"), (4, "unknown_unit")]


def test_a_correction_over_http_is_kept_like_one_over_mqtt(web, admin, conn):
    """The same store as MQTT: a new value for a stored reading replaces it,
    the old one goes to observation_revisions with the message id, and the
    patient is queued from the reading's time; the device is told it was stored."""
    dev = api_fixtures.admit_with_device(web, admin)
    t = datetime.now(UTC)  # the device is assigned from its admission, a moment ago
    first = _post(web, dev, {"id": "m-1", "readings": [
        {"time": iso(t), "type": "heart_rate", "value": 140}]})
    assert (first.json()["stored"], first.json()["duplicates"]) == (1, 0)
    conn.execute("DELETE FROM score_queue WHERE patient_id = %s", (dev.patient_id,))
    fix = _post(web, dev, {"id": "fix-1", "readings": [
        {"time": iso(t), "type": "heart_rate", "value": 70}]})
    assert fix.status_code == 200, fix.text
    assert (fix.json()["accepted"], fix.json()["stored"], fix.json()["duplicates"]) == (1, 1, 0)
    assert [r[2:] for r in _rows(conn, dev.device_id)] == [("heart_rate", 70.0)]
    assert conn.execute(
        "SELECT previous_value, value, message_id FROM observation_revisions"
        " WHERE device_id = %s", (dev.device_id,)).fetchall() == [(140.0, 70.0, "fix-1")]
    assert conn.execute("SELECT since FROM score_queue WHERE patient_id = %s",
                        (dev.patient_id,)).fetchone() == (t,)
    again = _post(web, dev, {"id": "fix-1", "readings": [
        {"time": iso(t), "type": "heart_rate", "value": 70}]})
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)  # a retransmission
