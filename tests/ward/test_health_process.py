"""Alerting that stops is said to have stopped: real `vward alerts`, `vward
ingest` and `vward web` processes, the real broker, a database of the test's
own (so that no engine of another test counts), `kill -9`, and
`vward status` as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import paho.mqtt.client as mqtt
import pytest
from conftest import ROOT, service_env, unique, wait_for
from own_database import env_of, own_database
from paho.mqtt.enums import CallbackAPIVersion

from ward import db, heartbeats, scratch
from ward.broker_names import mqtt_protocol

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture
def mine(services_up):
    with own_database(services_up, "vward_e2e_health") as s:
        yield s


def status(settings, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", "status"], cwd=ROOT, text=True,
                          env=service_env(settings, **env), capture_output=True, timeout=60)


def _health(url: str) -> tuple[int, dict] | None:
    try:
        r = httpx.get(f"{url}/api/v1/health", timeout=5)
    except httpx.HTTPError:
        return None
    return r.status_code, r.json()


def _part(out: str, part: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"{part} ")]


def test_health_says_alerting_stopped_when_the_engine_dies(services_up, mine, spawn):
    env = env_of(mine)
    port = scratch.free_port()
    web = spawn("web", VWARD_WEB_PORT=str(port), VWARD_WEB_HOST="127.0.0.1", **env)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: web.running and _health(url), timeout=30, what="vward web")

    # No engine has ever run: alerting is not running, and both say so.
    code, body = _health(url)
    assert code == 503 and "no alerts engine has ever run" in body["message"]
    before = status(services_up, **env)
    assert before.returncode == 1, before.stdout + before.stderr
    assert _part(before.stdout, "alerting")[0].split()[1] == "STOPPED"

    engine_id = unique("engine")
    engine = spawn("alerts", VWARD_ALERTS_TICK_SECONDS="0.5", VWARD_ALERTS_ENGINE_ID=engine_id,
                   **env)
    # 200 from its start (three intervals to tick); then its first completed tick.
    code, body = wait_for(
        lambda: (h := _health(url)) and h[0] == 200 and h[1]["alerting"]["engines_ticking"] and h,
        timeout=30, what="200 once the engine ticks")
    assert body["status"] == "ok" and body["alerting"]["engines_ticking"] == 1
    ticked_by = datetime.fromisoformat(body["alerting"]["last_tick_at"])
    running = status(services_up, **env)
    assert running.returncode == 0, running.stdout + running.stderr
    assert _part(running.stdout, "alerting")[0].split()[1] == "OK"
    [line] = _part(running.stdout, "engine")
    assert line.split()[1] == "OK" and engine_id in line and "ticking" in line

    engine.proc.kill()  # kill -9: no goodbye, no stopped_at
    engine.proc.wait(10)
    killed_at, killed = datetime.now(UTC), time.monotonic()
    code, body = wait_for(lambda: (h := _health(url)) and h[0] == 503 and h, timeout=10,
                          interval=0.1, what="503 after the engine died")
    assert time.monotonic() - killed < 5  # three intervals of 0.5 s, and a little
    assert body["status"] == "alerting_stopped"
    assert body["message"].startswith("alerting stopped since ")
    since = datetime.fromisoformat(body["alerting"]["since"])
    assert ticked_by <= since <= killed_at  # its last tick: after the last we saw, before the kill

    after = status(services_up, **env)
    assert after.returncode == 1, after.stdout + after.stderr
    [alerting] = _part(after.stdout, "alerting")
    assert alerting.split()[1] == "STOPPED" and "alerting stopped since" in alerting
    [line] = _part(after.stdout, "engine")
    assert line.split()[1] == "STOPPED" and engine_id in line
    assert after.stdout.rstrip().endswith("ward: ALERTING STOPPED")


def test_status_exits_1_when_the_database_is_unreachable(services_up):
    out = status(services_up, VWARD_PG_PORT=str(scratch.free_port()), VWARD_DATABASE_URL="")
    assert out.returncode == 1, out.stdout + out.stderr
    [line] = _part(out.stdout, "database")
    assert line.split()[1] == "UNREACHABLE"
    assert out.stdout.rstrip().endswith("ward: DATABASE UNREACHABLE")


def _publish(settings, device, n: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device.device_id,
                         protocol=mqtt_protocol(settings))
    client.username_pw_set(device.device_id, device.password)
    topic = f"ward/v1/devices/{device.device_id}/readings"
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    try:
        for i in range(n):
            client.publish(topic, f'{{"id": "m{i}", "readings": []}}', qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_an_ingest_worker_reports_its_activity_and_a_retired_one_is_forgotten(
        services_up, mine, spawn, register):
    env = env_of(mine)
    worker_id = unique("ingest@vward")
    worker = spawn("ingest", VWARD_INGEST_CLIENT_ID=worker_id,
                   VWARD_INGEST_HEARTBEAT_SECONDS="0.3", **env)
    wait_for(lambda: "connected to" in worker.output(), what="ingest connected")

    def row():
        with db.connect(mine, autocommit=True) as conn:
            return next((r for r in heartbeats.read(conn)[1] if r.instance_id == worker_id),
                        None)

    wait_for(lambda: (r := row()) and r.broker_connected, what="the worker's heartbeat")
    # The shared subscription spreads messages over its members, sessions offline
    # included: enough that some reach this worker (refused: a device its own
    # database does not know).
    _publish(services_up, register(), 12)
    beat = wait_for(lambda: (r := row()) and r.last_batch_at and r.messages and r, timeout=20,
                    what="a batch in the heartbeat")
    assert beat.messages >= 1 and beat.last_batch_at <= beat.beat_at
    out = status(services_up, **env)
    [line] = _part(out.stdout, "ingest")
    assert line.split()[1] == "OK" and worker_id in line and "broker connected" in line

    assert worker.terminate() == 0
    assert row().stopped_at is not None  # stopped cleanly, and said so
    [line] = _part(status(services_up, **env).stdout, "ingest")
    assert line.split()[1] == "STOPPED" and "stopped cleanly" in line

    retire = spawn("ingest", "--retire", VWARD_INGEST_CLIENT_ID=worker_id, **env)
    assert retire.proc.wait(60) == 0, retire.output()
    assert row() is None  # retired for good: nothing left to call stopped
