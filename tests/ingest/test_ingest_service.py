"""The ingest service end to end: a real Mosquitto, a real TimescaleDB, the
real `vward ingest` process, devices publishing as devices do."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from conftest import wait_for
from ingest_helpers import device_of, ingest_started, iso, listen_rejections, stored_count

from simulators.device_client import DeviceClient, DeviceError
from ward import broker_names, postgres
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]


def _count(conn, sql: str, *params) -> int:
    return conn.execute(sql, params).fetchone()[0]


@pytest.fixture
def ingest(spawn, services_up):
    p = spawn("ingest")
    wait_for(lambda: "connected to" in p.output(), what="ingest connected")
    yield p


def test_design_example_is_stored_for_the_assigned_patient(services_up, register, ingest, conn):
    reg = register()
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with device_of(services_up, reg) as dev:
        rc = dev.send_readings(
            [
                {"time": iso(t), "type": "heart_rate", "value": 72, "unit": "/min"},
                {"time": iso(t), "type": "spo2", "value": 96, "unit": "%"},
                {"time": iso(t), "type": "on_oxygen", "value": False},
            ],
            message_id="5f2c-0042",
        )
    assert not rc.is_failure
    wait_for(lambda: stored_count(conn, reg.device_id) == 3, what="3 readings stored")
    rows = conn.execute(
        "SELECT time, patient_id, type, value, received_at >= time FROM observations"
        " WHERE device_id = %s ORDER BY type",
        (reg.device_id,),
    ).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (reg.patient_id, "heart_rate", 72.0),
        (reg.patient_id, "on_oxygen", 0.0),
        (reg.patient_id, "spo2", 96.0),
    ]
    assert all(r[0] == t for r in rows)
    queued = conn.execute(
        "SELECT since FROM score_queue WHERE patient_id = %s", (reg.patient_id,)
    ).fetchone()
    assert queued == (t,)
    seen = conn.execute(
        "SELECT last_seen FROM devices WHERE device_id = %s", (reg.device_id,)
    ).fetchone()[0]
    assert seen is not None and seen >= t


def test_a_retransmission_is_stored_once(services_up, register, ingest, conn):
    reg = register()
    t = datetime.now(UTC) - timedelta(minutes=5)
    readings = [{"time": iso(t), "type": "heart_rate", "value": 80}]
    with device_of(services_up, reg) as dev:
        dev.send_readings(readings, message_id="m1")
        dev.send_readings(readings, message_id="m1")  # retransmission
        dev.send_readings(
            [*readings, {"time": iso(t), "type": "spo2", "value": 97}], message_id="m2"
        )  # overlaps the first
    wait_for(lambda: stored_count(conn, reg.device_id) == 2, what="2 distinct readings")
    wait_for(lambda: "duplicates 2" in ingest.output() or stored_count(conn, reg.device_id) == 2)
    assert stored_count(conn, reg.device_id) == 2


def test_late_and_out_of_order_readings_keep_their_measurement_time(
    services_up, register, ingest, conn
):
    reg = register()
    now = datetime.now(UTC).replace(microsecond=0)
    times = [now - timedelta(hours=h) for h in (3, 20, 1, 47, 2)]  # a backlog, shuffled
    with device_of(services_up, reg) as dev:
        for i, t in enumerate(times):
            dev.send_readings(
                [{"time": iso(t), "type": "temperature", "value": 37 + i / 10, "unit": "Cel"}],
                message_id=f"late-{i}",
            )
    wait_for(lambda: stored_count(conn, reg.device_id) == 5, what="backlog stored")
    stored = dict(
        conn.execute(
            "SELECT time, value FROM observations WHERE device_id = %s", (reg.device_id,)
        ).fetchall()
    )
    assert stored == {t: pytest.approx(37 + i / 10) for i, t in enumerate(times)}
    since = conn.execute(
        "SELECT since FROM score_queue WHERE patient_id = %s", (reg.patient_id,)
    ).fetchone()[0]
    assert since == min(times)  # the rescore starts at the oldest late reading


def test_bad_input_is_refused_with_reasons_and_good_readings_kept(
    services_up, register, ingest, conn
):
    reg = register()
    now = datetime.now(UTC).replace(microsecond=0)
    listener, feedback = listen_rejections(services_up, reg.device_id)
    good = {"time": iso(now), "type": "heart_rate", "value": 70}
    mixed = [
        good,
        {"time": iso(now), "type": "heart_rate", "value": 900},  # implausible
        {"time": iso(now), "type": "spo2", "value": 140, "unit": "%"},  # implausible
        {"time": iso(now), "type": "glucose", "value": 5},  # unknown type
        {"time": iso(now), "type": "temperature", "value": 37, "unit": "K"},  # unknown unit
        {"time": iso(now + timedelta(days=2)), "type": "spo2", "value": 95},  # future
        {"time": iso(now), "type": "temperature", "value": 98.6, "unit": "[degF]"},  # converted
    ]
    with device_of(services_up, reg) as dev:
        dev.send_readings(mixed, message_id="mixed-1")
        dev.publish(f"ward/v1/devices/{reg.device_id}/readings", b"{not json")
        dev.publish(
            f"ward/v1/devices/{reg.device_id}/readings",
            b'{"id": "big", "readings": [' + b" " * 300_000 + b"]}",
        )
    wait_for(
        lambda: (
            _count(
                conn, "SELECT count(*) FROM rejected_messages WHERE device_id = %s", reg.device_id
            )
            == 3
        ),
        what="3 rejected messages",
    )
    rows = conn.execute(
        "SELECT reason_code, reason, whole, payload FROM rejected_messages WHERE device_id = %s"
        " ORDER BY rejection_id",
        (reg.device_id,),
    ).fetchall()
    partial, malformed, oversized = rows
    assert partial[0] == "several" and partial[2] is False
    for words in (
        "reading 1",
        "heart_rate 900",
        "reading 2",
        "spo2 140",
        "reading 3",
        "glucose",
        "reading 4",
        "'K'",
        "reading 5",
        "future",
    ):
        assert words in partial[1]
    assert json.loads(partial[3])["id"] == "mixed-1"  # kept whole
    assert malformed[:1] == ("malformed_json",) and malformed[2] is True
    assert malformed[3] == b"{not json"
    assert oversized[0] == "oversized" and oversized[2] is True
    stored = conn.execute(
        "SELECT type, value FROM observations WHERE device_id = %s ORDER BY type", (reg.device_id,)
    ).fetchall()
    assert stored[0] == ("heart_rate", 70.0)
    assert stored[1][0] == "temperature" and stored[1][1] == pytest.approx(37.0)
    assert len(stored) == 2
    wait_for(lambda: len(feedback) == 3, what="3 rejections published to the device")
    assert feedback[0]["id"] == "mixed-1" and feedback[0]["accepted"] == 2
    assert [r["index"] for r in feedback[0]["refused"]] == [1, 2, 3, 4, 5]
    listener.loop_stop()
    listener.disconnect()
    assert ingest.running  # nothing crashes the service


def test_a_reading_before_the_device_was_assigned_is_refused(services_up, register, ingest, conn):
    reg = register(valid_from=datetime.now(UTC) - timedelta(hours=1))
    now = datetime.now(UTC).replace(microsecond=0)
    with device_of(services_up, reg) as dev:
        dev.send_readings(
            [
                {"time": iso(now - timedelta(hours=3)), "type": "spo2", "value": 95},
                {"time": iso(now), "type": "spo2", "value": 94},
            ],
            message_id="a",
        )
    wait_for(
        lambda: (
            _count(
                conn, "SELECT count(*) FROM rejected_messages WHERE device_id = %s", reg.device_id
            )
            == 1
        )
    )
    reason = conn.execute(
        "SELECT reason_code, reason FROM rejected_messages WHERE device_id = %s", (reg.device_id,)
    ).fetchone()
    assert reason[0] == "unassigned_device" and "not assigned" in reason[1]
    assert stored_count(conn, reg.device_id) == 1


def test_fhir_bundle_and_status_are_recorded(services_up, register, ingest, conn):
    reg = register()
    t = iso(datetime.now(UTC).replace(microsecond=0))
    loinc = "http://loinc.org"
    bundle = {
        "resourceType": "Bundle",
        "id": "b-1",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "effectiveDateTime": t,
                    "code": {"coding": [{"system": loinc, "code": "8867-4"}]},
                    "valueQuantity": {
                        "value": 88,
                        "unit": "beats/minute",
                        "system": "http://unitsofmeasure.org",
                        "code": "/min",
                    },
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "effectiveDateTime": t,
                    "code": {"coding": [{"system": loinc, "code": "8310-5"}]},
                    "valueQuantity": {
                        "value": 100.4,
                        "system": "http://unitsofmeasure.org",
                        "code": "[degF]",
                    },
                }
            },
        ],
    }
    with device_of(services_up, reg) as dev:
        dev.publish(f"ward/v1/devices/{reg.device_id}/readings", json.dumps(bundle))
        dev.send_status(online=True, battery=64, firmware="2.1.0", signal=-70)
    wait_for(lambda: stored_count(conn, reg.device_id) == 2)
    values = dict(
        conn.execute(
            "SELECT type, value FROM observations WHERE device_id = %s", (reg.device_id,)
        ).fetchall()
    )
    assert values["heart_rate"] == 88.0
    assert values["temperature"] == pytest.approx(38.0)
    status = wait_for(
        lambda: conn.execute(
            "SELECT online, battery, firmware, signal FROM device_status WHERE device_id = %s"
            " AND online",
            (reg.device_id,),
        ).fetchone(),
        what="status row",
    )
    assert status == (True, 64.0, "2.1.0", -70.0)


def test_the_broker_refuses_a_device_publishing_as_another(services_up, register, ingest, conn):
    mine, other = register(), register()
    t = iso(datetime.now(UTC))
    forged = json.dumps({"id": "x", "readings": [{"time": t, "type": "heart_rate", "value": 60}]})
    if services_up.broker == broker_names.RABBITMQ:
        # MQTT 3.1.1's PUBACK carries no refusal: RabbitMQ closes the connection.
        dev = device_of(services_up, mine)
        try:
            with pytest.raises(DeviceError, match="no PUBACK"):
                dev.publish(f"ward/v1/devices/{other.device_id}/readings", forged, timeout=5)
        finally:
            dev.close()
    else:
        with device_of(services_up, mine) as dev:
            rc = dev.publish(f"ward/v1/devices/{other.device_id}/readings", forged)
        assert rc.value == 135  # Not authorized (MQTT v5 PUBACK)
    with device_of(services_up, mine) as dev:
        ok = dev.send_readings([{"time": t, "type": "heart_rate", "value": 61}], message_id="y")
    assert not ok.is_failure
    wait_for(lambda: stored_count(conn, mine.device_id) == 1)
    assert stored_count(conn, other.device_id) == 0
    with pytest.raises(DeviceError, match="refused"):
        DeviceClient(
            host=services_up.mqtt_host,
            port=services_up.mqtt_port,
            protocol=mqtt_protocol(services_up),
            device_id=mine.device_id,
            password="wrong",
        ).connect()


def test_sigterm_flushes_and_exits_cleanly(services_up, register, spawn, conn):
    p = ingest_started(spawn("ingest"))
    reg = register()
    t = datetime.now(UTC)
    with device_of(services_up, reg) as dev:
        for i in range(200):
            dev.send_readings(
                [
                    {
                        "time": iso(t - timedelta(seconds=i)),
                        "type": "heart_rate",
                        "value": 60 + i % 30,
                    }
                ],
                message_id=str(i),
                wait=False,
            )
        dev.publish(f"ward/v1/devices/{reg.device_id}/status", b'{"online": true}')
    assert p.terminate() == 0
    out = p.output()
    assert "flushing and stopping" in out and "ingest stopped" in out
    # Whatever was not committed before the stop stays queued for this worker.
    spawn("ingest")
    wait_for(lambda: stored_count(conn, reg.device_id) == 200, what="all 200 readings")


class _Stream:
    """A device publishing `n` single-reading messages as fast as the broker
    takes them, in a thread."""

    def __init__(self, settings, reg, n: int) -> None:
        self.n, self.sent = n, 0
        self.dev = device_of(settings, reg)
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        for i in range(self.n):
            t = self.start + timedelta(seconds=i)
            self.dev.send_readings(
                [{"time": iso(t), "type": "heart_rate", "value": 60 + i % 40}], message_id=f"s{i}"
            )
            self.sent += 1
        self.dev.close()

    def join(self) -> None:
        self.thread.join(120)
        assert self.sent == self.n


def _exactly_once(conn, device_id: str, n: int) -> None:
    wait_for(lambda: stored_count(conn, device_id) >= n, timeout=60, what=f"{n} readings")
    total, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT time) FROM observations WHERE device_id = %s", (device_id,)
    ).fetchone()
    assert (total, distinct) == (n, n)


def test_kill_9_mid_stream_then_restart_loses_nothing(services_up, register, spawn, conn):
    p = spawn("ingest")
    reg = register()
    stream = _Stream(services_up, reg, 3000)
    wait_for(lambda: stored_count(conn, reg.device_id) >= 500, what="stream under way")
    p.kill()  # kill -9: nothing flushed, nothing acked after the last commit
    partial = stored_count(conn, reg.device_id)
    assert partial < 3000
    spawn("ingest")
    stream.join()
    _exactly_once(conn, reg.device_id, 3000)


def test_database_restart_mid_stream_loses_nothing(services_up, register, spawn, conn):
    p = spawn("ingest")
    reg = register()
    stream = _Stream(services_up, reg, 3000)
    wait_for(lambda: stored_count(conn, reg.device_id) >= 300, what="stream under way")
    postgres.stop(services_up, mode="immediate")  # a crash, not a polite stop
    postgres.start(services_up)
    stream.join()
    from ward import db

    with db.connect(services_up, autocommit=True) as fresh:
        _exactly_once(fresh, reg.device_id, 3000)
    assert p.running
    assert "database write failed" in p.output() or "database unreachable" in p.output()


def test_two_workers_share_the_stream_nothing_lost_nothing_twice(
    services_up, register, spawn, conn
):
    w1 = ingest_started(spawn("ingest"))
    w2 = ingest_started(spawn("ingest", VWARD_INGEST_CLIENT_ID="ingest@vward-2"))
    reg = register()
    stream = _Stream(services_up, reg, 4000)
    stream.join()
    _exactly_once(conn, reg.device_id, 4000)
    for w in (w1, w2):
        assert w.terminate() == 0
    stored = [_last_count(w.output(), "stored") for w in (w1, w2)]
    assert all(s > 0 for s in stored), stored  # both took a share
    # Retire worker 2 for good, so its session stops receiving a share.
    retire = spawn("ingest", "--retire", VWARD_INGEST_CLIENT_ID="ingest@vward-2")
    assert retire.proc.wait(60) == 0
    assert "retired" in retire.output()


def _last_count(log: str, word: str) -> int:
    import re

    found = re.findall(rf"{word} (\d+)", log)
    return int(found[-1]) if found else 0


def test_a_device_that_vanishes_leaves_its_last_will(services_up, register, ingest, conn):
    reg = register()
    dev = device_of(services_up, reg)
    dev.send_status(online=True, battery=50)
    dev._client._sock.close()  # the connection dies without a DISCONNECT
    dev._client.loop_stop()
    row = wait_for(
        lambda: conn.execute(
            "SELECT online FROM device_status WHERE device_id = %s AND online = false",
            (reg.device_id,),
        ).fetchone(),
        timeout=60,
        what="last will stored",
    )
    assert row == (False,)
