"""Re-measure with the simulator's devices: the engine holds an urgent spot check
of a simulated oximeter and asks it to measure again; the simulator (its Runner,
connected to the real broker) prints the tablet's prompt and answers as its
settings say (confirm, not confirm, never); `vward ingest` stores the answer and
the engine opens the alert, records the episode, or opens at the deadline."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import wait_for
from engine_fixtures import alerts_of, engine, send, unique

from alerts import remeasure_gate
from alerts.outbox import Outbox
from simulators import scenario
from simulators.enrol import enrol
from simulators.messages import QOS, Outgoing, readings_topic
from simulators.plan import Simulation
from simulators.remeasure import AnswerRates
from simulators.runner import Runner
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]

# One patient with an oximeter and a tablet, spot checks every 6 h (the defaults), in
# real time: the simulation's own rounds come later than the test (``_quiet``).
HOME = """
[ward]
id = "ward-simhome"
patients = 1
speed = 1.0
[devices]
status_interval_s = 3600
[[groups]]
course = "stable"
share = 1.0
devices = ["oximeter", "tablet"]
"""
_OTHERS = {k: None for k in ("respiratory_rate", "on_oxygen", "systolic_bp", "consciousness",
                             "temperature")}


def _quiet(seed: int) -> Simulation:
    """A simulation from ``seed`` on whose devices' first rounds are 10 min away or more."""
    sc = scenario.loads(HOME, name="home")
    sc = replace(sc, ward_id=unique("ward"))
    for s in range(seed, seed + 200):
        sim = Simulation(sc, seed=s, start=datetime.now(UTC))
        if sim._readings.next_due.min() > 600:
            return sim
    raise AssertionError("no quiet seed")


@pytest.fixture
def ingest(spawn):
    p = spawn("ingest")
    wait_for(lambda: "connected to" in p.output(), timeout=30, what="ingest connected")
    return p


@pytest.mark.parametrize(("rates", "outcome"), [
    (AnswerRates(confirm=1.0, not_confirm=0.0, delay_s=1.0), "confirmed"),
    (AnswerRates(confirm=0.0, not_confirm=1.0, delay_s=1.0), "not_confirmed"),
    (AnswerRates(confirm=0.0, not_confirm=0.0, delay_s=1.0), "unanswered"),
])
def test_a_simulated_home_answers_as_its_settings_say(services_up, conn, ingest, rates,
                                                      outcome) -> None:
    sim = _quiet(940000 + 300 * ["confirmed", "not_confirmed", "unanswered"].index(outcome))
    passwords = enrol(services_up, sim, valid_from=sim.start - timedelta(days=1))
    [ox] = [d.device_id for d in sim.devices if d.kind == "oximeter"]
    [tablet] = [d.device_id for d in sim.devices if d.kind == "tablet"]
    [patient] = [p.patient_id for p in sim.patients]
    conn.execute("UPDATE wards SET remeasure_allowed = true, remeasure_deadline = %s"
                 " WHERE ward_id = %s", (timedelta(seconds=4), sim.scenario.ward_id))
    shown: list[str] = []
    runner = Runner(sim, passwords, host=services_up.mqtt_host, port=services_up.mqtt_port,
                    protocol=mqtt_protocol(services_up), progress=lambda p: None,
                    answers=rates, show=shown.append)
    thread = threading.Thread(target=lambda: runner.run(duration_s=60.0))
    thread.start()
    outbox = Outbox(services_up)
    outbox.start()
    e = engine(services_up, sim.scenario.ward_id)
    try:
        wait_for(lambda: runner.net.connected == 2, timeout=30, what="the devices connected")
        now = datetime.now(UTC)
        send(conn, patient, tablet, now - timedelta(minutes=30))  # a normal set
        e.drain(now)
        # The oximeter's spot check, SpO2 91 (3: urgent), as ingest stores it; the
        # simulated device remembers it as its last message.
        t = now.replace(microsecond=0) - timedelta(seconds=2)
        send(conn, patient, ox, t, **_OTHERS, spo2=91, heart_rate=80)
        stamp = t.isoformat().replace("+00:00", "Z")
        assert runner.answerer is not None
        runner.answerer.sent(Outgoing(readings_topic(ox), json.dumps({"id": "ox-1", "readings": [
            {"time": stamp, "type": "spo2", "value": 91, "unit": "%"},
            {"time": stamp, "type": "heart_rate", "value": 80, "unit": "/min"}]}).encode(),
            QOS, False, ox, "readings", 0.0))
        e.drain(datetime.now(UTC))
        assert [a for a in alerts_of(conn, patient) if a[1] == "news2"] == []
        wait_for(lambda: outbox.connected, timeout=20, what="the outbox connected")
        assert remeasure_gate.publish_commands(e.conn, outbox, datetime.now(UTC), e.wards) == 1
        wait_for(lambda: shown, timeout=15, what="the tablet's prompt")
        assert shown[0].startswith(f"{tablet}: to patient {patient}: please measure"
                                   f" heart_rate, spo2 again with {ox} now")
        if outcome == "unanswered":
            deadline = conn.execute("SELECT deadline FROM remeasure_requests"
                                    " WHERE patient_id = %s", (patient,)).fetchone()[0]
            wait_for(lambda: datetime.now(UTC) >= deadline, timeout=10, what="the deadline")
            e.tick(datetime.now(UTC))
        else:
            wait_for(lambda: conn.execute(
                "SELECT count(*) FROM observations WHERE device_id = %s AND time > %s",
                (ox, t)).fetchone()[0] == 2, timeout=60,  # waits only as long as it takes;
                what="the answer stored")  # 20 s ran out once with two suites on 2 cores
            e.drain(datetime.now(UTC))
        got = conn.execute("SELECT outcome, answer FROM remeasure_requests"
                           " WHERE patient_id = %s", (patient,)).fetchone()
        assert got[0] == outcome, got
        news2 = [a for a in alerts_of(conn, patient) if a[1] == "news2"]
        assert [a[2] for a in news2] == ([] if outcome == "not_confirmed" else ["urgent"])
        if news2:
            assert got[1] in news2[0][4]  # the alert says what was asked and what came back
    finally:
        runner.stop()
        thread.join(30)
        outbox.stop()
        e.conn.close()
