"""A simulated ward without the network: patients, their devices, and for each
slice of simulated time everything the runner must publish, faults applied.

    sim = Simulation(scenario.load("mixed"), seed=1, start=now)
    for out in sim.tick(0.0, 10.0): publish(out.topic, out.payload, out.qos, out.retain)

Repeatable: the same scenario, seed, start and sequence of slices give
byte-identical output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from simulators import messages as m
from simulators.devices import KIND_NAMES, KINDS, Batteries, Schedule, device_units, measure
from simulators.faults import FaultInjector, FaultStep
from simulators.physiology import Ward
from simulators.scenario import Scenario

# The design's example time: a fixed default start keeps runs repeatable.
DEFAULT_START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # ward/devices.py
_SIGNAL_DBM = (-90.0, -55.0)  # home Wi-Fi/cellular RSSI, weak to good [dBm]
_SIGNAL_SD = 2.0  # status-to-status wobble [dBm]
_STATUS_SPREAD = (0.9, 1.1)  # per-device factor on the status interval, so they drift apart
# Send order for equal times: a reconnecting device says it is online before
# its backlog; its last readings go before it drops off.
_RECONNECT, _READINGS, _WILL, _STATUS = range(4)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    patient_id: str
    ward_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class PatientInfo:
    """A simulated patient; spo2_scale is what a clinician would set (2: COPD)."""

    patient_id: str
    ward_id: str
    group: str
    course: str
    spo2_scale: int
    onset_s: float


class Simulation:
    """A ward of simulated patients and devices, planned slice by slice."""

    def __init__(
        self,
        scenario: Scenario,
        n_patients: int | None = None,
        seed: int = 0,
        speed: float | None = None,
        start: datetime | None = None,
    ) -> None:
        start = DEFAULT_START if start is None else start
        if start.tzinfo is None or seed < 0:
            raise ValueError("start must be timezone-aware and seed >= 0")
        self.scenario = scenario
        self.seed = seed
        self.speed = scenario.speed if speed is None else speed
        self.start = start.astimezone(UTC).replace(microsecond=0)
        rng_patients, rng_devices, rng_measure, rng_faults = (
            np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
        )
        self._rng_measure = rng_measure
        group = scenario.assign(n_patients)
        self.ward = self._make_ward(group, rng_patients)
        self.patients = self._patient_table(group)
        self._make_devices(group, rng_devices)
        self.faults = FaultInjector(
            scenario.faults, self._readings.interval, self._fahrenheit, rng_faults
        )
        self.batteries = Batteries(self._kind, self.faults.weak_battery, rng_devices)
        # Message ids: a per-device counter, prefixed by the start time so a
        # rerun from another start does not repeat a previous run's ids.
        self._id_prefix = f"{int(self.start.timestamp()):x}"
        self._seq = np.zeros(len(self.devices), dtype=np.int64)
        self._t = 0.0

    def _make_ward(self, group: NDArray[np.intp], rng: np.random.Generator) -> Ward:
        groups = self.scenario.groups
        onset_lo, onset_hi = np.array([g.onset_s for g in groups]).T[:, group]
        dur = np.array([g.duration_s or (np.nan, np.nan) for g in groups]).T[:, group]
        u = rng.random((2, len(group)))
        return Ward.create(
            len(group),
            [groups[g].course for g in group],
            rng,
            self.start,
            onset=onset_lo + u[0] * (onset_hi - onset_lo),
            duration=dur[0] + u[1] * (dur[1] - dur[0]),
            copd=np.array([groups[g].copd for g in group], dtype=bool),
        )

    def _patient_table(self, group: NDArray[np.intp]) -> tuple[PatientInfo, ...]:
        ward_id, scale = self.scenario.ward_id, self.ward.spo2_scale
        return tuple(
            PatientInfo(
                self.patient_id(i),
                ward_id,
                self.scenario.groups[g].name,
                self.scenario.groups[g].course,
                int(scale[i]),
                float(self.ward.onset[i]),
            )
            for i, g in enumerate(group)
        )

    def _make_devices(self, group: NDArray[np.intp], rng: np.random.Generator) -> None:
        sc = self.scenario
        rows = [
            (p, kind, sc.interval(sc.groups[g], kind))
            for p, g in enumerate(group.tolist())
            for kind in sc.groups[g].devices
        ]
        patient = np.array([r[0] for r in rows], dtype=np.intp)
        kinds = [r[1] for r in rows]
        interval = np.array([r[2] for r in rows], dtype=np.float64)
        self.devices = tuple(
            DeviceInfo(self.device_id(p, k), self.patient_id(p), sc.ward_id, k)
            for p, k in zip(patient.tolist(), kinds, strict=True)
        )
        self._patient = patient
        self._kind = np.array([KIND_NAMES.index(k) for k in kinds], dtype=np.int8)
        self._fahrenheit = (self._kind == KIND_NAMES.index("thermometer")) & (
            rng.random(len(rows)) < sc.fahrenheit
        )
        self._units = [
            device_units(k, bool(f)) for k, f in zip(kinds, self._fahrenheit, strict=True)
        ]
        self._firmware = [KINDS[k].firmware for k in kinds]
        self._signal = rng.uniform(*_SIGNAL_DBM, len(rows))
        self._readings = Schedule(_first_due(patient, interval, rng), interval)
        spread = rng.uniform(*_STATUS_SPREAD, len(rows))
        self._status = Schedule(np.zeros(len(rows)), sc.status_interval_s * spread)
        for info in self.devices:
            if not _ID.match(info.device_id):
                raise ValueError(f"device id {info.device_id!r} is not a valid id")

    def device_id(self, patient: int, kind: str) -> str:
        return f"sim-{self.seed}-{patient:05d}-{kind}"

    def patient_id(self, patient: int) -> str:
        return f"sim-p{self.seed}-{patient:05d}"

    def time(self, t: float) -> datetime:
        """Simulated time t [s since start] as a UTC datetime."""
        return self.start + timedelta(seconds=t)

    def last_will(self, device: int, at: float = 0.0) -> m.Outgoing:
        """The will the runner sets when device (index into .devices) connects."""
        device_id = self.devices[device].device_id
        return m.Outgoing(
            m.status_topic(device_id), m.WILL_PAYLOAD, m.QOS, True, device_id, "will", at
        )

    def tick(self, t0: float, t1: float) -> list[m.Outgoing]:
        """Everything to publish for simulated time [t0, t1) [s since start], in
        order.  Slices must follow each other: t0 is the previous call's t1
        (0 for the first)."""
        if t0 != self._t or not t1 > t0:
            raise ValueError(f"tick({t0}, {t1}): expected t0 = {self._t} and t1 > t0")
        self._t = t1
        device, times = self._readings.due(t0, t1)
        state = self.ward.state_at(times, self._patient[device])
        values = measure(state, self._kind[device], self._fahrenheit[device], self._rng_measure)
        planned = m.Batch(
            device, self._next_seq(device), times, values, np.zeros(len(device), np.int8)
        )
        step = self.faults.step(planned, t0, t1)
        self.batteries.drain((t1 - t0) / 3600.0, np.bincount(device, minlength=len(self._seq)))
        return self._encode(step, *self._status.due(t0, t1))

    def _next_seq(self, device: NDArray[np.intp]) -> NDArray[np.int64]:
        """Next message counters (from 1), in time order for a device due twice."""
        order = np.argsort(device, kind="stable")
        ordered = device[order]
        unique, first, counts = np.unique(ordered, return_index=True, return_counts=True)
        rank = np.arange(len(ordered)) - np.repeat(first, counts)
        seq = np.empty(len(device), np.int64)
        seq[order] = self._seq[ordered] + rank + 1
        self._seq[unique] += counts
        return seq

    def _encode(
        self, step: FaultStep, status_dev: NDArray[np.intp], status_at: NDArray[np.float64]
    ) -> list[m.Outgoing]:
        online = ~self.faults.is_offline(status_dev, status_at)
        status_dev, status_at = status_dev[online], status_at[online]
        out = (
            self._encode_status(step.came_online, step.online_at)
            + self._encode_readings(step)
            + [
                self.last_will(d, a)
                for d, a in zip(step.went_offline.tolist(), step.offline_at.tolist(), strict=True)
            ]
            + self._encode_status(status_dev, status_at)
        )
        at = np.concatenate([step.online_at, step.send_at, step.offline_at, status_at])
        rank = np.repeat(
            [_RECONNECT, _READINGS, _WILL, _STATUS],
            [len(step.online_at), len(step.send_at), len(step.offline_at), len(status_at)],
        )
        return [out[i] for i in np.lexsort((rank, at))]

    def _encode_readings(self, step: FaultStep) -> list[m.Outgoing]:
        b = step.batch
        columns = (
            b.device.tolist(),
            b.seq.tolist(),
            m.iso_times(self.start, b.time).tolist(),
            b.values.tolist(),
            b.flag.tolist(),
            step.send_at.tolist(),
        )
        out = []
        for d, seq, stamp, values, flag, at in zip(*columns, strict=True):
            device_id = self.devices[d].device_id
            payload = m.encode_readings(
                m.message_id(self._id_prefix, seq), stamp, values, self._units[d], flag
            )
            out.append(
                m.Outgoing(
                    m.readings_topic(device_id), payload, m.QOS, False, device_id, "readings", at
                )
            )
        return out

    def _encode_status(self, device: NDArray[np.intp], at: NDArray[np.float64]) -> list[m.Outgoing]:
        signal = self._signal[device] + self._rng_measure.normal(0.0, _SIGNAL_SD, len(device))
        battery = self.batteries.level[device]
        out = []
        for d, a, s, level in zip(
            device.tolist(), at.tolist(), signal.tolist(), battery.tolist(), strict=True
        ):
            device_id = self.devices[d].device_id
            out.append(
                m.Outgoing(
                    m.status_topic(device_id),
                    m.encode_status(level, self._firmware[d], s),
                    m.QOS,
                    True,
                    device_id,
                    "status",
                    a,
                )
            )
        return out


# Spot-check devices of one patient are used together, as a set of observations is
# taken (NEWS2 is scored on a set): within a few minutes of each other, at a time of
# the patient's own.  A device that streams (shorter than ``_ROUND_MIN``) has its own.
_ROUND_MIN = 3600.0  # [s] an interval at least this long is a spot check
_ROUND_SPREAD = 300.0  # [s] how far apart a patient's devices are used in one round


def _first_due(patient: NDArray[np.intp], interval: NDArray[np.float64],
               rng: np.random.Generator) -> NDArray[np.float64]:
    """First due time of each device [s since start]: a round per patient for spot
    checks, uniform within its interval for streaming devices."""
    own = rng.uniform(0.0, interval)
    spot = interval >= _ROUND_MIN
    if not spot.any():
        return own
    longest = np.zeros(int(patient.max()) + 1)
    np.maximum.at(longest, patient[spot], interval[spot])
    round_at = rng.uniform(0.0, 1.0, len(longest)) * longest
    jitter = rng.uniform(0.0, _ROUND_SPREAD, len(patient))
    return np.where(spot, round_at[patient] + jitter, own)

