"""The simulator's runner end to end: its devices connect with their own
credentials to the real broker, a real `vward ingest` stores what they send
for the right patients, and faults arrive as configured."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import paho.mqtt.client as mqtt
import pytest
from conftest import unique, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from simulators import messages, scenario
from simulators.enrol import enrol
from simulators.faults import FaultRates
from simulators.plan import Simulation
from simulators.runner import Runner
from ward import broker_names, broker_users
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]

# Patches only (two readings a message), a reading set a simulated minute.
PATCHES = """
[ward]
id = "ward-simtest"
patients = 3
speed = 120.0
[devices]
status_interval_s = 600
[devices.interval_s]
patch = 60
[[groups]]
course = "stable"
share = 1.0
devices = ["patch"]
"""
PER_MESSAGE = 2


class Listener:
    """A subscriber to the devices' readings and status (as the ward's ingest
    user, who may read them) that keeps what arrives for devices whose id
    starts with `prefix`, in order."""

    def __init__(self, settings, prefix: str,
                 topics: tuple[str, ...] = ("ward/v1/devices/+/readings",
                                            "ward/v1/devices/+/status")) -> None:
        self.prefix = f"ward/v1/devices/{prefix}"
        self.messages: list[mqtt.MQTTMessage] = []
        self._subscribed = threading.Event()
        ingest = broker_users.credentials(settings, broker_names.INGEST)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=ingest.client_id(unique("sim")),
                        protocol=mqtt_protocol(settings))
        c.username_pw_set(ingest.username, ingest.password)
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.connect(settings.mqtt_host, settings.mqtt_port)
        c.subscribe([(t, 1) for t in topics])
        c.loop_start()
        assert self._subscribed.wait(10)
        self._client = c

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic.startswith(self.prefix):
            self.messages.append(msg)

    def live(self, kind: str) -> list[tuple[str, bytes]]:
        """(topic, payload) of messages published while listening (not retained ones)."""
        return [
            (m.topic, m.payload)
            for m in self.messages
            if not m.retain and m.topic.endswith("/" + kind)
        ]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _simulation(seed: int, faults: FaultRates | None = None, **kw) -> Simulation:
    sc = scenario.loads(PATCHES, name="patches")
    if faults is not None:
        sc = replace(sc, faults=faults)
    start = kw.pop("start", datetime.now(UTC) - timedelta(hours=2))
    return Simulation(sc, seed=seed, start=start, **kw)


def _run(settings, sim: Simulation, duration_s: float, **kw):
    passwords = enrol(settings, sim, valid_from=sim.start - timedelta(days=1))
    runner = Runner(
        sim,
        passwords,
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        protocol=mqtt_protocol(settings),
        progress=lambda p: None,
        **kw,
    )
    return runner.run(duration_s=duration_s)


def _stored(conn, seed: int) -> int:
    return conn.execute(
        "SELECT count(*) FROM observations WHERE device_id LIKE %s", (f"sim-{seed}-%",)
    ).fetchone()[0]


def _rejected(conn, seed: int) -> list[tuple[str, bool]]:
    return conn.execute(
        "SELECT reason_code, whole FROM rejected_messages WHERE device_id LIKE %s",
        (f"sim-{seed}-%",),
    ).fetchall()


@pytest.fixture
def ingest(spawn):
    p = spawn("ingest")
    wait_for(lambda: "connected to" in p.output(), what="ingest connected")
    return p


def test_readings_land_for_the_right_patients(services_up, ingest, conn) -> None:
    seed = 930001
    sim = _simulation(seed)
    report = _run(services_up, sim, 2.0)
    sent = report.sent["readings"]
    assert sent >= len(sim.devices) and report.sent["status"] >= len(sim.devices)
    assert report.acked == sum(report.sent.values()) and report.failed == 0
    wait_for(lambda: _stored(conn, seed) == PER_MESSAGE * sent, what="every reading stored")
    rows = conn.execute(
        "SELECT DISTINCT device_id, patient_id FROM observations WHERE device_id LIKE %s",
        (f"sim-{seed}-%",),
    ).fetchall()
    assert sorted(rows) == sorted((d.device_id, d.patient_id) for d in sim.devices)
    assert _rejected(conn, seed) == []


@pytest.mark.parametrize("fault", ["duplicate", "malformed", "implausible", "offline"])
def test_faults_at_full_rate_arrive_as_configured(services_up, ingest, conn, fault) -> None:
    seed = 930100 + ["duplicate", "malformed", "implausible", "offline"].index(fault)
    rates = {
        "duplicate": FaultRates(duplicate=1.0),
        "malformed": FaultRates(malformed=1.0),
        "implausible": FaultRates(implausible=1.0),
        # Every device drops off within a few simulated minutes, for a minute or two.
        "offline": FaultRates(offline_per_hour=60.0, offline_hours=(0.02, 0.03)),
    }[fault]
    report = _run(services_up, _simulation(seed, rates), 2.5)
    sent = report.sent["readings"]
    assert sent > 0 and report.acked == sum(report.sent.values())
    if fault == "duplicate":
        # Every message twice; each reading stored once.
        wait_for(lambda: _stored(conn, seed) == PER_MESSAGE * sent // 2, what="stored once")
        assert _rejected(conn, seed) == []
    elif fault == "malformed":
        # Each message refused, whole or the reading that lost its time.
        wait_for(lambda: len(_rejected(conn, seed)) == sent, what="every message rejected")
        codes = {code for code, _ in _rejected(conn, seed)}
        assert codes <= {"malformed_json", "bad_structure", "bad_time"}
    elif fault == "implausible":
        # One wild reading in each message: refused alone, the other one stored.
        wait_for(lambda: len(_rejected(conn, seed)) == sent, what="every message rejected")
        assert set(_rejected(conn, seed)) == {("implausible", False)}
        wait_for(lambda: _stored(conn, seed) == sent, what="the plausible half stored")
    else:
        # The broker published the devices' last wills; their backlogs came after.
        wait_for(lambda: _stored(conn, seed) == PER_MESSAGE * sent, what="backlogs stored")
        offline = conn.execute(
            "SELECT count(*) FROM device_status WHERE device_id LIKE %s AND online = false",
            (f"sim-{seed}-%",),
        ).fetchone()[0]
        assert offline >= 1


def test_out_of_order_messages_arrive_out_of_order(services_up) -> None:
    seed = 930200
    listener = Listener(services_up, f"sim-{seed}-")
    try:
        _run(services_up, _simulation(seed, FaultRates(out_of_order=0.5)), 3.0)
        wait_for(lambda: listener.live("readings"), what="readings")
    finally:
        listener.close()
    inversions = 0
    for device in {t for t, _ in listener.live("readings")}:
        times = [
            json.loads(p)["readings"][0]["time"]
            for t, p in listener.live("readings")
            if t == device
        ]
        inversions += sum(a > b for a, b in pairwise(times))
    assert inversions > 0


def _published(settings, seed: int, start: datetime) -> list[tuple[str, bytes]]:
    """Every message a run of the mixed ward published, as the broker passed it on."""
    listener = Listener(settings, f"sim-{seed}-")
    try:
        sim = Simulation(scenario.load("mixed"), n_patients=8, seed=seed, speed=600.0, start=start)
        report = _run(settings, sim, 2.0)
        wait_for(
            lambda: (
                len(listener.live("readings")) + len(listener.live("status"))
                >= sum(report.sent.values())
            ),
            what="every message arrived",
        )
        return sorted(listener.live("readings") + listener.live("status"))
    finally:
        listener.close()


def test_a_seeded_run_publishes_the_same_messages(services_up) -> None:
    seed, start = 930300, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    first, second = _published(services_up, seed, start), _published(services_up, seed, start)
    assert len(first) > 100 and first == second


def _retained_status(settings, sim: Simulation) -> dict[str, bytes]:
    """Each device's retained status.  Subscribed topic by topic: RabbitMQ's
    MQTT plugin sends retained messages only to filters without wildcards."""
    topics = tuple(f"ward/v1/devices/{d.device_id}/status" for d in sim.devices)
    listener = Listener(settings, "", topics)
    try:
        wait_for(
            lambda: len({m.topic for m in listener.messages if m.retain}) >= 2,
            what="retained status",
        )
        return {m.topic: m.payload for m in listener.messages if m.retain}
    finally:
        listener.close()


def test_last_wills_fire_on_an_abrupt_stop_and_not_on_a_clean_one(services_up) -> None:
    abrupt = _simulation(930400, n_patients=2)
    clean = _simulation(930401, n_patients=2)
    _run(services_up, abrupt, 1.0, abrupt_stop=True)
    _run(services_up, clean, 1.0)
    wills = _retained_status(services_up, abrupt)
    assert len(wills) == 2 and set(wills.values()) == {messages.WILL_PAYLOAD}
    status = _retained_status(services_up, clean)
    assert len(status) == 2
    assert all(json.loads(p)["online"] is True for p in status.values())
