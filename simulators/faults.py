"""Faults on purpose, at rates the tester sets (design.md, "What bad input
gets"): devices that go offline for hours and then send their backlog,
duplicated and out-of-order messages, skewed clocks, malformed messages,
implausible values, failing batteries.

`FaultInjector.step` is pure apart from its own state and the Generator it was
given: the same planned batches and rng give the same messages to send."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from simulators.messages import COLUMN, MALFORMED_FLAGS, Batch

_HOUR = 3600.0

# Implausible values, one per numeric type [the type's unit], outside the
# ingest's plausible ranges (ward/domain.py TYPES): "heart rate 900, SpO2 140 %".
IMPLAUSIBLE: dict[str, float] = {
    "heart_rate": 900,
    "spo2": 140,
    "respiratory_rate": 150,
    "systolic_bp": 400,
    "diastolic_bp": 300,
    "temperature": 55.0,
}
_FAHRENHEIT_IMPLAUSIBLE = 131.0  # 55 Cel in [degF]
_WILD_COLUMNS = np.array([COLUMN[name] for name in IMPLAUSIBLE])
_WILD_VALUES = np.array(list(IMPLAUSIBLE.values()), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class FaultRates:
    """How often each fault happens; all zero by default (no faults).

    offline_per_hour : chance per device-hour of dropping off [1/h].
    offline_hours : how long an outage lasts, (min, max) [h].
    duplicate, out_of_order, malformed, implausible : chance per message.
    clock_skew : share of devices whose clock is off; clock_skew_minutes : by up
        to this much, either way [min] (at least a minute).
    low_battery : share of devices whose battery fails and runs down below 20 %.
    """

    offline_per_hour: float = 0.0
    offline_hours: tuple[float, float] = (1.0, 4.0)
    duplicate: float = 0.0
    out_of_order: float = 0.0
    clock_skew: float = 0.0
    clock_skew_minutes: float = 10.0
    malformed: float = 0.0
    implausible: float = 0.0
    low_battery: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            for v in value if isinstance(value, tuple) else (value,):
                if not np.isfinite(v) or v < 0:
                    raise ValueError(f"{f.name} must be a finite number >= 0, got {value!r}")
        for name in (
            "duplicate",
            "out_of_order",
            "clock_skew",
            "malformed",
            "implausible",
            "low_battery",
        ):
            if getattr(self, name) > 1:
                raise ValueError(f"{name} is a probability (0 to 1), got {getattr(self, name)}")
        lo, hi = self.offline_hours
        if not 0 < lo <= hi:
            raise ValueError(
                f"offline_hours must be (min, max) with 0 < min <= max, got {self.offline_hours}"
            )
        if self.clock_skew and self.clock_skew_minutes < 1:
            raise ValueError("clock_skew_minutes must be >= 1")


@dataclass(frozen=True, slots=True, eq=False)
class FaultStep:
    """What to send for one slice of simulated time.

    batch : the messages, in send order; send_at : when each is sent [s],
        non-decreasing (a backlog goes at reconnection, a delayed message late).
    went_offline, offline_at : devices that dropped off in the slice, and when [s].
    came_online, online_at : devices back in the slice, and when [s].
    """

    batch: Batch
    send_at: NDArray[np.float64]
    went_offline: NDArray[np.intp]
    offline_at: NDArray[np.float64]
    came_online: NDArray[np.intp]
    online_at: NDArray[np.float64]


class FaultInjector:
    """Faults for n devices; `interval` is each device's time between sets [s]
    (a delayed message is held past the device's next one, so that it arrives
    out of order).  `fahrenheit` marks thermometers that speak [degF]."""

    def __init__(
        self,
        rates: FaultRates,
        interval: NDArray[np.float64],
        fahrenheit: NDArray[np.bool_],
        rng: np.random.Generator,
    ) -> None:
        n = len(interval)
        self.rates = rates
        self._rng = rng
        self._interval = np.asarray(interval, dtype=np.float64)
        self._fahrenheit = np.asarray(fahrenheit, dtype=bool)
        skewed = rng.random(n) < rates.clock_skew
        magnitude = rng.uniform(1.0, max(rates.clock_skew_minutes, 1.0), n) * 60.0
        self.skew = np.where(skewed, magnitude * rng.choice([-1.0, 1.0], n), 0.0)
        self.weak_battery = rng.random(n) < rates.low_battery
        self.offline_from = np.full(n, np.inf)
        self.offline_until = np.full(n, -np.inf)
        self._held = Batch.empty()
        self._release = np.empty(0)
        self._true_time = np.empty(0)

    def is_offline(self, device: NDArray[np.intp], t: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether each device is offline at its time t [s]."""
        return (self.offline_from[device] <= t) & (t < self.offline_until[device])

    @property
    def held(self) -> int:
        """Messages held back (backlogs and delayed messages)."""
        return len(self._held)

    def step(self, planned: Batch, t0: float, t1: float) -> FaultStep:
        """The messages to send in [t0, t1), given those planned for it.

        `planned.time` is the true measurement time; the sent batch carries the
        device's own (possibly skewed) stamp.
        """
        went, went_at = self._drop_off(t0, t1)
        back = np.flatnonzero((self.offline_until >= t0) & (self.offline_until < t1))
        back_at = self.offline_until[back]
        true_time = planned.time
        skewed = true_time + self.skew[planned.device]
        # No copies here: take() copies what it keeps, and _spoil edits only those.
        stamped = Batch(planned.device, planned.seq, skewed, planned.values, planned.flag)
        offline = self.is_offline(planned.device, true_time)
        self._hold(
            stamped.take(offline), self.offline_until[planned.device[offline]], true_time[offline]
        )
        fresh, fresh_time = stamped.take(~offline), true_time[~offline]
        self._spoil(fresh)
        late = self._chance(len(fresh), self.rates.out_of_order)
        # Past the device's next message, so that it arrives after a later one.
        stretch = 1.0 + self._rng.uniform(0.05, 1.0, late.sum())
        delay = self._interval[fresh.device[late]] * stretch
        self._hold(fresh.take(late), fresh_time[late] + delay, fresh_time[late])
        fresh, fresh_time = fresh.take(~late), fresh_time[~late]
        released, released_at = self._release_until(t1)
        twice = self._chance(len(fresh), self.rates.duplicate)
        # A resend goes out seconds after the original (a lost PUBACK's retry),
        # within this slice.
        first = fresh_time[twice]
        resent_at = first + self._rng.random(twice.sum()) * (np.minimum(first + 5.0, t1) - first)
        batch = Batch.concat([fresh, released, fresh.take(twice)])
        send_at = np.concatenate([fresh_time, released_at, resent_at])
        order = np.argsort(send_at, kind="stable")
        return FaultStep(batch.take(order), send_at[order], went, went_at, back, back_at)

    def _chance(self, rows: int, p: float) -> NDArray[np.bool_]:
        return self._rng.random(rows) < p if p > 0 else np.zeros(rows, dtype=bool)

    def _drop_off(self, t0: float, t1: float) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Online devices that go offline in [t0, t1), and when; sets their outage."""
        rate = self.rates.offline_per_hour
        if rate <= 0:
            return np.empty(0, np.intp), np.empty(0)
        online = np.flatnonzero(self.offline_until <= t0)
        p = -np.expm1(-rate * (t1 - t0) / _HOUR)
        went = online[self._rng.random(len(online)) < p]
        at = t0 + self._rng.random(len(went)) * (t1 - t0)
        hours = self._rng.uniform(*self.rates.offline_hours, len(went))
        self.offline_from[went] = at
        self.offline_until[went] = at + hours * _HOUR
        return went, at

    def _spoil(self, batch: Batch) -> None:
        """Malformed and implausible messages, in place."""
        bad = np.flatnonzero(self._chance(len(batch), self.rates.malformed))
        batch.flag[bad] = self._rng.choice(MALFORMED_FLAGS, len(bad))
        wild = np.flatnonzero(self._chance(len(batch), self.rates.implausible))
        # One of the message's numeric readings, at random, gets a wild value.
        measured = ~np.isnan(batch.values[np.ix_(wild, _WILD_COLUMNS)])
        pick = np.argmax(np.where(measured, self._rng.random(measured.shape), -1.0), axis=1)
        has = measured.any(axis=1)
        rows, pick = wild[has], pick[has]
        value = _WILD_VALUES[pick]
        in_f = (_WILD_COLUMNS[pick] == COLUMN["temperature"]) & self._fahrenheit[batch.device[rows]]
        batch.values[rows, _WILD_COLUMNS[pick]] = np.where(in_f, _FAHRENHEIT_IMPLAUSIBLE, value)

    def _hold(self, batch: Batch, release: NDArray[np.float64], true_time: NDArray) -> None:
        if len(batch):
            self._held = Batch.concat([self._held, batch])
            self._release = np.concatenate([self._release, release])
            self._true_time = np.concatenate([self._true_time, true_time])

    def _release_until(self, t1: float) -> tuple[Batch, NDArray[np.float64]]:
        """Held messages due out before t1, by release time then measurement time.

        A delayed message whose device has since gone offline waits for it."""
        off = self.is_offline(self._held.device, self._release)
        self._release[off] = self.offline_until[self._held.device[off]]
        due = self._release < t1
        rows = np.flatnonzero(due)
        rows = rows[np.lexsort((self._true_time[rows], self._release[rows]))]
        out, at = self._held.take(rows), self._release[rows]
        self._held, self._release, self._true_time = (
            self._held.take(~due),
            self._release[~due],
            self._true_time[~due],
        )
        return out, at
