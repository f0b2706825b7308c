"""The simulator's devices answer the ward's re-measure commands: the choice and
the answer, pure; and a run against the real broker where the alerts engine's
user commands a simulated oximeter, the tablet prints the prompt, and the
answer arrives on the readings topic."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from conftest import wait_for
from test_sim_runner import Listener

from alerts.outbox import Outbox
from simulators import scenario
from simulators.enrol import enrol
from simulators.messages import QOS, Outgoing
from simulators.plan import DeviceInfo, Simulation
from simulators.remeasure import (
    ANSWER_DELAY_S,
    Answerer,
    AnswerRates,
    answer_payload,
    choose,
)
from simulators.runner import Runner
from ward import topics
from ward.broker_names import mqtt_protocol
from ward.device_commands import RemeasureCommand, remeasure_payload

DEADLINE = datetime(2026, 12, 3, 10, 10, tzinfo=UTC)
CMD = RemeasureCommand(7, ("heart_rate", "spo2"), DEADLINE)
LAST = json.dumps({"id": "x-1", "readings": [
    {"time": "2026-12-03T09:59:00Z", "type": "spo2", "value": 91, "unit": "%"},
    {"time": "2026-12-03T09:59:00Z", "type": "heart_rate", "value": 112, "unit": "/min"},
]}).encode()


def test_the_shares_choose_the_answer() -> None:
    rates = AnswerRates(confirm=0.7, not_confirm=0.2)
    assert [choose(rates, u) for u in (0.0, 0.6999, 0.7, 0.8999, 0.9, 0.9999)] == [
        "confirm", "confirm", "not_confirm", "not_confirm", "never", "never"]
    assert rates.never == pytest.approx(0.1)


@pytest.mark.parametrize(("confirm", "not_confirm"), [(0.8, 0.3), (-0.1, 0.5), (1.1, 0.0)])
def test_shares_outside_0_1_or_adding_up_past_1_are_refused(confirm, not_confirm) -> None:
    with pytest.raises(ValueError, match="re-measure shares"):
        AnswerRates(confirm, not_confirm)


def test_a_confirming_answer_repeats_the_values_measured_again_now() -> None:
    body = json.loads(answer_payload("confirm", CMD, LAST, message_id="a-1",
                                     time="2026-12-03T10:01:00Z"))
    assert body == {"id": "a-1", "readings": [
        {"time": "2026-12-03T10:01:00Z", "type": "spo2", "value": 91, "unit": "%"},
        {"time": "2026-12-03T10:01:00Z", "type": "heart_rate", "value": 112, "unit": "/min"}]}


def test_one_that_does_not_confirm_is_normal_in_the_devices_own_unit() -> None:
    body = json.loads(answer_payload("not_confirm", CMD, LAST, message_id="a-2", time="t"))
    assert [(r["type"], r["value"]) for r in body["readings"]] == [("spo2", 97),
                                                                   ("heart_rate", 72)]
    fahrenheit = json.dumps({"id": "t", "readings": [
        {"time": "t", "type": "temperature", "value": 96.0, "unit": "[degF]"}]}).encode()
    cmd = RemeasureCommand(8, ("temperature",), DEADLINE)
    body = json.loads(answer_payload("not_confirm", cmd, fahrenheit, message_id="a", time="t"))
    assert body["readings"][0]["value"] == 98.2  # 36.8 Cel, scores 0


@pytest.mark.parametrize(("choice", "last", "cmd"), [
    ("never", LAST, CMD),
    ("confirm", None, CMD),  # nothing measured yet
    ("confirm", b"not json", CMD),
    ("confirm", LAST, RemeasureCommand(9, ("temperature",), DEADLINE)),  # not measured here
])
def test_nothing_is_sent_when_there_is_nothing_to_answer(choice, last, cmd) -> None:
    assert answer_payload(choice, cmd, last, message_id="a", time="t") is None


def test_the_answerer_prompts_on_the_tablet_and_answers_a_minute_later() -> None:
    devices = [DeviceInfo("ox", "p", "w", "oximeter"), DeviceInfo("tab", "p", "w", "tablet")]
    shown: list[str] = []
    a = Answerer(devices, AnswerRates(confirm=1.0, not_confirm=0.0), 1, shown.append)
    a.command(0, remeasure_payload(CMD), 100.0, lambda s: f"T{s:g}")
    assert a.due(1e9) == []  # nothing measured yet: nothing to repeat
    a.sent(_readings("ox", LAST))
    a.command(0, remeasure_payload(CMD), 100.0, lambda s: f"T{s:g}")
    a.command(0, b'{"command": "reboot"}', 100.0, str)
    assert shown[0].startswith("tab: to patient p: please measure heart_rate, spo2 again with"
                               " ox now, before 10:10Z (ward request 7)")
    assert shown[-1].startswith("ox: command refused: unknown command")
    assert a.due(100.0 + ANSWER_DELAY_S - 1) == []
    [o] = a.due(100.0 + ANSWER_DELAY_S)
    assert o.topic == topics.readings_topic("ox") and o.kind == "answer"
    assert json.loads(o.payload)["readings"][0]["time"] == f"T{100 + ANSWER_DELAY_S:g}"
    assert a.counts == {"confirm": 2, "refused": 1}


def _readings(device: str, payload: bytes) -> Outgoing:
    return Outgoing(topics.readings_topic(device), payload, QOS, False, device, "readings", 0.0)


# --- against the real broker ----------------------------------------------------------------

SPOT = """
[ward]
id = "ward-simremeasure"
patients = 1
speed = 60.0
[devices]
status_interval_s = 600
[devices.interval_s]
oximeter = 30
tablet = 3600
[[groups]]
course = "stable"
share = 1.0
devices = ["oximeter", "tablet"]
"""


@pytest.mark.db
@pytest.mark.broker
def test_a_simulated_oximeter_answers_the_wards_command(services_up) -> None:
    sim = Simulation(scenario.loads(SPOT, name="spot"), seed=930777,
                     start=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10))
    passwords = enrol(services_up, sim, valid_from=sim.start - timedelta(days=1))
    shown: list[str] = []
    runner = Runner(sim, passwords, host=services_up.mqtt_host, port=services_up.mqtt_port,
                    protocol=mqtt_protocol(services_up), progress=lambda p: None,
                    answers=AnswerRates(confirm=1.0, not_confirm=0.0), show=shown.append)
    [ox] = [d.device_id for d in sim.devices if d.kind == "oximeter"]
    readings = Listener(services_up, ox)
    outbox = Outbox(services_up)
    outbox.start()
    done: list = []
    thread = threading.Thread(target=lambda: done.append(runner.run(duration_s=12.0)))
    thread.start()
    try:
        wait_for(lambda: readings.live("readings"), timeout=20, what="the oximeter measuring")
        wait_for(lambda: outbox.connected, timeout=20, what="the outbox connected")
        cmd = RemeasureCommand(41, ("heart_rate", "spo2"),
                               datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10))
        outbox.publisher.publish([(topics.commands_topic(ox), remeasure_payload(cmd))],
                                 timeout=10)
        answers = wait_for(lambda: [p for _, p in readings.live("readings")
                                    if json.loads(p)["id"] == f"{ox}-remeasure-41"],
                           timeout=20, what="the answer on the readings topic")
        body = json.loads(answers[0])
        assert {r["type"] for r in body["readings"]} == {"heart_rate", "spo2"}
        assert any("please measure heart_rate, spo2 again" in line and "-tablet:" in line
                   for line in shown), shown
    finally:
        runner.stop()
        thread.join(30)
        outbox.stop()
        readings.close()
    assert done and done[0].sent["answer"] == 1
    assert runner.answerer is not None and runner.answerer.counts == {"confirm": 1}
