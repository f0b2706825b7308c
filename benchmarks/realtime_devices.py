"""The devices of `vward bench realtime`: every patient's device its own MQTT
connection with its own credentials (the simulator's machinery:
simulators.connections, one selectors loop in this thread), each publishing
one full NEWS2 set a second in one message, QoS 1, spread evenly over the
second, stamped with its publish time (a reading's time is when it left the
device, so a stored score's `scored_at` minus that time is the whole pipeline)."""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from benchmarks import realtime_vitals as vitals
from simulators import messages as m
from simulators.connections import POLL_S, Connections
from simulators.plan import DeviceInfo
from ward.broker_names import mqtt_protocol
from ward.settings import Settings

_SEND_BUDGET = 500  # sends between two looks at the sockets


@dataclass
class Published:
    """What a load's devices published: each set's (patient, time), the time
    being its publish time, and how late against schedule each went [s]."""

    sets: dict[tuple[str, datetime], float] = field(default_factory=dict)  # -> epoch s
    lag_s: list[float] = field(default_factory=list)
    acked: int = 0
    refused: int = 0
    connected: int = 0
    connect_s: float = 0.0
    cpu_share: float = 0.0  # of one core, the devices' loop while publishing


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


def publish(settings: Settings, devices: Sequence[DeviceInfo], passwords: dict[str, str], *,
            seconds: float, deteriorating: Sequence[int], seed: int = 0) -> Published:
    """Connect the devices, then publish a set per device per second for `seconds`
    (device i of n at i/n into each second), then wait for the broker's acks and
    disconnect.  `deteriorating` : indices into devices whose patients worsen."""
    n = len(devices)
    wills = [m.Outgoing(m.status_topic(d.device_id), m.WILL_PAYLOAD, m.QOS, True, d.device_id,
                        "will", 0.0) for d in devices]
    net = Connections(devices, passwords, wills, host=settings.mqtt_host,
                      port=settings.mqtt_port, protocol=mqtt_protocol(settings))
    out = Published()
    out.connect_s = net.connect_all(stopped=lambda: False, tick=lambda: None)
    out.connected = net.connected
    rng = np.random.default_rng(seed)
    base = vitals.baselines(n, rng)
    worse = np.zeros(n, dtype=bool)
    worse[list(deteriorating)] = True
    topics = [m.readings_topic(d.device_id) for d in devices]
    total = round(seconds) * n
    gc.collect()
    gc.freeze()  # keep the paho clients out of full collections while sending
    try:
        origin, cpu0 = time.monotonic(), time.process_time()
        j, values = 0, base
        while j < total:
            now = time.monotonic() - origin
            budget = _SEND_BUDGET
            while j < total and j / n <= now and budget:
                second, i = divmod(j, n)
                if i == 0:
                    values = vitals.sets(base, rng, worse * vitals.climb(second, seconds))
                sent_at = datetime.now(UTC)
                payload = m.encode_readings(m.message_id(devices[i].device_id, second),
                                            _iso(sent_at), values[i].tolist(),
                                            vitals.SENT_UNITS)
                net.send(m.Outgoing(topics[i], payload, m.QOS, False, devices[i].device_id,
                                    "readings", float(second)))
                out.sets[(devices[i].patient_id, sent_at)] = sent_at.timestamp()
                out.lag_s.append(time.monotonic() - origin - j / n)
                j += 1
                budget -= 1
            wait = 0.0 if not budget else min(POLL_S, max(0.0, j / n - (time.monotonic() - origin)))
            net.pump(wait)
            net.retry_due()
            net.misc(wait)
        out.cpu_share = (time.process_time() - cpu0) / max(time.monotonic() - origin, 1e-9)
    finally:
        gc.unfreeze()
    net.close(abrupt=lambda: False, drain_s=30.0)
    out.acked, out.refused = net.acked, net.refused
    return out
