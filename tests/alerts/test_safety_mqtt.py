"""Clinical-safety findings 1, 3, 4 and 6 of issue 8 end to end: a device publishes over
MQTT, a real `vward ingest` stores, a real `vward alerts` scores and alerts, and the
alert events arrive on the ward's MQTT topic (docs/safety/hazard-log.md)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, Process, service_env, unique, wait_for
from engine_fixtures import NORMAL, Subscriber

from simulators.device_client import DeviceClient
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]

_ACVPU = "ACVPU"


@pytest.fixture(scope="module")
def ward(services_up, tmp_path_factory) -> str:
    return unique("ward")


@pytest.fixture(scope="module")
def pipeline(services_up, ward, tmp_path_factory):
    """One ingest worker and one engine (tick 1 s) for this module's ward."""
    logs = tmp_path_factory.mktemp("safety-mqtt")
    env = service_env(services_up, VWARD_ALERTS_WARDS=ward,
                      VWARD_ALERTS_ENGINE_ID=unique("engine"), VWARD_ALERTS_TICK_SECONDS="1")
    ingest = Process(["ingest"], env, Path(logs) / "ingest.log").start()
    alerts = Process(["alerts"], env, Path(logs) / "alerts.log").start()
    wait_for(lambda: "connected to" in ingest.output(), what="ingest connected")
    wait_for(lambda: "catching up" in alerts.output(), what="alerts engine connected")
    yield ingest, alerts
    for p in (alerts, ingest):
        if p.running:
            p.terminate()
        print(f"--- vward {' '.join(p.args)} ---\n{p.output()[-4000:]}")


@pytest.fixture
def events(services_up, ward, pipeline):
    sub = Subscriber(services_up, ward)
    yield sub
    sub.close()


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _readings(t: datetime, **values) -> list[dict]:
    merged = {**NORMAL, **values}
    out = []
    for name, value in merged.items():
        if value is None:
            continue
        if name == "consciousness":
            value = _ACVPU[int(value)]
        elif name == "on_oxygen":
            value = bool(value)
        out.append({"time": _iso(t), "type": name, "value": value})
    return out


def _publish(settings, reg, messages: list[list[dict]]) -> None:
    with DeviceClient(host=settings.mqtt_host, port=settings.mqtt_port,
                      protocol=mqtt_protocol(settings), device_id=reg.device_id,
                      password=reg.password).connect() as dev:
        for i, readings in enumerate(messages):
            rc = dev.send_readings(readings, message_id=unique(f"m{i}"))
            assert not rc.is_failure, rc


def _of(events: Subscriber, patient: str, kind: str) -> list[tuple[str, str, str]]:
    return [(e["event"], e["severity"], e["reason"]) for e in events.events
            if e["patient_id"] == patient and e["kind"] == kind]


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], env=service_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_mqtt_a_red_score_never_remeasured_stays_alerted(services_up, register, ward,
                                                         events) -> None:
    """Hazard 1: a full set with RR 26 13 h ago, then only SpO2 every 15 min.  Before the
    fix nothing was alerted: the set looked complete for 12 h and, once RR aged out, the
    alert had cleared."""
    reg = register(ward_id=ward)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=13)
    messages = [_readings(start, respiratory_rate=26)]
    messages += [[{"time": _iso(start + timedelta(minutes=15 * k)), "type": "spo2", "value": 97}]
                 for k in range(1, 13 * 4)]
    _publish(services_up, reg, messages)
    # (Registered two days back and silent until the upload, the patient may first be
    # overdue on the zero band, as low, and then escalated.)
    wait_for(lambda: "urgent" in [e[1] for e in _of(events, reg.patient_id, "overdue")],
             timeout=30, what="an urgent overdue alert on MQTT")
    news2 = _of(events, reg.patient_id, "news2")
    assert news2[0][:2] == ("opened", "urgent") and "RR 26 scores 3" in news2[0][2]
    time.sleep(3)  # ticks pass: nothing resolves it
    assert "resolved" not in [e[0] for e in _of(events, reg.patient_id, "news2")]


def test_mqtt_a_return_to_emergency_after_acknowledgement_is_notified(
        services_up, register, ward, events) -> None:
    """Hazard 3: acknowledged at emergency, fell to urgent, back to emergency: notified."""
    reg = register(ward_id=ward)
    now = datetime.now(UTC).replace(microsecond=0)
    high = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": 1}
    _publish(services_up, reg, [_readings(now - timedelta(minutes=3), **high)])
    [opened] = wait_for(lambda: _of(events, reg.patient_id, "news2"), timeout=20,
                        what="the emergency on MQTT")
    assert opened[:2] == ("opened", "emergency")
    alert_id = next(e["alert_id"] for e in events.events
                    if e["patient_id"] == reg.patient_id and e["kind"] == "news2")
    done = _vward(services_up, "alert", "ack", str(alert_id), "--by", "Nurse Ada")
    assert done.returncode == 0, done.stderr
    _publish(services_up, reg, [_readings(now - timedelta(minutes=2), respiratory_rate=26)])
    wait_for(lambda: "updated" in [e[0] for e in _of(events, reg.patient_id, "news2")],
             timeout=20, what="the fall to urgent, recorded")
    _publish(services_up, reg, [_readings(now - timedelta(minutes=1), **high)])
    renotified = wait_for(lambda: [e for e in _of(events, reg.patient_id, "news2")
                                   if e[0] == "escalated"], timeout=20,
                          what="the return to emergency, notified")
    assert renotified[0][1] == "emergency"
    assert "severity rose from urgent to emergency" in renotified[0][2].lower()
    assert [e[0] for e in _of(events, reg.patient_id, "news2")][:4] == [
        "opened", "acknowledged", "updated", "escalated"]


def test_mqtt_a_cleared_high_episode_in_late_data_is_raised_for_review(
        services_up, register, ward, events) -> None:
    """Hazard 4: an emergency at 02:00 that cleared at 03:00, uploaded at 05:00."""
    reg = register(ward_id=ward)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    backlog = []
    for k in range(5):
        values = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": 1} if k < 4 else {}
        backlog += _readings(start + timedelta(minutes=15 * k), **values)
    _publish(services_up, reg, [backlog])  # one message: a device catching up
    [found] = wait_for(lambda: _of(events, reg.patient_id, "retrospective"), timeout=20,
                       what="a retrospective alert on MQTT")
    assert found[:2] == ("opened", "urgent")
    assert f"from {start:%Y-%m-%d %H:%M}Z" in found[2] and "NEWS2 7 (high)" in found[2]
    assert _of(events, reg.patient_id, "news2") == []  # over: not a live emergency


def test_mqtt_rising_into_the_low_band_asks_for_an_assessment_once(
        services_up, register, ward, events) -> None:
    """Hazard 6: zero -> low is a low alert; a steady low baseline does not re-alert."""
    reg = register(ward_id=ward)
    now = datetime.now(UTC).replace(microsecond=0)
    _publish(services_up, reg, [_readings(now - timedelta(minutes=30)),
                                _readings(now - timedelta(minutes=20), heart_rate=95)])
    [opened] = wait_for(lambda: _of(events, reg.patient_id, "news2"), timeout=20,
                        what="a low alert on MQTT")
    assert opened[:2] == ("opened", "low") and "NEWS2 1 (low)" in opened[2]
    _publish(services_up, reg, [_readings(now - timedelta(minutes=10), heart_rate=95),
                                _readings(now - timedelta(minutes=5), heart_rate=96)])
    time.sleep(3)
    assert [e[0] for e in _of(events, reg.patient_id, "news2")] == ["opened"]
