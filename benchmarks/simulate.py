"""`vward bench simulate`: can one simulator process keep 10,000 devices
(1,000 with --quick) on schedule, each with its own MQTT connection and one
reading set every 10 simulated seconds, at real-time speed?

Runs on services of its own (PostgreSQL+TimescaleDB and the configured
broker in a temporary directory), registers the devices as `vward simulate` does, and
counts what arrives at a subscriber in another process."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest import mqtt_session
from simulators import scenario
from simulators.enrol import enrol
from simulators.pacing import RunReport, format_progress
from simulators.plan import Simulation
from simulators.runner import Runner
from ward import broker_names, broker_users, mosquitto, scratch
from ward.broker_names import mqtt_protocol
from ward.settings import Settings
from ward.topics import DEVICE_TOPICS

INTERVAL_S = 10.0  # one reading set per device every 10 simulated seconds
WARM_UP_S = 10.0  # the first interval also carries every device's first status message
_CLOCK_TICK = os.sysconf("SC_CLK_TCK")



def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process so far [s] (Linux /proc)."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICK


def _count_arrivals(host, port, protocol, username, password, ready, stop, result) -> None:
    """In a process of its own: count readings and status messages arriving
    at a subscriber of every device's topics, until `stop` and a quiet second."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    counts = {"readings": 0, "status": 0}
    last = [time.monotonic()]

    def on_message(client, userdata, msg) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        counts[kind] = counts.get(kind, 0) + 1
        last[0] = time.monotonic()

    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"{username}-bench-counter", protocol=protocol
    )
    c.username_pw_set(username, password)
    c.on_message = on_message
    c.on_subscribe = lambda *args: ready.set()
    c.connect(host, port)
    c.subscribe([(topic, 1) for topic in DEVICE_TOPICS])  # readings and status
    c.loop_start()
    stop.wait()
    while time.monotonic() - last[0] < 1.0:
        time.sleep(0.1)
    c.disconnect()
    c.loop_stop()
    result.put(counts)


def run(quick: bool = False) -> dict:
    n_devices = 1_000 if quick else 10_000
    duration = 30.0 if quick else 60.0
    ctx = mp.get_context("spawn")
    with scratch.running("vward-bench-sim-", ingest_session=mqtt_session.ensure) as settings:
        load = scenario.load("load")
        load = replace(load, interval_s={**load.interval_s, "patch": INTERVAL_S})
        now = datetime.now(UTC).replace(microsecond=0)
        sim = Simulation(load, n_patients=n_devices, seed=1, speed=1.0, start=now)
        print(f"registering {len(sim.devices):,} devices ...", flush=True)
        t0 = time.perf_counter()
        passwords = enrol(settings, sim, valid_from=now - timedelta(days=1))
        register_s = time.perf_counter() - t0
        ready, stop, result = ctx.Event(), ctx.Event(), ctx.Queue()
        # Ingest's user reads every device's readings and status (a copy, not a share).
        ingest = broker_users.credentials(settings, broker_names.INGEST)
        counter = ctx.Process(
            target=_count_arrivals,
            args=(
                settings.mqtt_host,
                settings.mqtt_port,
                mqtt_protocol(settings),
                ingest.username,
                ingest.password,
                ready,
                stop,
                result,
            ),
            daemon=True,
        )
        counter.start()
        if not ready.wait(30):
            raise RuntimeError("the counting subscriber did not subscribe")
        runner = Runner(
            sim,
            passwords,
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            protocol=mqtt_protocol(settings),
            progress=lambda p: print("  " + format_progress(p), flush=True),
            lag_from_s=WARM_UP_S,
        )
        broker = mosquitto.pid(settings)
        print(
            f"connecting {len(sim.devices):,} devices, then {duration:.0f} s at speed 1 ...",
            flush=True,
        )
        broker_cpu0, wall0 = _cpu_seconds(broker), time.monotonic()
        report = runner.run(duration_s=duration)
        broker_cpu = (_cpu_seconds(broker) - broker_cpu0) / (time.monotonic() - wall0)
        stop.set()
        arrived = result.get(timeout=60)
        counter.join(10)
        return {
            "report": report,
            "register_s": register_s,
            "arrived": arrived,
            "broker_cpu": broker_cpu,
            "duration": duration,
        }


def format_report(r: dict) -> str:
    rep: RunReport = r["report"]
    readings, status = rep.sent["readings"], rep.sent["status"]
    required = rep.devices / INTERVAL_S
    achieved = readings / rep.run_s
    arrived = r["arrived"]
    sent_all = readings + status
    got_all = arrived.get("readings", 0) + arrived.get("status", 0)
    kept_up = rep.lag_p99_s < 1.0 and rep.stopped_by == "duration"
    return "\n".join(
        [
            f"simulator benchmark: {rep.devices:,} devices, each its own MQTT connection (QoS 1),"
            f" one reading set every {INTERVAL_S:g} s, speed 1, {r['duration']:.0f} s,"
            f" {os.cpu_count()} CPUs",
            f"  register devices (database + broker)  {r['register_s']:>9.1f} s",
            f"  connect, 64 at a time               {rep.connect_s:>9.1f} s",
            f"  readings messages sent                {readings:>9,}  = {achieved:,.0f}/s"
            f" (required {required:,.0f}/s)",
            f"  status messages sent                  {status:>9,}",
            f"  acked by the broker                   {rep.acked:>9,}"
            + (f"  refused {rep.refused:,}" if rep.refused else ""),
            f"  arrived at a subscriber               {got_all:>9,}  ({got_all / sent_all:.1%})",
            f"  lag behind schedule (after {WARM_UP_S:g} s)    p50 {rep.lag_p50_s * 1000:.1f} ms,"
            f" p99 {rep.lag_p99_s * 1000:.1f} ms, max {rep.lag_max_s * 1000:.0f} ms",
            f"  simulator CPU (one thread)            {rep.cpu_s / rep.run_s:>9.0%} of a core",
            f"  broker CPU (connect and run)          {r['broker_cpu']:>9.0%} of a core",
            f"  kept up: {'yes' if kept_up else 'NO'} (p99 lag under 1 s)",
        ]
    )


def main(args, settings: Settings) -> int:
    print(format_report(run(quick=args.quick)))
    return 0
