"""Ward protocols end to end: a COVID-19 oximetry ward and a heart-failure ward
beside a NEWS2 ward, made with `vward ward add`, readings through the real
broker (MQTT) → `vward ingest` → TimescaleDB → `vward alerts`.  Each ward
alerts by its own protocol, and NEWS2 still applies on the protocol wards.
One module-scoped setup; the assertions are split by ward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import Process, service_env, unique, wait_for

from simulators.device_client import DeviceClient
from ward import broker, db, devices
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]

NOW = datetime.now(UTC).replace(microsecond=0)
# A complete set scoring 5 (medium: urgent): news2.md's first worked vector.
MEDIUM_SET = {"respiratory_rate": 21, "spo2": 93, "on_oxygen": False, "systolic_bp": 120,
              "heart_rate": 95, "consciousness": "A", "temperature": 37.5}


def _iso(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")


# patient role -> (ward role, [(hours ago, {type: value})])
READINGS = {
    "covid-red": ("covid", [(6, {"spo2": 97}), (3, {"spo2": 94}), (0.05, {"spo2": 92})]),
    "covid-green": ("covid", [(3, {"spo2": 93}), (0.05, {"spo2": 95})]),
    "hf-gain": ("hf", [(72, {"body_weight": 80.0}), (48, {"body_weight": 80.6}),
                       (24, {"body_weight": 81.2}), (0.05, {"body_weight": 82.3})]),
    "hf-steady": ("hf", [(48, {"body_weight": 80.0}), (24, {"body_weight": 80.5}),
                         (0.1, {"body_weight": 81.0}), (0.05, MEDIUM_SET)]),
    "news2-medium": ("news2", [(0.05, MEDIUM_SET)]),
    "news2-low-spo2": ("news2", [(0.05, {"spo2": 92})]),
}


@pytest.fixture(scope="module")
def wards(services_up, tmp_path_factory):
    """The three wards, their patients' readings sent, ingest and the engine running;
    yields {patient role: patient id} once every patient has been scored."""
    ids = {"covid": unique("covid"), "hf": unique("hf"), "news2": unique("news2")}
    logs = tmp_path_factory.mktemp("protocol-wards")
    env = service_env(services_up)
    procs: list[Process] = []
    for role, protocol in (("covid", "covid-oximetry"), ("hf", "heart-failure")):
        add = Process(["ward", "add", ids[role], "--protocol", protocol, "--beds", "8"], env,
                      logs / f"add-{role}.log").start()
        assert add.proc.wait(60) == 0, add.output()
        assert f"ward {ids[role]} created: runs {protocol}" in add.output()
    patients, creds = {}, {}
    with db.connect(services_up) as c:
        for role, (ward, _) in READINGS.items():
            device, patient = unique("dev"), unique(role)
            pw = devices.register_devices(c, [devices.NewDevice(device, patient, ids[ward])],
                                          valid_from=NOW - timedelta(days=4))
            patients[role], creds[role] = patient, (device, pw[device])
        broker.write_credentials(services_up, devices.password_hashes(c))
    procs.append(Process(["ingest"], env, logs / "ingest.log").start())
    procs.append(Process(["alerts"], env | {"VWARD_ALERTS_WARDS": ",".join(ids.values()),
                                            "VWARD_ALERTS_ENGINE_ID": unique("engine"),
                                            "VWARD_ALERTS_TICK_SECONDS": "1"},
                         logs / "alerts.log").start())
    try:
        wait_for(lambda: "connected to" in procs[0].output(), what="ingest connected")
        for role, (_, series) in READINGS.items():
            device, password = creds[role]
            dev = DeviceClient(host=services_up.mqtt_host, port=services_up.mqtt_port,
                               protocol=mqtt_protocol(services_up), device_id=device,
                               password=password).connect()
            for n, (hours, values) in enumerate(series):
                rc = dev.send_readings([{"time": _iso(hours), "type": k, "value": v}
                                        for k, v in values.items()], message_id=f"m{n}")
                assert not rc.is_failure
            dev.close()
        expected = sum(len(v) for _, series in READINGS.values() for _, v in series)
        ids_ = list(patients.values())
        with db.connect(services_up, autocommit=True) as conn:
            wait_for(lambda: conn.execute(
                "SELECT (SELECT count(*) FROM observations WHERE patient_id = ANY(%s)),"
                " (SELECT count(*) FROM score_queue WHERE patient_id = ANY(%s))",
                (ids_, ids_)).fetchone() == (expected, 0), timeout=60,
                what="every reading stored and scored")
        yield patients, ids
    finally:
        for p in procs:
            if p.running:
                p.terminate()
            print(f"--- vward {' '.join(p.args)} ---\n{p.output()[-4000:]}")


def _alerts(conn, patient_id: str) -> dict[str, tuple[str, str]]:
    rows = conn.execute("SELECT kind, severity, reason FROM alerts WHERE patient_id = %s"
                        " AND state <> 'resolved'", (patient_id,)).fetchall()
    return {k: (s, r) for k, s, r in rows}


def _wait_kinds(conn, patient_id: str, kinds: set[str]) -> dict[str, tuple[str, str]]:
    return wait_for(lambda: kinds <= set(_alerts(conn, patient_id))
                    and _alerts(conn, patient_id), timeout=30,
                    what=f"{sorted(kinds)} alerts of {patient_id}")


def test_the_wards_run_their_protocols(wards, conn):
    _, ids = wards
    rows = dict(conn.execute("SELECT ward_id, protocol FROM wards WHERE ward_id = ANY(%s)",
                             (list(ids.values()),)).fetchall())
    assert rows == {ids["covid"]: "covid-oximetry", ids["hf"]: "heart-failure",
                    ids["news2"]: "news2"}
    assert conn.execute("SELECT beds FROM ward_capacity WHERE ward_id = %s",
                        (ids["covid"],)).fetchone() == (8,)


def test_a_covid_ward_alerts_by_the_oximetry_levels(wards, conn):
    patients, _ = wards
    red = _wait_kinds(conn, patients["covid-red"], {"spo2_level", "news2"})
    assert red["spo2_level"][0] == "emergency" and "999" in red["spo2_level"][1]
    # NEWS2 applies too: SpO2 92 scores 2, a lower bound while the set is incomplete.
    assert red["news2"][0] == "low"
    # 95 % is green, whatever the 93 before it: no SpO2 alert, or (when the 93 came in a
    # batch of its own) one that is clearing (NEWS2 scores 95 as 1).
    assert wait_for(lambda: conn.execute(
        "SELECT count(*) FROM alerts WHERE patient_id = %s AND kind = 'spo2_level'"
        " AND state <> 'resolved' AND clear_since IS NULL",
        (patients["covid-green"],)).fetchone() == (0,), timeout=30, what="green")


def test_a_heart_failure_ward_alerts_on_weight_gain_and_still_on_news2(wards, conn):
    patients, _ = wards
    gain = _wait_kinds(conn, patients["hf-gain"], {"weight_gain"})
    assert gain["weight_gain"][0] == "urgent"
    assert "+1.1 kg" in gain["weight_gain"][1] and "+2.3 kg" in gain["weight_gain"][1]
    # +1.0 kg in 2 days: no weight alert, but its complete set scores 5 (medium).
    steady = _wait_kinds(conn, patients["hf-steady"], {"news2"})
    assert steady["news2"][0] == "urgent" and "weight_gain" not in steady


def test_a_news2_ward_has_no_protocol_alerts(wards, conn):
    patients, _ = wards
    assert _wait_kinds(conn, patients["news2-medium"], {"news2"})["news2"][0] == "urgent"
    low = _wait_kinds(conn, patients["news2-low-spo2"], {"news2"})
    assert low["news2"][0] == "low" and "spo2_level" not in low


def test_the_simulated_protocol_wards_alert_by_their_courses(wards, services_up, conn, tmp_path):
    """`vward simulate-protocol` on the two protocol wards (the engine above watches
    them): days of backlog sent at once, a desaturating COVID patient and a heart-failure
    patient gaining weight alert by their protocols, the stable ones do not."""
    _, ids = wards
    env = service_env(services_up)
    runs = [Process(["simulate-protocol", "--protocol", protocol, "--ward", ids[role],
                     "--patients", "2", *extra, "--speed", "1000000", "--duration", "3",
                     "--seed", "5"], env,
                    tmp_path / f"sim-{role}.log").start()
            for role, protocol, extra in (
                ("covid", "covid-oximetry", ["--hours-back", "24", "--every", "7200",
                                             "--onset-hours", "6"]),
                ("hf", "heart-failure", ["--hours-back", "120"]))]
    for run in runs:
        assert run.proc.wait(60) == 0, run.output()
    desaturating, stable = f"{ids['covid']}-p1", f"{ids['covid']}-p2"
    assert "(desaturating, covid-oximetry)" in runs[0].output()
    assert _wait_kinds(conn, desaturating, {"spo2_level"})["spo2_level"][0] == "emergency"
    gaining = _wait_kinds(conn, f"{ids['hf']}-p1", {"weight_gain"})
    assert gaining["weight_gain"][0] == "urgent"
    assert "spo2_level" not in _alerts(conn, stable)
    assert "weight_gain" not in _alerts(conn, f"{ids['hf']}-p2")
