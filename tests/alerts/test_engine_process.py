"""The engine and the alert commands as an operator runs them: real `vward` processes,
the real broker, the real database."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT, service_env, wait_for
from engine_fixtures import (
    HIGH,
    Subscriber,
    admit,
    alerts_of,
    base_time,
    engine,
    scores_of,
    send,
    unique,
)

from alerts.outbox import Outbox
from simulators.device_client import DeviceClient
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]


def vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], env=service_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture
def subscriber(services_up):
    made = []

    def _make(ward: str) -> Subscriber:
        made.append(Subscriber(services_up, ward))
        return made[-1]

    yield _make
    for s in made:
        s.close()


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_readings_in_score_and_alert_out_on_mqtt(services_up, register, spawn, conn,
                                                 subscriber) -> None:
    ward = unique("ward")
    reg = register(ward_id=ward)
    events = subscriber(ward)
    ingest = spawn("ingest")
    alerts = spawn("alerts", VWARD_ALERTS_WARDS=ward, VWARD_ALERTS_ENGINE_ID=unique("engine"),
                   VWARD_ALERTS_TICK_SECONDS="1")
    wait_for(lambda: "connected to" in ingest.output(), what="ingest connected")
    wait_for(lambda: "catching up" in alerts.output(), what="alerts engine connected")
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    values = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": True, "systolic_bp": 120,
              "heart_rate": 95, "consciousness": "A", "temperature": 37.5}
    with DeviceClient(host=services_up.mqtt_host, port=services_up.mqtt_port,
                      protocol=mqtt_protocol(services_up), device_id=reg.device_id,
                      password=reg.password).connect() as dev:
        rc = dev.send_readings([{"time": _iso(t), "type": k, "value": v}
                                for k, v in values.items()], message_id="e2e-1")
    assert not rc.is_failure
    wait_for(lambda: scores_of(conn, reg.patient_id), timeout=10, what="a stored score")
    assert scores_of(conn, reg.patient_id)[0][1:3] == (8, "high")
    wait_for(lambda: any(a[1] == "news2" for a in alerts_of(conn, reg.patient_id)), timeout=10,
             what="an alert")
    opened = wait_for(lambda: [e for e in events.events if e["kind"] == "news2"], timeout=10,
                      what="the event on MQTT")
    event = opened[0]
    assert event["event"] == "opened" and event["severity"] == "emergency"
    assert event["patient_id"] == reg.patient_id and event["ward_id"] == ward
    assert event["reason"].startswith("NEWS2 8 (high)")
    assert {"event_id", "alert_id", "time", "category", "state", "actor", "detail"} <= set(event)
    assert alerts.terminate() == 0  # SIGTERM: a clean stop
    assert "stopped" in alerts.output()


def test_ack_and_resolve_through_the_cli_leave_an_audit_trail(services_up, conn) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    send(conn, p, d, base_time() - timedelta(minutes=1), **HIGH)
    e = engine(services_up, ward)
    try:
        e.drain(base_time())
    finally:
        e.conn.close()
    [alert_id] = [a[0] for a in alerts_of(conn, p) if a[1] == "news2"]
    listed = vward(services_up, "alert", "list", "--ward", ward)
    assert listed.returncode == 0 and f"{alert_id:>7} {ward}" in listed.stdout
    done = vward(services_up, "alert", "ack", str(alert_id), "--by", "Nurse Ada", "--note",
                 "called patient", "--action", "GP visit today", "--changed-management", "yes")
    assert done.returncode == 0, done.stderr
    assert "acknowledged by Nurse Ada" in done.stdout
    trail = conn.execute("SELECT event, actor, detail FROM alert_events WHERE alert_id = %s"
                         " ORDER BY event_id", (alert_id,)).fetchall()
    assert trail[-1] == ("acknowledged", "Nurse Ada", {"note": "called patient", "action":
                                                       "GP visit today",
                                                       "changed_management": True,
                                                       "via": "cli"})
    assert conn.execute("SELECT ack_via FROM alerts WHERE alert_id = %s",
                        (alert_id,)).fetchone() == ("cli",)
    again = vward(services_up, "alert", "ack", str(alert_id), "--by", "Nurse Ada")
    assert again.returncode == 2
    assert again.stderr.strip().startswith(f"vward: alert {alert_id} was already acknowledged")
    assert len(again.stderr.strip().splitlines()) == 1
    unexplained = vward(services_up, "alert", "resolve", str(alert_id), "--by", "Dr Bo")
    assert unexplained.returncode == 2 and "give the reason" in unexplained.stderr
    resolved = vward(services_up, "alert", "resolve", str(alert_id), "--by", "Dr Bo", "--note",
                     "reviewed at home, oxygen titrated")
    assert resolved.returncode == 0 and conn.execute(
        "SELECT state, resolved_by FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone() == (
        "resolved", "Dr Bo")
    missing = vward(services_up, "alert", "ack", "999999999", "--by", "X")
    assert (missing.returncode, missing.stderr.strip()) == (2, "vward: no alert 999999999")


def test_patient_settings_commands(services_up, conn) -> None:
    [(p, _)] = admit(services_up, unique("ward"))
    far = vward(services_up, "patient", "scale", p, "2", "--by", "Dr Bo", "--reason",
                "type 2 respiratory failure, target 88-92 %", "--until", "2099-01-01")
    assert far.returncode == 2 and "at most 14 days" in far.stderr
    review = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%MZ")
    scale = vward(services_up, "patient", "scale", p, "2", "--by", "Dr Bo", "--reason",
                  "type 2 respiratory failure, target 88-92 %", "--until", review)
    assert scale.returncode == 0, scale.stderr
    assert "SpO2 scale 2" in scale.stdout and f"review {review[:10]}" in scale.stdout
    accept = vward(services_up, "patient", "accept", p, "heart_rate", "91", "110", "--by",
                   "Dr Bo", "--reason", "athlete on beta-agonist")
    assert accept.returncode == 0 and "heart_rate 91–110 accepted" in accept.stdout
    assert "review" in accept.stdout  # 14 days ahead unless said
    assert conn.execute("SELECT count(*) FROM patient_settings WHERE patient_id = %s",
                        (p,)).fetchone()[0] == 2
    bad = vward(services_up, "patient", "accept", p, "consciousness", "0", "1", "--by", "X",
                "--reason", "y")
    assert bad.returncode == 2 and bad.stderr.startswith("vward: an accepted range is for")
    for low, high in (("nan", "110"), ("90", "inf"), ("ninety", "110")):
        refused = vward(services_up, "patient", "accept", p, "heart_rate", low, high, "--by",
                        "Dr Bo", "--reason", "athlete")
        assert refused.returncode == 2 and "number" in refused.stderr
        assert "Traceback" not in refused.stderr
    when = vward(services_up, "rescore", "--since", "yesterday")
    assert when.returncode == 2 and "not a time" in when.stderr


def test_rescore_gives_the_engines_scores(services_up, conn) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    for k in range(6):
        send(conn, p, d, t0 - timedelta(minutes=60 - 10 * k), heart_rate=70 + 10 * k,
             temperature=None if k % 2 else 38.4)
    e = engine(services_up, ward)
    try:
        e.drain(t0)
    finally:
        e.conn.close()
    before = scores_of(conn, p)
    conn.execute("DELETE FROM scores WHERE patient_id = %s", (p,))
    done = vward(services_up, "rescore", "--patient", p, "--since", "2d")
    assert done.returncode == 0, done.stderr
    assert "rescored 1 patients" in done.stdout
    assert scores_of(conn, p) == before and len(before) == 6
    unknown = vward(services_up, "rescore", "--patient", "nobody-here")
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "vward: no patient nobody-here")


def test_outbox_publishes_each_event_once_across_restarts(services_up, conn, subscriber) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    events = subscriber(ward)
    send(conn, p, d, base_time() - timedelta(minutes=1), **HIGH)
    e = engine(services_up, ward)
    try:
        e.drain(base_time())
        for _ in range(2):  # a restart: a new client, the watermark from the database
            outbox = Outbox(services_up)
            outbox.start()
            try:
                wait_for(lambda o=outbox: o.connected, what="outbox connected")
                outbox.publish_pending(e.conn)
            finally:
                outbox.stop()
    finally:
        e.conn.close()
    stored = {r[0] for r in conn.execute(
        "SELECT event_id FROM alert_events JOIN alerts USING (alert_id) WHERE patient_id = %s",
        (p,)).fetchall()}
    wait_for(lambda: {ev["event_id"] for ev in events.events} == stored, timeout=5,
             what="every event on MQTT")
    ids = [ev["event_id"] for ev in events.events]
    assert len(ids) == len(set(ids))


def test_an_alert_event_does_not_wait_for_the_backlog(services_up, spawn, conn,
                                                      subscriber) -> None:
    """H19: under a backlog the engine scores in slices and publishes (and ticks)
    between them, so an emergency's event reaches MQTT while the queue still waits.
    Draining the whole queue first held every alert event back behind it."""
    ward = unique("ward")
    (p, d), *stable = admit(services_up, ward, 400)
    events = subscriber(ward)
    t = base_time() - timedelta(minutes=1)
    send(conn, p, d, t, **HIGH)  # queued first, so claimed first
    for q, dq in stable:
        send(conn, q, dq, t)
    spawn("alerts", VWARD_ALERTS_WARDS=ward, VWARD_ALERTS_ENGINE_ID=unique("engine"),
          VWARD_ALERTS_BATCH_PATIENTS="1")
    wait_for(lambda: [e for e in events.events if e["patient_id"] == p], timeout=60,
             interval=0.02, what="the emergency's event on MQTT")
    waiting = conn.execute(
        "SELECT count(*) FROM score_queue JOIN patients USING (patient_id) WHERE ward_id = %s",
        (ward,)).fetchone()[0]
    assert waiting > 0, "the event was published only once the whole backlog was scored"
    wait_for(lambda: conn.execute(
        "SELECT count(*) FROM score_queue JOIN patients USING (patient_id) WHERE ward_id = %s",
        (ward,)).fetchone()[0] == 0, timeout=120, what="the backlog scored")
