"""The simulated ward through the whole system: `vward simulate` → the real
broker → `vward ingest` → TimescaleDB → `vward alerts`.  A sepsis patient
reaches a high NEWS2 and an emergency alert, a stable patient nothing urgent,
and a device that goes silent leaves its patient overdue."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import unique, wait_for

from simulators.device_client import DeviceClient
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]

# Four simulated hours, ending now: sepsis starts a minute in and is at its
# full picture after an hour; every device sends hourly.  No faults: this is
# about the courses, faults have tests of their own.
SCENARIO = """
[ward]
id = "ward-e2e"
patients = 2
[devices.interval_s]
oximeter = 1800
bp_cuff = 1800
thermometer = 1800
tablet = 1800
[[groups]]
name = "sepsis"
course = "sepsis"
count = 1
onset_s = [60, 60]
duration_s = [3600, 3600]
devices = ["oximeter", "bp_cuff", "thermometer", "tablet"]
[[groups]]
name = "stable"
course = "stable"
count = 1
devices = ["oximeter", "bp_cuff", "thermometer", "tablet"]
"""


@pytest.fixture
def ward_services(spawn):
    """An ingest worker and an alerts engine for one ward of this test's own."""
    ward = unique("ward")
    ingest = spawn("ingest")
    alerts = spawn("alerts", VWARD_ALERTS_WARDS=ward, VWARD_ALERTS_ENGINE_ID=unique("engine"),
                   VWARD_ALERTS_TICK_SECONDS="1")
    wait_for(lambda: "connected to" in ingest.output(), what="ingest connected")
    wait_for(lambda: "catching up" in alerts.output(), what="alerts engine running")
    return ward


def _latest_score(conn, patient_id: str):
    return conn.execute("SELECT total, band FROM scores WHERE patient_id = %s"
                        " ORDER BY time DESC LIMIT 1", (patient_id,)).fetchone()


def _alerts(conn, patient_id: str) -> list[tuple[str, str, str]]:
    return conn.execute("SELECT kind, severity, reason FROM alerts WHERE patient_id = %s"
                        " ORDER BY alert_id", (patient_id,)).fetchall()


def _patient_of(output: str, course: str) -> str:
    """The patient the simulator's opening summary names for a course."""
    block = output[output.index(f"course {course})"):]
    return re.search(r"sim-p\d+-\d+", block).group(0)


def test_sepsis_alerts_and_a_stable_patient_stays_quiet(spawn, conn, tmp_path, ward_services):
    scenario = tmp_path / "e2e.toml"
    scenario.write_text(SCENARIO)
    sim = spawn("simulate", "--scenario", str(scenario), "--ward", ward_services,
                "--speed", "720", "--duration", "20s", "--seed", "4242")
    assert sim.proc.wait(120) == 0, sim.output()
    septic, stable = _patient_of(sim.output(), "sepsis"), _patient_of(sim.output(), "stable")

    assert wait_for(lambda: (_latest_score(conn, septic) or (0, ""))[1] == "high", timeout=30,
                    what="the septic patient's score to reach high")
    alerts = wait_for(lambda: [a for a in _alerts(conn, septic) if a[0] == "news2"],
                      timeout=30, what="the septic patient's NEWS2 alert")
    assert alerts[0][1] == "emergency"
    assert alerts[0][2].startswith("NEWS2 ") and "(high)" in alerts[0][2]

    # The stable patient was scored all along and nothing urgent fired: at most the
    # low band's prompt for a nurse's assessment (a breath count of 10 scores 1).
    assert _latest_score(conn, stable) is not None
    assert conn.execute("SELECT max(total) FROM scores WHERE patient_id = %s",
                        (stable,)).fetchone()[0] <= 4
    stable_alerts = _alerts(conn, stable)
    assert all(kind == "news2" and severity == "low" and "(low)" in reason
               for kind, severity, reason in stable_alerts), stable_alerts


def test_a_silent_device_leaves_its_patient_overdue(services_up, register, conn, ward_services):
    reg = register(ward_id=ward_services)
    # A complete set scoring 5 (medium: observe every hour), measured 70 min ago.
    t = (datetime.now(UTC) - timedelta(minutes=70)).replace(microsecond=0)
    values = {"respiratory_rate": 21, "spo2": 93, "on_oxygen": False, "systolic_bp": 120,
              "heart_rate": 95, "consciousness": "A", "temperature": 37.5}
    dev = DeviceClient(host=services_up.mqtt_host, port=services_up.mqtt_port,
                       protocol=mqtt_protocol(services_up), device_id=reg.device_id,
                       password=reg.password).connect()
    iso = t.isoformat().replace("+00:00", "Z")
    rc = dev.send_readings([{"time": iso, "type": k, "value": v} for k, v in values.items()],
                           message_id="last-set")
    assert not rc.is_failure
    dev._client._sock.close()  # the device vanishes: no DISCONNECT, the broker sends its will
    dev._client.loop_stop()

    assert wait_for(lambda: _latest_score(conn, reg.patient_id), timeout=20,
                    what="the score") == (5, "medium")
    kinds = wait_for(lambda: {a[0] for a in _alerts(conn, reg.patient_id)} >= {
        "overdue", "device_offline"} and {a[0]: a for a in _alerts(conn, reg.patient_id)},
        timeout=30, what="overdue and device-offline alerts")
    assert "hour" in kinds["overdue"][2] or "1 h" in kinds["overdue"][2], kinds["overdue"]
