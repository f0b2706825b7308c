"""Re-measure before a spot-check alarm, end to end: a real `vward ingest`, the
real broker and database, the engine in-process on the real clock, and an
oximeter as an MQTT client that subscribes to its own commands topic.  A
confirming answer, one that does not confirm, and none by the deadline."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import wait_for
from engine_fixtures import alerts_of, engine, send, unique

from alerts import remeasure_gate
from alerts.outbox import Outbox
from simulators.device_client import DeviceClient
from ward import db
from ward.broker_names import mqtt_protocol
from ward.device_commands import RemeasureCommand, parse_command
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Home:
    settings: Settings
    ward: str
    patient: str
    oximeter: str
    device: DeviceClient
    commands: queue.Queue[bytes]

    def measure(self, spo2: float, heart_rate: float, tag: str) -> None:
        """The oximeter's set over MQTT, waited for until ingest stored it."""
        t = _now()
        t = t.replace(microsecond=t.microsecond // 1000 * 1000)  # as sent: milliseconds
        rc = self.device.send_readings(
            [{"time": _iso(t), "type": "spo2", "value": spo2},
             {"time": _iso(t), "type": "heart_rate", "value": heart_rate}],
            message_id=unique(tag))
        assert rc is not None and not rc.is_failure
        wait_for(lambda: _stored(self, t), timeout=20, what=f"the {tag} set stored")

    def command(self, timeout: float = 15) -> RemeasureCommand:
        return parse_command(self.commands.get(timeout=timeout))


def _stored(home: Home, t: datetime) -> bool:
    with db.connect(home.settings) as c:
        row = c.execute("SELECT count(*) FROM observations WHERE device_id = %s AND time = %s",
                        (home.oximeter, t)).fetchone()
    return bool(row and row[0] == 2)


@pytest.fixture
def ingest(spawn):
    p = spawn("ingest")
    wait_for(lambda: "connected to" in p.output(), timeout=30, what="ingest connected")
    return p


@pytest.fixture
def outbox(services_up) -> Iterator[Outbox]:
    o = Outbox(services_up)
    o.start()
    wait_for(lambda: o.connected, timeout=20, what="the outbox connected")
    yield o
    o.stop()


def _home(services_up, register, conn, *, deadline: timedelta) -> Home:
    """A patient on a ward that asks for re-measurements, with a normal set from the
    tablet half an hour ago and an oximeter listening to its commands."""
    ward = unique("ward")
    tablet = register(ward_id=ward, kind="tablet")
    ox = register(ward_id=ward, kind="oximeter", patient_id=tablet.patient_id)
    conn.execute("UPDATE wards SET remeasure_allowed = true, remeasure_deadline = %s"
                 " WHERE ward_id = %s", (deadline, ward))
    send(conn, tablet.patient_id, tablet.device_id, _now() - timedelta(minutes=30))
    commands: queue.Queue[bytes] = queue.Queue()
    device = DeviceClient(host=services_up.mqtt_host, port=services_up.mqtt_port,
                          protocol=mqtt_protocol(services_up), device_id=ox.device_id,
                          password=ox.password, will=False).connect()
    device.listen_commands(commands.put)
    return Home(services_up, ward, tablet.patient_id, ox.device_id, device, commands)


def _request(conn, patient: str) -> tuple:
    return conn.execute(
        "SELECT outcome, types, score_before, score_after, answer, alert_id, sent_at"
        " FROM remeasure_requests WHERE patient_id = %s ORDER BY request_id DESC LIMIT 1",
        (patient,)).fetchone()


def _news2(conn, patient: str) -> list[tuple]:
    return [a for a in alerts_of(conn, patient) if a[1] == "news2"]


def _asked(services_up, register, conn, outbox, deadline: timedelta):
    """An urgent spot check (SpO2 91 scores 3: low-medium) held, its command received."""
    home = _home(services_up, register, conn, deadline=deadline)
    e = engine(services_up, home.ward)
    try:
        e.drain(_now())  # the tablet's normal set
        home.measure(91, 80, "urgent")
        e.drain(_now())
        assert _news2(conn, home.patient) == []  # held
        assert remeasure_gate.publish_commands(e.conn, outbox, _now(), e.wards) == 1
        cmd = home.command()
        assert cmd.types == ("heart_rate", "spo2")
        assert cmd.deadline > _now()
        outcome, types, before, *_, sent = _request(conn, home.patient)
        assert (outcome, types, before) == (None, ["heart_rate", "spo2"], 3)
        assert sent is not None
        assert remeasure_gate.publish_commands(e.conn, outbox, _now(), e.wards) == 0  # once
    except BaseException:
        home.device.close()
        e.conn.close()
        raise
    return home, e, cmd


def test_a_confirming_answer_opens_the_alert_saying_so(services_up, register, conn, ingest,
                                                       outbox) -> None:
    home, e, cmd = _asked(services_up, register, conn, outbox, timedelta(minutes=10))
    try:
        home.measure(90, 84, "confirm")
        e.drain(_now())
        [alert] = _news2(conn, home.patient)
        assert alert[2:4] == ("urgent", "open")
        assert f"Re-measurement asked of {home.oximeter}" in alert[4]
        assert "it confirmed: Heart rate 84 /min, SpO2 90 %: NEWS2 3 (low-medium)" in alert[4]
        outcome, _, _, after, answer, alert_id, _ = _request(conn, home.patient)
        assert (outcome, after, alert_id) == ("confirmed", 3, alert[0])
        assert "SpO2 90 %" in answer
        [opened] = conn.execute("SELECT reason, detail FROM alert_events WHERE alert_id = %s",
                                (alert[0],)).fetchall()
        assert "it confirmed" in opened[0]
        assert opened[1]["remeasure"] == {"request_id": cmd.request_id, "outcome": "confirmed"}
    finally:
        home.device.close()
        e.conn.close()


def test_an_answer_that_does_not_confirm_is_recorded_and_no_alert_opens(
        services_up, register, conn, ingest, outbox) -> None:
    home, e, _ = _asked(services_up, register, conn, outbox, timedelta(minutes=10))
    try:
        home.measure(97, 78, "normal")
        e.drain(_now())
        e.tick(_now())
        assert _news2(conn, home.patient) == []
        outcome, _, before, after, answer, alert_id, _ = _request(conn, home.patient)
        assert (outcome, before, after, alert_id) == ("not_confirmed", 3, 0, None)
        assert "resolved by re-measurement" in answer and "SpO2 97 %" in answer
        e.tick(_now() + timedelta(minutes=11))  # past the deadline: still nothing
        home.measure(96, 76, "later")  # the episode stays settled
        e.drain(_now())
        assert _news2(conn, home.patient) == []
        assert conn.execute("SELECT count(*) FROM remeasure_requests WHERE patient_id = %s",
                            (home.patient,)).fetchone()[0] == 1
    finally:
        home.device.close()
        e.conn.close()


def test_no_answer_by_the_deadline_opens_the_alert_saying_so(services_up, register, conn,
                                                              ingest, outbox) -> None:
    home, e, cmd = _asked(services_up, register, conn, outbox, timedelta(seconds=3))
    try:
        e.tick(_now())
        assert _news2(conn, home.patient) == []  # before the deadline: waiting
        wait_for(lambda: _now() >= cmd.deadline, timeout=10, what="the deadline")
        e.tick(_now())
        [alert] = _news2(conn, home.patient)
        assert alert[2:4] == ("urgent", "open")
        assert "no answer by the deadline" in alert[4] and alert[4].startswith("NEWS2 3")
        outcome, *_, answer, alert_id, _ = _request(conn, home.patient)
        assert (outcome, alert_id) == ("unanswered", alert[0])
        home.measure(91, 80, "late")  # a late answer changes nothing: the alert stands
        e.drain(_now())
        assert [a[0] for a in _news2(conn, home.patient)] == [alert[0]]
        assert answer == alert[4].split(". ", 1)[1]  # the same words on the record
    finally:
        home.device.close()
        e.conn.close()


def test_vward_alerts_sends_the_command_and_opens_the_confirmed_alert(
        services_up, register, conn, ingest, spawn) -> None:
    """The same through `vward alerts` as an operator runs it: the process holds the
    alert, publishes the command through its outbox's connection, and opens the
    alert once the device's answer confirms."""
    home = _home(services_up, register, conn, deadline=timedelta(minutes=10))
    alerts = spawn("alerts", VWARD_ALERTS_WARDS=home.ward, VWARD_ALERTS_ENGINE_ID=unique("eng"),
                   VWARD_ALERTS_TICK_SECONDS="1")
    try:
        wait_for(lambda: "catching up" in alerts.output(), timeout=30, what="the engine")
        home.measure(91, 80, "urgent")
        cmd = home.command(timeout=30)
        assert cmd.types == ("heart_rate", "spo2")
        assert _news2(conn, home.patient) == []
        home.measure(90, 84, "confirm")
        [alert] = wait_for(lambda: _news2(conn, home.patient), timeout=30, what="the alert")
        assert alert[2] == "urgent" and "it confirmed" in alert[4]
        assert _request(conn, home.patient)[0] == "confirmed"
    finally:
        home.device.close()
