"""Corrections are kept, not dropped (clinical-safety finding 9 of issue 8).

A reading sent again for the same device, type and time is a retransmission
when its value is the same (stored once, a duplicate) and a correction when
it is not: `observations` takes the new value, the patient is queued for
rescoring from the reading's time, and the replaced value is kept in the
append-only `observation_revisions`.  Against the real TimescaleDB through
the real store (`ingest.store.write_batch`), and end to end through the real
broker, a real `vward ingest` and the alerts engine."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from conftest import unique, wait_for

from alerts.engine import Engine
from alerts.news2 import PARAMETERS
from ingest import pipeline, store
from ingest.assignments import AssignmentIndex
from ingest.rows import MappedRow, Written
from simulators.device_client import DeviceClient
from ward import db
from ward.broker_names import mqtt_protocol

pytestmark = pytest.mark.db

_REVISION = (
    "SELECT time, patient_id, type, previous_value, previous_received_at, value, received_at,"
    " message_id FROM observation_revisions WHERE device_id = %s ORDER BY revision_id"
)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _message(device: str, readings: list[dict[str, Any]], message_id: str, received_at: datetime):
    body = json.dumps({"id": message_id, "readings": readings}).encode()
    return pipeline.receive(f"ward/v1/devices/{device}/readings", body, received_at)


def _hr(t: datetime, value: float) -> dict[str, Any]:
    return {"time": _iso(t), "type": "heart_rate", "value": value}


def _write(conn: psycopg.Connection, *messages: pipeline.Received) -> Written:
    """One batch through the store, as `vward ingest` writes it."""
    written, _ = store.write_batch(
        conn, pipeline.prepare_batch(list(messages)).batch(), AssignmentIndex([])
    )
    return written


@pytest.fixture
def writer(conn):
    store.prepare(conn)
    return conn


def _values(conn, device: str) -> list[tuple]:
    return conn.execute(
        "SELECT time, type, value, received_at FROM observations WHERE device_id = %s"
        " ORDER BY time, type",
        (device,),
    ).fetchall()


def _revisions(conn, device: str) -> list[tuple]:
    return conn.execute(_REVISION, (device,)).fetchall()


def _queued(conn, patient: str) -> datetime | None:
    row = conn.execute("SELECT since FROM score_queue WHERE patient_id = %s", (patient,)).fetchone()
    return row[0] if row else None


def _scored(conn, patient: str) -> None:
    """Stand in for the engine having taken the patient off the queue."""
    conn.execute("DELETE FROM score_queue WHERE patient_id = %s", (patient,))


def test_a_retransmission_stays_one_row_and_no_revision(writer, register):
    reg = register()
    r1 = datetime.now(UTC).replace(microsecond=0)
    t = r1 - timedelta(minutes=5)
    first = _message(reg.device_id, [_hr(t, 80)], "m1", r1)
    assert _write(writer, first) == Written(1, frozenset(), 0)
    again = _message(reg.device_id, [_hr(t, 80)], "m1", r1 + timedelta(seconds=30))
    assert _write(writer, again) == Written(0, frozenset(), 0)  # a duplicate
    assert _values(writer, reg.device_id) == [(t, "heart_rate", 80.0, r1)]  # untouched
    assert _revisions(writer, reg.device_id) == []


def test_a_correction_replaces_the_value_and_keeps_the_original(writer, register):
    reg = register()
    r1 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    t = r1 - timedelta(minutes=30)
    _write(writer, _message(reg.device_id, [_hr(t, 140)], "m1", r1))
    _scored(writer, reg.patient_id)
    # Something else queued the patient from later on: the rescore must start earlier.
    writer.execute(
        "INSERT INTO score_queue (patient_id, since) VALUES (%s, %s)",
        (reg.patient_id, t + timedelta(minutes=20)),
    )
    r2 = r1 + timedelta(minutes=1)
    later = t + timedelta(minutes=10)
    fix = _message(
        reg.device_id,
        [_hr(t, 70), {"time": _iso(later), "type": "spo2", "value": 96}],
        "fix-1",
        r2,
    )
    assert _write(writer, fix) == Written(1, frozenset(), 1)  # the SpO2 is new
    assert _values(writer, reg.device_id) == [
        (t, "heart_rate", 70.0, r2),
        (later, "spo2", 96.0, r2),
    ]
    assert _revisions(writer, reg.device_id) == [
        (t, reg.patient_id, "heart_rate", 140.0, r1, 70.0, r2, "fix-1")
    ]
    assert _queued(writer, reg.patient_id) == t  # least(queued, the corrected reading's time)


def test_the_revision_table_refuses_update_delete_and_truncate(writer, register):
    reg = register()
    r1 = datetime.now(UTC).replace(microsecond=0)
    t = r1 - timedelta(minutes=5)
    _write(writer, _message(reg.device_id, [_hr(t, 140)], "m1", r1))
    _write(writer, _message(reg.device_id, [_hr(t, 70)], "m2", r1 + timedelta(seconds=1)))
    kept = _revisions(writer, reg.device_id)
    assert len(kept) == 1
    for sql in (
        "UPDATE observation_revisions SET previous_value = 70 WHERE device_id = %s",
        "DELETE FROM observation_revisions WHERE device_id = %s",
        "TRUNCATE observation_revisions",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            writer.execute(sql, (reg.device_id,) if "%s" in sql else None)
    assert _revisions(writer, reg.device_id) == kept


def test_two_values_for_one_reading_in_one_message_the_later_wins(writer, register):
    reg = register()
    r = datetime.now(UTC).replace(microsecond=0)
    t = r - timedelta(minutes=5)
    both = _message(reg.device_id, [_hr(t, 100), _hr(t, 110)], "m1", r)
    assert _write(writer, both) == Written(1, frozenset(), 1)  # no "affect row a second time"
    assert _values(writer, reg.device_id) == [(t, "heart_rate", 110.0, r)]
    assert _revisions(writer, reg.device_id) == [
        (t, reg.patient_id, "heart_rate", 100.0, r, 110.0, r, "m1")
    ]
    assert _queued(writer, reg.patient_id) == t


def test_values_for_one_reading_across_a_batch_form_a_chain_in_arrival_order(writer, register):
    reg = register()
    ra = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    t = ra - timedelta(minutes=5)
    _write(writer, _message(reg.device_id, [_hr(t, 90)], "a", ra))
    rb, rc, rd, re = (ra + timedelta(seconds=s) for s in (10, 20, 30, 40))
    batch = [
        _message(reg.device_id, [_hr(t, 90)], "b", rb),  # a retransmission
        _message(reg.device_id, [_hr(t, 95)], "c", rc),  # a correction
        _message(reg.device_id, [_hr(t, 95)], "d", rd),  # its retransmission
        _message(reg.device_id, [_hr(t, 90)], "e", re),  # corrected back
    ]
    assert _write(writer, *batch) == Written(0, frozenset(), 2)  # and 2 duplicates
    assert _revisions(writer, reg.device_id) == [
        (t, reg.patient_id, "heart_rate", 90.0, ra, 95.0, rc, "c"),
        (t, reg.patient_id, "heart_rate", 95.0, rc, 90.0, re, "e"),
    ]
    # The row says which message its value now comes from, as the last revision does.
    assert _values(writer, reg.device_id) == [(t, "heart_rate", 90.0, re)]


def test_an_implausible_correction_is_refused_and_the_original_kept(writer, register):
    reg = register()
    r1 = datetime.now(UTC).replace(microsecond=0)
    t = r1 - timedelta(minutes=5)
    _write(writer, _message(reg.device_id, [_hr(t, 140)], "m1", r1))
    bad = _message(reg.device_id, [_hr(t, 900)], "m2", r1 + timedelta(seconds=5))
    assert _write(writer, bad) == Written(0, frozenset(), 0)
    assert [v[2] for v in _values(writer, reg.device_id)] == [140.0]
    assert _revisions(writer, reg.device_id) == []
    assert writer.execute(
        "SELECT reason_code FROM rejected_messages WHERE device_id = %s", (reg.device_id,)
    ).fetchall() == [("implausible",)]


def test_two_workers_correcting_one_reading_are_put_in_order(services_up, writer, register):
    """A correction waits for another one in flight on the same reading, then
    sees its value: each replaced value is kept once, none is lost."""
    reg = register()
    r0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    t = r0 - timedelta(minutes=5)
    _write(writer, _message(reg.device_id, [_hr(t, 80)], "m0", r0))
    r1, r2 = r0 + timedelta(seconds=1), r0 + timedelta(seconds=2)
    with db.connect(services_up) as first, db.connect(services_up, autocommit=True) as second:
        store.prepare(first)
        store.prepare(second)
        done: list[Written] = []
        other = threading.Thread(
            target=lambda: done.append(
                _write(second, _message(reg.device_id, [_hr(t, 120)], "w2", r2))
            )
        )
        with first.transaction():
            assert _write(first, _message(reg.device_id, [_hr(t, 100)], "w1", r1)).corrected == 1
            other.start()
            time.sleep(0.5)
            assert other.is_alive() and not done  # waits for the first worker's commit
        other.join(10)
    assert done == [Written(0, frozenset(), 1)]
    assert [r[3:] for r in _revisions(writer, reg.device_id)] == [
        (80.0, r0, 100.0, r1, "w1"),
        (100.0, r1, 120.0, r2, "w2"),
    ]
    assert _values(writer, reg.device_id) == [(t, "heart_rate", 120.0, r2)]


def test_a_reading_is_locked_from_the_staged_insert_to_the_commit(services_up, writer, register):
    """The store's two statements, with another worker's correction between
    them: it waits, so the value the second statement reads is still the
    stored one, and each revision names the value it really replaced."""
    reg = register()
    r0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    t = r0 - timedelta(minutes=5)
    written = _write(writer, _message(reg.device_id, [_hr(t, 80)], "m0", r0))
    assert written.stored == 1
    r1, r2 = r0 + timedelta(seconds=1), r0 + timedelta(seconds=2)
    [(patient, *_)] = writer.execute(
        "SELECT patient_id FROM observations WHERE device_id = %s", (reg.device_id,)
    ).fetchall()
    row = MappedRow(t, patient, reg.device_id, "heart_rate", 100.0, r1)
    with db.connect(services_up) as first, db.connect(services_up, autocommit=True) as second:
        store.prepare(first)
        store.prepare(second)
        done: list[Written] = []
        other = threading.Thread(
            target=lambda: done.append(
                _write(second, _message(reg.device_id, [_hr(t, 120)], "w2", r2))
            )
        )
        with first.transaction(), first.cursor() as cur:
            store._stage(cur, [row], ["w1"])
            assert cur.execute(store._INSERT_NEW).fetchall() == []  # nothing new: locked
            other.start()
            time.sleep(0.5)
            assert other.is_alive() and not done  # waits for the lock
            assert [r[2] for r in cur.execute(store._CORRECT).fetchall()] == [1]
        other.join(10)
    assert done == [Written(0, frozenset(), 1)]
    assert [r[3:] for r in _revisions(writer, reg.device_id)] == [
        (80.0, r0, 100.0, r1, "w1"),
        (100.0, r1, 120.0, r2, "w2"),
    ]


# --- end to end: device → broker → vward ingest → alerts engine ----------------------------

_SET = {
    "respiratory_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 120,
    "consciousness": "A",
    "temperature": 37.0,
}
_HR = PARAMETERS.index("heart_rate")


def _sub_scores(conn, patient: str) -> list[tuple[datetime, list[int]]]:
    return conn.execute(
        "SELECT time, sub_scores FROM scores WHERE patient_id = %s ORDER BY time", (patient,)
    ).fetchall()


@pytest.mark.broker
def test_a_correction_is_kept_and_rescored(services_up, register, spawn, conn):
    """A heart rate of 140 (NEWS2 3) corrected to 70 (NEWS2 0) by the device:
    the corrected value is what the engine scores from then on, and the 140
    stays on record."""
    ward = unique("ward")
    reg = register(ward_id=ward)
    ingest = spawn("ingest")
    wait_for(lambda: "connected to" in ingest.output(), what="ingest connected")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t = now - timedelta(minutes=3)
    readings = [{"time": _iso(t), "type": k, "value": v} for k, v in _SET.items()]
    device = DeviceClient(
        host=services_up.mqtt_host,
        port=services_up.mqtt_port,
        protocol=mqtt_protocol(services_up),
        device_id=reg.device_id,
        password=reg.password,
    ).connect()
    engine_conn = db.connect(services_up, autocommit=True)
    engine = Engine(
        engine_conn, engine_id=unique("engine"), freshness=timedelta(hours=12), wards=[ward]
    )
    try:
        with device:
            device.send_readings([*readings, _hr(t, 140)], message_id="set-1")
            wait_for(lambda: len(_values(conn, reg.device_id)) == 7, what="the set stored")
            assert engine.drain(now) == 1
            [(at, before)] = _sub_scores(conn, reg.patient_id)
            assert (at, before[_HR]) == (t, 3)

            device.send_readings([_hr(t, 70)], message_id="fix-1")  # the correction
            wait_for(
                lambda: (t, "heart_rate", 70.0) in [v[:3] for v in _values(conn, reg.device_id)],
                what="the corrected value stored",
            )
        assert _queued(conn, reg.patient_id) == t  # rescore from the reading's time
        [revision] = _revisions(conn, reg.device_id)
        assert (revision[2], revision[3], revision[5], revision[7]) == (
            "heart_rate",
            140.0,
            70.0,
            "fix-1",
        )
        assert revision[4] < revision[6]  # the original's arrival, then the correction's
        assert len(_values(conn, reg.device_id)) == 7  # still one row per reading

        assert engine.drain(now + timedelta(minutes=1)) == 1
        [(at, after)] = _sub_scores(conn, reg.patient_id)
        assert (at, after[_HR]) == (t, 0)
        assert [a - b for a, b in zip(before, after, strict=True)] == [
            3 if i == _HR else 0 for i in range(len(PARAMETERS))
        ]
    finally:
        engine_conn.close()
    assert ingest.terminate() == 0
    assert "stored 7, corrected 1, duplicates 0" in ingest.output()
