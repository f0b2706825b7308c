"""`vward bench realtime`: what a patient's device experiences, through the
whole pipeline (issue 12).

On services of its own (PostgreSQL+TimescaleDB and the broker: RabbitMQ, or
Mosquitto with `--broker mqtt`), a ward with days of history (every patient a
set every 15 min, scored by `vward rescore`), a real `vward ingest` and a real
`vward alerts`; then, for each load, that many simulated devices (each its own
MQTT connection and credentials) publish one full NEWS2 set a second, a few
patients deteriorating so that alerts flow.  Per set it measures publish →
stored score (`scores.scored_at` minus the publish time, the set's own time)
and publish → alert event received by an MQTT subscriber of the ward's alerts
topic (for the `opened` and `escalated` events whose condition is a published
set); prints per load p50, p99, max and the sustained rate, the largest load
held with p99 under 600 ms, and today's figures as ratios of the last recorded
run (benchmarks/results.jsonl; `--record` appends this one).

Figures are printed, never asserted: they vary with the machine and what else
runs on it.  The pure parts are realtime_figures.py and results.py."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from benchmarks import realtime_cpu as cpu
from benchmarks import realtime_figures as figs
from benchmarks import realtime_history as history
from benchmarks import realtime_vitals as vitals
from benchmarks import results
from benchmarks.realtime_devices import Published, publish
from ingest import mqtt_session
from simulators.plan import DeviceInfo
from ward import broker_names, broker_users, scratch
from ward.errors import ConfigError
from ward.settings import Settings

LOADS = (100, 300, 1000, 3000)
SECONDS = 20.0
HISTORY_DAYS = 3.0
_SETTLE_S = 2.0  # after the last score, for the outbox's last events [s]
# The figures compared with the last recorded run, and how they are shown.
COMPARED = {"score_p50_ms": "p50", "score_p99_ms": "p99", "score_max_ms": "max",
            "rate": "rate", "alert_p99_ms": "alert p99"}


@dataclass(frozen=True, slots=True)
class Plan:
    loads: tuple[int, ...] = LOADS
    seconds: float = SECONDS
    history_days: float = HISTORY_DAYS
    ward_id: str = "realtime"
    prefix: str = "rt"  # patient and device ids: rt-p00042 wears rt-d00042


QUICK = Plan(loads=(100, 300), seconds=10.0, history_days=1.0)


# --- the ward's processes ---------------------------------------------------------------


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """What a `vward` process of these services needs in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VWARD_")}
    return {**env, **settings.as_env(), "VWARD_SECRET_KEY": settings.secret_key, **extra}


class Process:
    """A real `vward ...` process, its output in a log file (also the
    durability bench's ingest workers)."""

    grace_s = 30.0  # [s] from SIGTERM to SIGKILL in stop()

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.log = args, log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ward.cli", *args], env=env,
                                         stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, *texts: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not all(t in (out := self.output()) for t in texts):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`vward {' '.join(self.args)}` did not start:\n{out[-3000:]}")
            time.sleep(0.1)

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"`vward {' '.join(self.args)}` exited ({self.proc.returncode}):"
                               f"\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# --- the alert subscriber, in a process of its own -------------------------------------


def _subscribe(host: str, port: int, protocol: int, username: str, password: str, topic: str,
               ready, stop, events) -> None:
    """Put (received [epoch s], event, patient_id, condition_time) of every alert
    event on `topic` into `events`, until `stop`."""
    import json

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    def on_message(client, userdata, msg) -> None:
        received = time.time()
        try:
            e = json.loads(msg.payload)
            events.put((received, e.get("event"), e.get("patient_id"),
                        (e.get("detail") or {}).get("condition_time")))
        except Exception:  # a malformed event is not ours to measure
            return

    c = mqtt.Client(CallbackAPIVersion.VERSION2,
                    client_id=f"{username}-bench-realtime-{os.getpid()}", protocol=protocol)
    c.username_pw_set(username, password)
    c.on_connect = lambda client, *a: client.subscribe(topic, qos=1)
    c.on_subscribe = lambda *a: ready.set()
    c.on_message = on_message
    c.connect(host, port)
    c.loop_start()
    stop.wait()
    c.disconnect()
    c.loop_stop()


@contextmanager
def alert_subscriber(settings: Settings, ward_id: str) -> Iterator[Callable[[], list[tuple]]]:
    """A subscriber of the ward's alerts topic as the alerts user, in another
    process (its receive times wait for no GIL of ours); yields a function
    returning what arrived since it was last called."""
    from ward.domain import alerts_topic

    ctx = mp.get_context("spawn")
    ready, stop, events = ctx.Event(), ctx.Event(), ctx.Queue()
    alerts = broker_users.credentials(settings, broker_names.ALERTS)  # may read ward alerts
    p = ctx.Process(target=_subscribe, daemon=True, args=(
        settings.mqtt_host, settings.mqtt_port, int(broker_names.mqtt_protocol(settings)),
        alerts.username, alerts.password, alerts_topic(ward_id), ready, stop, events))
    p.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the alert subscriber did not subscribe within 30 s")

        def arrived() -> list[tuple]:
            out = []
            while not events.empty():
                out.append(events.get())
            return out

        yield arrived
    finally:
        stop.set()
        p.join(10)
        if p.is_alive():
            p.kill()


# --- one load ---------------------------------------------------------------------------


def _scored(settings: Settings, ids: list[str], since: datetime) -> dict[tuple[str, datetime],
                                                                         float]:
    """(patient, set time) → first `scored_at` [epoch s] of the patients' scores since."""
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT patient_id, time, extract(epoch FROM min(scored_at))::float8 FROM scores"
            " WHERE patient_id = ANY(%s) AND time >= %s GROUP BY 1, 2", (ids, since)).fetchall()
    return {(p, t): s for p, t, s in rows}


def wait_scored(settings: Settings, pub: Published, ids: list[str], since: datetime,
                processes: Sequence[Process], *, quiet_s: float = 30.0,
                timeout: float = 600.0) -> dict[tuple[str, datetime], float]:
    """Until every published set is scored, or nothing new is for `quiet_s`."""
    deadline, last_count, last_change = time.monotonic() + timeout, -1, time.monotonic()
    while True:
        for p in processes:
            p.check()
        found = _scored(settings, ids, since)
        count = sum(k in found for k in pub.sets)
        if count == len(pub.sets):
            return found
        now = time.monotonic()
        if count != last_count:
            last_count, last_change = count, now
        if now - last_change > quiet_s or now > deadline:
            return found
        time.sleep(0.5)


# --- the whole run ----------------------------------------------------------------------


def measure(settings: Settings, plan: Plan, say: Callable[[str], None] = print
            ) -> list[figs.LoadFigures]:
    """The bench on running services: history, processes, then each load."""
    ward = history.Ward(plan.ward_id, plan.prefix, max(plan.loads))
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    start = end - timedelta(days=plan.history_days)
    say(f"registering {ward.patients:,} patients' devices ...")
    passwords = history.register(settings, ward, start - timedelta(days=1))
    rows, copy_s = history.load(settings, ward, days=plan.history_days, end=end)
    say(f"history: {rows:,} observations ({plan.history_days:g} days, a set every"
        f" {history.SET_EVERY.seconds // 60} min) COPYed in {copy_s:.1f} s")
    env = service_env(settings)
    summary, rescore_s = history.rescore(env, ward, start - timedelta(minutes=1))
    say(f"history scored by vward rescore in {rescore_s:.1f} s: {summary}")
    logs = settings.home / "logs"
    tag = f"{plan.prefix}-{os.getpid()}"
    # Ingest under the services' own client id: with the MQTT v5 option `vward up`
    # made that id's session a member of the shared subscription, and a worker of
    # another id would get only its share of the readings (the rest wait queued).
    ingest = Process(["ingest"], env, logs / f"realtime-ingest-{tag}.log")
    engine = Process(["alerts"], {**env, "VWARD_ALERTS_WARDS": ward.ward_id,
                                  "VWARD_ALERTS_ENGINE_ID": f"vward-alerts-{tag}"},
                     logs / f"realtime-alerts-{tag}.log")
    out: list[figs.LoadFigures] = []
    try:
        ingest.wait_for("connected")
        engine.wait_for("catching up", "connected to the broker")
        with alert_subscriber(settings, ward.ward_id) as arrived:
            used: set[int] = set()
            for n in plan.loads:
                worse = vitals.pick_deteriorating(n, used)
                used.update(worse)
                devices = [DeviceInfo(ward.device(i), ward.patient(i), ward.ward_id, "patch")
                           for i in range(n)]
                say(f"{n:,} patients, a set each per second for {plan.seconds:g} s"
                    f" ({len(worse)} deteriorating) ...")
                pids = cpu.parts(settings, ingest.proc.pid, engine.proc.pid)
                cpu_before, cpu_t0 = cpu.sample(pids), time.monotonic()
                since = datetime.now(UTC)
                pub = publish(settings, devices, passwords, seconds=plan.seconds,
                              deteriorating=worse, seed=n)
                say(f"  {pub.connected:,} devices connected in {pub.connect_s:.1f} s;"
                    f" {len(pub.sets):,} sets published, {pub.acked:,} acked by the broker"
                    + (f", {pub.refused:,} refused" if pub.refused else "")
                    + f"; the devices' loop used {pub.cpu_share:.0%} of a core")
                ids = [d.patient_id for d in devices]
                scored = wait_scored(settings, pub, ids, since, [ingest, engine])
                busy = cpu.shares(cpu_before, cpu.sample(cpu.parts(
                    settings, ingest.proc.pid, engine.proc.pid)), time.monotonic() - cpu_t0)
                say(cpu.line(busy, pub.cpu_share))
                time.sleep(_SETTLE_S)
                out.append(figs.load_figures(n, plan.seconds, pub.sets, pub.lag_s, scored,
                                             arrived()))
                say(figs.table_line(out[-1]))
    finally:
        engine.stop()
        ingest.stop()
    return out


def report(loads: Sequence[figs.LoadFigures]) -> list[str]:
    return [figs.HEADER, *(figs.table_line(f) for f in loads), figs.verdict(loads)]


def run(plan: Plan, broker: str, *, record: bool, command: str, note: str = "") -> list[str]:
    """The bench on services of its own; the report's lines."""
    with scratch.running("vward-bench-realtime-", broker=broker,
                         ingest_session=mqtt_session.ensure) as settings:
        print(f"broker {broker}, {os.cpu_count()} CPUs; times in ms, publish → stored score"
              " and publish → alert event at an MQTT subscriber", flush=True)
        loads = measure(settings, plan, say=lambda line: print(line, flush=True))
    lines = report(loads)
    today = {str(f.patients): f.as_record() for f in loads}
    last = results.last_run(results.read(), "realtime", broker)
    lines += results.ratio_lines(today, last, COMPARED, " patients")
    if record:
        run_ = results.new_run("realtime", broker, command, today, now=datetime.now(UTC),
                               machine={"cpus": os.cpu_count()}, note=note)
        results.append(run_)
        lines.append(f"recorded in {results.RESULTS_FILE.name} ({run_.commit})")
    return lines


def plan_of(args) -> Plan:
    """The plan the command line asks for: its options, else the defaults
    (QUICK's with --quick)."""
    base = QUICK if getattr(args, "quick", False) else Plan()
    loads = tuple(getattr(args, "loads", None) or base.loads)
    seconds = getattr(args, "seconds", None)
    seconds = base.seconds if seconds is None else float(seconds)
    days = getattr(args, "history_days", None)
    days = base.history_days if days is None else float(days)
    if min(loads) < 1:
        raise ConfigError("--loads: every load needs at least 1 patient")
    if seconds < 1:
        raise ConfigError(f"--seconds {seconds:g}: a load lasts at least 1 s")
    if days <= 0:
        raise ConfigError(f"--history-days {days:g}: the ward needs some history")
    return Plan(loads, seconds, days)


def command_of(plan: Plan, broker: str) -> str:
    """The command that reproduces a run, as the results file and README name it."""
    return (f"vward bench realtime --loads {','.join(map(str, plan.loads))}"
            f" --seconds {plan.seconds:g} --history-days {plan.history_days:g} --broker {broker}")


def main(args, settings: Settings) -> int:
    plan = plan_of(args)
    broker = getattr(args, "broker", None) or settings.broker
    for line in run(plan, broker, record=getattr(args, "record", False),
                    command=command_of(plan, broker)):
        print(line)
    return 0
