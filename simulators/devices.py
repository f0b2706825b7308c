"""Home device kinds: what each measures, how often, how noisily, and how fast
it drains its battery; a vectorised schedule of when devices are due; the
measurement of a patient's state as a device would report it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulators.messages import ACVPU, COLUMN, FAHRENHEIT, TYPES, UNITS

_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """A kind of home device.

    types : reading types it sends, in message order.
    noise_sd : measurement noise, one standard deviation per type [type's unit].
    interval_s : default time between reading sets [s].
    drain_per_hour : battery used while on [%/h]; drain_per_set : per reading set [%].
    """

    name: str
    types: tuple[str, ...]
    noise_sd: tuple[float, ...]
    interval_s: float
    drain_per_hour: float
    drain_per_set: float
    firmware: str


# Noise: the accuracy a maker states is taken as one standard deviation (pulse
# oximeters state Arms, the RMS error, ±2 % SpO2 and ~±2 /min pulse; a validated
# cuff ±5 mm[Hg], the ISO 81060-2 limit of mean error; clinical thermometers
# ±0.2 Cel; a chest patch's respiratory rate ±2 /min; a patient's own count of
# breaths over 30 s, which the tablet guides, ±1.5 /min).  A
# device's error is bounded (its stated accuracy is tested to about 2.5 SD):
# the noise is a normal cut at ±2.5 SD, so that no device invents a 4-SD
# reading of a stable patient.  Intervals: spot checks
# "a few times a day" (every 6 h); a patch streams every 60 s.  Battery: an
# oximeter's 2 AAA last ~30 h of measuring, a cuff's 4 AA ~300 measurements, a
# thermometer's coin cell years, a disposable patch ~7 days, a tablet a day.
_KIND_LIST = (
    DeviceKind("oximeter", ("spo2", "heart_rate"), noise_sd=(2.0, 2.0),
               interval_s=6 * _HOUR, drain_per_hour=0.02, drain_per_set=0.05, firmware="1.4.2"),
    DeviceKind("bp_cuff", ("systolic_bp", "diastolic_bp", "heart_rate"), noise_sd=(5.0, 5.0, 3.0),
               interval_s=6 * _HOUR, drain_per_hour=0.01, drain_per_set=0.33, firmware="2.1.0"),
    DeviceKind("thermometer", ("temperature",), noise_sd=(0.2,),
               interval_s=6 * _HOUR, drain_per_hour=0.001, drain_per_set=0.01, firmware="1.0.7"),
    DeviceKind("patch", ("heart_rate", "respiratory_rate"), noise_sd=(2.0, 2.0),
               interval_s=60.0, drain_per_hour=0.6, drain_per_set=0.0, firmware="3.2.1"),
    DeviceKind("tablet", ("consciousness", "on_oxygen", "respiratory_rate"),
               noise_sd=(0.0, 0.0, 1.5),
               interval_s=6 * _HOUR, drain_per_hour=4.0, drain_per_set=0.02, firmware="5.0.3"),
)  # fmt: skip
KINDS: dict[str, DeviceKind] = {k.name: k for k in _KIND_LIST}
KIND_NAMES: tuple[str, ...] = tuple(KINDS)

# What a device displays: limits [type's unit] (the physiology's, see physiology.LOW)
# and decimals (integers, temperature to 0.1).
_DISPLAY_LOW = {
    "respiratory_rate": 4,
    "spo2": 50,
    "systolic_bp": 50,
    "diastolic_bp": 25,
    "heart_rate": 25,
    "temperature": 33.0,
}
_DISPLAY_HIGH = {
    "respiratory_rate": 60,
    "spo2": 100,
    "systolic_bp": 250,
    "diastolic_bp": 150,
    "heart_rate": 250,
    "temperature": 42.5,
}
_DECIMALS = {"temperature": 1}


def device_units(kind: str, fahrenheit: bool = False) -> dict[str, str | None]:
    """The unit a device sends with each of its types."""
    units = {t: UNITS[t] for t in KINDS[kind].types}
    if fahrenheit and "temperature" in units:
        units["temperature"] = FAHRENHEIT
    return units


# (kinds x types): which columns each kind fills, and its noise there.
_MEASURES = np.array([[t in k.types for t in TYPES] for k in KINDS.values()])
_NOISE_SD = np.array(
    [
        [dict(zip(k.types, k.noise_sd, strict=True)).get(t, 0.0) for t in TYPES]
        for k in KINDS.values()
    ]
)


_NOISE_BOUND = 2.5  # [SD]


def _bounded_normal(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    return np.clip(rng.normal(0.0, 1.0, n), -_NOISE_BOUND, _NOISE_BOUND)


def measure(
    state: dict[str, NDArray],
    kind: NDArray[np.int8],
    fahrenheit: NDArray[np.bool_],
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Readings as devices report them: one row per (patient state, device).

    `state` is physiology.Ward.state_at for the devices' patients at their
    measurement times.  Adds each kind's noise, clips and rounds to what the
    device displays, converts to [degF] where the thermometer speaks it.
    Returns (rows, len(TYPES)), NaN where the kind does not measure.
    """
    rows = len(kind)
    values = np.full((rows, len(TYPES)), np.nan)
    for name, low in _DISPLAY_LOW.items():
        col = COLUMN[name]
        noisy = state[name] + _bounded_normal(rng, rows) * _NOISE_SD[kind, col]
        values[:, col] = np.clip(noisy, low, _DISPLAY_HIGH[name])
    # A cuff's diastolic below its systolic, as the physiology's.
    dbp, sbp = COLUMN["diastolic_bp"], COLUMN["systolic_bp"]
    values[:, dbp] = np.maximum(np.minimum(values[:, dbp], values[:, sbp] - 10), 25)
    temp = COLUMN["temperature"]
    values[:, temp] = np.where(fahrenheit, values[:, temp] * 9 / 5 + 32, values[:, temp])
    for name in _DISPLAY_LOW:
        values[:, COLUMN[name]] = np.round(values[:, COLUMN[name]], _DECIMALS.get(name, 0))
    letters = np.asarray(state["consciousness"])
    values[:, COLUMN["consciousness"]] = np.select(
        [letters == letter for letter in ACVPU], np.arange(len(ACVPU)), default=0
    )
    values[:, COLUMN["on_oxygen"]] = np.asarray(state["on_oxygen"], dtype=np.float64)
    values[~_MEASURES[kind]] = np.nan
    return values


class Schedule:
    """When each of n devices is next due, on a fixed grid per device.

    next_due : first due time per device [s since start].  interval : [s], > 0.
    """

    def __init__(self, next_due: NDArray[np.float64], interval: NDArray[np.float64]) -> None:
        if np.any(np.asarray(interval) <= 0):
            raise ValueError("intervals must be > 0 s")
        self.next_due = np.array(next_due, dtype=np.float64)
        self.interval = np.broadcast_to(np.asarray(interval, np.float64), self.next_due.shape)

    def due(self, t0: float, t1: float) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Devices due in [t0, t1) and their due times, in time order; advances.

        A device due several times in the slice appears once per time.  Times
        before t0 (a schedule that was not asked for a while) are still due.
        """
        pending = np.flatnonzero(self.next_due < t1)
        counts = np.ceil((t1 - self.next_due[pending]) / self.interval[pending]).astype(np.int64)
        device = np.repeat(pending, counts)
        first = np.cumsum(counts) - counts
        k = np.arange(len(device)) - np.repeat(first, counts)
        times = self.next_due[device] + k * self.interval[device]
        self.next_due[pending] += counts * self.interval[pending]
        order = np.lexsort((device, times))
        return device[order], times[order]


class Batteries:
    """Battery charge of n devices [%], drained per hour and per reading set.

    A patient charges a device (or changes the batteries) when it falls below
    RECHARGE_BELOW; a `weak` battery is never recharged and runs down to FLOOR.
    """

    RECHARGE_BELOW = 25.0  # [%]; so a cared-for device never reports < 20 % (low)
    WEAK_EXTRA_PER_HOUR = 3.0  # [%/h] a failing battery's extra drain
    FLOOR = 2.0  # [%]; the simulation does not model a dead device

    def __init__(
        self, kind: NDArray[np.int8], weak: NDArray[np.bool_], rng: np.random.Generator
    ) -> None:
        kinds = list(KINDS.values())
        self._per_hour = (
            np.array([k.drain_per_hour for k in kinds])[kind] + self.WEAK_EXTRA_PER_HOUR * weak
        )
        self._per_set = np.array([k.drain_per_set for k in kinds])[kind]
        self.weak = np.asarray(weak, dtype=bool)
        self.level = np.where(
            self.weak, rng.uniform(20.0, 40.0, len(kind)), rng.uniform(50.0, 100.0, len(kind))
        )

    def drain(self, hours: float, sets: NDArray[np.int64]) -> None:
        """Run for `hours` [h] during which device i sent sets[i] reading sets."""
        self.level -= self._per_hour * hours + self._per_set * sets
        self.level[(self.level < self.RECHARGE_BELOW) & ~self.weak] = 100.0
        np.maximum(self.level, self.FLOOR, out=self.level)
