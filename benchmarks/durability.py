"""`vward bench durability`: is every reading the broker acknowledged stored?

Devices publish over MQTT (QoS 1, each message one reading with a key of its own),
faults are injected mid-stream, and at the end every reading whose PUBACK a device
received is looked for in `observations`:

- ``broker``: the broker (one node) is SIGKILLed with a backlog queued and no worker
  consuming, then restarted with `vward up`; a worker then drains the backlog;
- ``worker``: two workers consume; one is SIGKILLed mid-stream and left dead;
- ``leader``: three nodes; the node leading the readings' quorum queue is SIGKILLed
  mid-stream (devices on it reconnect to another node), and restarted at the end.

A device whose connection dies resends what it had not seen acknowledged (the
ward's unique reading key makes that harmless).  Printed per scenario: readings
acknowledged, stored, lost (acknowledged and not stored: must be 0) and
duplicated (messages ingest received more than once and stored once).

The same scenarios, smaller, are tests (tests/ingest/test_durability.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.realtime import Process
from ingest import mqtt_session
from ward import broker, db, devices, mosquitto, rabbitmq, scratch, services
from ward import rabbitmq_config as cfg
from ward.broker_names import RABBITMQ, READINGS_QUEUE, mqtt_protocol
from ward.settings import Settings
from ward.topics import readings_topic

_WINDOW = 50  # [messages] a device has in flight at most
# Readings are dated from a few hours back: within the backlog ingest accepts.
_T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)


@dataclass
class Device:
    """One simulated device: what it sent, what the broker acknowledged."""

    device_id: str
    password: str
    addresses: list[tuple[str, int]]
    settings: Settings
    count: int
    acked: set[int] = field(default_factory=set)
    sent: int = 0
    reconnects: int = 0
    error: str = ""

    def payload(self, seq: int) -> bytes:
        t = _T0 + timedelta(milliseconds=seq)
        return json.dumps({"id": f"{self.device_id}-{seq}", "readings": [
            {"time": t.isoformat().replace("+00:00", "Z"), "type": "heart_rate",
             "value": 60 + seq % 40}]}).encode()

    def run(self, stop: threading.Event, gate: Callable[[int], None]) -> None:
        """Publish ``count`` messages; after a lost connection, connect to the next address
        and resend what was not acknowledged.  ``gate(seq)`` may pause the device."""
        seq, attempt = 0, 0
        while seq < self.count or len(self.acked) < self.count:
            if stop.is_set():
                return
            client, pending = self._connect(attempt)
            attempt += 1
            if client is None:
                time.sleep(0.2)
                continue
            try:
                # First what the last connection left unacknowledged, then the rest.
                backlog = [s for s in range(seq) if s not in self.acked]
                for s in backlog + list(range(seq, self.count)):
                    gate(s)
                    while len(pending) >= _WINDOW and client.is_connected():
                        time.sleep(0.001)
                    if not client.is_connected() or stop.is_set():
                        break
                    info = client.publish(self._topic, self.payload(s), qos=1)
                    pending[info.mid] = s
                    self.sent += 1
                    seq = max(seq, s + 1)
                deadline = time.monotonic() + 30
                while pending and client.is_connected() and time.monotonic() < deadline:
                    time.sleep(0.01)
            finally:
                client.disconnect()
                client.loop_stop()
            if not pending and seq >= self.count:
                return
            self.reconnects += 1

    @property
    def _topic(self) -> str:
        return readings_topic(self.device_id)

    def _connect(self, attempt: int) -> tuple[mqtt.Client | None, dict[int, int]]:
        host, port = self.addresses[attempt % len(self.addresses)]
        pending: dict[int, int] = {}
        # A device's client id is its device id: the broker refuses any other.
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device_id,
                             protocol=mqtt_protocol(self.settings))
        client.username_pw_set(self.device_id, self.password)
        client.max_inflight_messages_set(_WINDOW)

        def on_publish(c, userdata, mid, reason_code, properties) -> None:
            seq = pending.pop(mid, None)
            failed = getattr(reason_code, "is_failure", False)
            if seq is not None and not failed:
                self.acked.add(seq)

        client.on_publish = on_publish
        try:
            client.connect(host, port, keepalive=10)
        except OSError as exc:
            self.error = str(exc)
            return None, pending
        client.loop_start()
        deadline = time.monotonic() + 5
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not client.is_connected():
            client.loop_stop()
            return None, pending
        return client, pending


@dataclass(frozen=True, slots=True)
class Result:
    scenario: str
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    seconds: float
    log: str = field(default="", repr=False)  # the workers' last words, for a failure

    def line(self) -> str:
        return (f"  {self.scenario:<8} acknowledged {self.acknowledged:>7,}  stored"
                f" {self.stored:>7,}  lost {self.lost:>5,}  duplicated {self.duplicated:>5,}"
                f"  ({self.seconds:.0f} s)")


class Worker(Process):
    """A real `vward ingest` process under a client id of its own."""

    grace_s = 20.0

    def __init__(self, settings: Settings, name: str) -> None:
        env = {**settings.as_env(), "VWARD_INGEST_CLIENT_ID": f"ingest@vward-{name}",
               "PATH": "/usr/bin:/bin"}
        super().__init__(["ingest"], env, settings.home / "logs" / f"durability-{name}.log")

    def duplicates(self) -> int:
        counts = re.findall(r"duplicates (\d+)", self.output())
        return int(counts[-1]) if counts else 0

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def register(settings: Settings, n: int, prefix: str) -> list[tuple[str, str]]:
    """n devices, each for a patient of its own, registered as `vward device add` does."""
    ids = [(f"{prefix}-d{i:03d}", f"{prefix}-p{i:03d}") for i in range(n)]
    with db.connect(settings) as conn:
        passwords = devices.register_devices(
            conn, [devices.NewDevice(d, p, f"{prefix}-ward") for d, p in ids],
            valid_from=_T0 - timedelta(days=1))
        broker.sync_users(settings, conn)
    return [(d, passwords[d]) for d, _ in ids]


def stored(settings: Settings, fleet: list[Device]) -> dict[str, set[int]]:
    """Per device, the sequence numbers of its readings in `observations`."""
    with db.connect(settings) as conn:
        rows = conn.execute(
            "SELECT device_id, (extract(epoch FROM time - %s) * 1000)::bigint FROM observations"
            " WHERE device_id = ANY(%s)", (_T0, [d.device_id for d in fleet])).fetchall()
    out: dict[str, set[int]] = {d.device_id: set() for d in fleet}
    for device_id, ms in rows:
        out[device_id].add(int(ms))
    return out


def wait_stored(settings: Settings, fleet: list[Device], timeout: float) -> dict[str, set[int]]:
    """Until every acknowledged reading is stored, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        found = stored(settings, fleet)
        if all(d.acked <= found[d.device_id] for d in fleet) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def mqtt_addresses(settings: Settings) -> list[tuple[str, int]]:
    if settings.broker != RABBITMQ:
        return [(settings.mqtt_host, settings.mqtt_port)]
    return [(settings.mqtt_host, n.mqtt_port) for n in cfg.nodes(settings)]


@contextmanager
def publishing(settings: Settings, credentials: list[tuple[str, str]], per_device: int,
               gate: Callable[[int], None] = lambda seq: None) -> Iterator[list[Device]]:
    """Devices publishing in threads of their own while the body runs; joined after."""
    addresses = mqtt_addresses(settings)
    fleet = [Device(d, pw, addresses[i % len(addresses):] + addresses[:i % len(addresses)],
                    settings, per_device) for i, (d, pw) in enumerate(credentials)]
    stop = threading.Event()
    threads = [threading.Thread(target=d.run, args=(stop, gate), daemon=True) for d in fleet]
    for t in threads:
        t.start()
    try:
        yield fleet
        for t in threads:
            t.join(180)
    finally:
        stop.set()


def _result(name: str, fleet: list[Device], found: dict[str, set[int]], workers: list[Worker],
            started: float) -> Result:
    acked = sum(len(d.acked) for d in fleet)
    lost = sum(len(d.acked - found[d.device_id]) for d in fleet)
    stored_n = sum(len(found[d.device_id] & set(range(d.count))) for d in fleet)
    return Result(name, acked, stored_n, lost, sum(w.duplicates() for w in workers),
                  time.monotonic() - started,
                  "\n".join(w.output()[-2000:] for w in workers))


def broker_kill(settings: Settings, n_devices: int, per_device: int) -> Result:
    """The broker SIGKILLed with a backlog and no consumer, restarted with `vward up`."""
    creds = register(settings, n_devices, "dur-b")
    started = time.monotonic()
    killed = threading.Event()

    def gate(seq: int) -> None:  # half the stream before the kill, the rest after
        if seq >= per_device // 2:
            killed.wait(120)

    with publishing(settings, creds, per_device, gate) as fleet:
        _wait(lambda: all(len(d.acked) >= per_device // 2 for d in fleet), 120, "half sent")
        _kill_broker(settings)
        time.sleep(1)
        services.up(settings, ingest_session=mqtt_session.ensure)
        killed.set()
    worker = Worker(settings, "b1")
    try:
        found = wait_stored(settings, fleet, 120)
    finally:
        worker.stop()
    return _result("broker", fleet, found, [worker], started)


def worker_kill(settings: Settings, n_devices: int, per_device: int) -> Result:
    """Two workers; one SIGKILLed mid-stream and left dead."""
    creds = register(settings, n_devices, "dur-w")
    started = time.monotonic()
    workers = [Worker(settings, "w1"), Worker(settings, "w2")]
    try:
        for w in workers:
            _wait(lambda w=w: "connected" in w.output(), 60, "a worker connected")
        with publishing(settings, creds, per_device) as fleet:
            _wait(lambda: sum(len(d.acked) for d in fleet) >= 0.3 * n_devices * per_device,
                  120, "30 % sent")
            workers[0].kill()
        found = wait_stored(settings, fleet, 60)
    finally:
        for w in workers:
            w.stop()
    return _result("worker", fleet, found, workers, started)


def leader_kill(settings: Settings, n_devices: int, per_device: int) -> Result:
    """Three nodes; the readings queue's leader SIGKILLed mid-stream, restarted at the end."""
    creds = register(settings, n_devices, "dur-l")
    started = time.monotonic()
    worker = Worker(settings, "l1")
    try:
        _wait(lambda: "connected" in worker.output(), 60, "the worker connected")
        with publishing(settings, creds, per_device) as fleet:
            _wait(lambda: sum(len(d.acked) for d in fleet) >= 0.3 * n_devices * per_device,
                  120, "30 % sent")
            leader = queue_leader(settings)
            pid = rabbitmq.node_pid(leader)
            if pid:
                os.kill(pid, signal.SIGKILL)
        found = wait_stored(settings, fleet, 120)
        services.up(settings, ingest_session=mqtt_session.ensure)
    finally:
        worker.stop()
    return _result("leader", fleet, found, [worker], started)


def _kill_broker(settings: Settings) -> None:
    """SIGKILL every broker process `vward up` runs (RabbitMQ's nodes, or Mosquitto)."""
    if settings.broker == RABBITMQ:
        pids = [rabbitmq.node_pid(n) for n in rabbitmq.running(settings)]
    else:
        pids = [mosquitto.pid(settings)]
    for pid in pids:
        if pid:
            os.kill(pid, signal.SIGKILL)


def queue_leader(settings: Settings) -> cfg.Node:
    """The node leading the readings' quorum queue (asked of any node that answers)."""
    from ward import rabbitmq_admin

    for n in cfg.nodes(settings):
        try:
            with rabbitmq_admin.client(settings, n.index) as api:
                leader = rabbitmq_admin.queues(api)[READINGS_QUEUE].get("leader")
        except Exception:  # a node that does not answer: ask the next
            continue
        for m in cfg.nodes(settings):
            if m.name == leader:
                return m
    raise RuntimeError("no node says which node leads the readings queue")


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


SCENARIOS: dict[str, tuple[Callable[[Settings, int, int], Result], int]] = {
    "broker": (broker_kill, 1),
    "worker": (worker_kill, 1),
    "leader": (leader_kill, 3),
}


def run(quick: bool, which: list[str] | None = None) -> list[Result]:
    n_devices, per_device = (10, 300) if quick else (20, 1000)
    results = []
    for name in which or list(SCENARIOS):
        scenario, nodes = SCENARIOS[name]
        with scratch.running(f"vward-bench-durability-{name}-", broker_nodes=nodes,
                             ingest_session=mqtt_session.ensure) as s:
            results.append(scenario(s, n_devices, per_device))
            print(results[-1].line(), flush=True)
    return results


def main(args, settings: Settings) -> int:
    quick = getattr(args, "quick", False)
    print(f"Durability: every acknowledged reading stored?"
          f" ({'10 devices x 300' if quick else '20 devices x 1,000'} readings a scenario,"
          f" broker {settings.broker})", flush=True)
    results = run(quick)
    return 0 if all(r.lost == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(None, Settings()))
