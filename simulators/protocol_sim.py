"""Simulated patients of the protocol wards (ward/protocols.py), vectorised: a
schedule of readings (patients x reading times) computed at once, no loop over
patients in Python.  Pure; the MQTT edge is simulators/protocol_runner.py.

Courses:
- covid-oximetry: ``stable`` (SpO2 97-98 %, green all along) and ``desaturating``
  (from its onset SpO2 falls 7-9 points over 6-12 h: through amber to red, the
  pulse rising with it: the course the pathway exists to catch);
- heart-failure: ``stable`` (a steady weight) and ``gaining`` (from its onset
  0.8-1.3 kg a day: fluid retained before it reaches the lungs).
Noise is a normal cut at 2.5 SD, so that a stable patient never crosses a
threshold by noise alone (SpO2 97 - 1.5 stays green; two weights 0.2 kg SD
apart differ by at most 1.0 kg, which is not "more than 1 kg").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_HOUR = 3600.0
_DAY = 24 * _HOUR


@dataclass(frozen=True, slots=True)
class Course:
    """How one group of a protocol's patients reads over time.

    reading : the protocol's reading type (its value is ``values[0]``);
    also : another reading the device sends with it (the oximeter's pulse), or ''
    baseline : range of each patient's value at rest; noise_sd : [unit]
    change : total change from onset (range, per patient), over ``duration_s``;
        per_day : the change is a rate per day instead, for as long as it runs
    decimals : what the device displays
    """

    name: str
    reading: str
    baseline: tuple[float, float]
    noise_sd: float
    change: tuple[float, float] = (0.0, 0.0)
    duration_s: tuple[float, float] = (_HOUR, _HOUR)
    per_day: bool = False
    decimals: int = 0
    also: str = ""
    also_baseline: tuple[float, float] = (0.0, 0.0)
    also_change: float = 0.0  # at full change [unit]


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    device_kind: str
    interval_s: float  # the pathway's time between readings
    courses: tuple[Course, Course]  # (stable, deteriorating)


PROTOCOLS: dict[str, Protocol] = {
    "covid-oximetry": Protocol("covid-oximetry", "oximeter", 8 * _HOUR, (
        Course("stable", "spo2", (97.0, 98.0), 0.6, also="heart_rate",
               also_baseline=(70.0, 85.0)),
        Course("desaturating", "spo2", (96.5, 98.0), 0.6, change=(-9.0, -7.0),
               duration_s=(6 * _HOUR, 12 * _HOUR), also="heart_rate",
               also_baseline=(72.0, 88.0), also_change=18.0),
    )),
    "heart-failure": Protocol("heart-failure", "scale", _DAY, (
        Course("stable", "body_weight", (65.0, 95.0), 0.2, decimals=1),
        Course("gaining", "body_weight", (65.0, 95.0), 0.2, change=(0.8, 1.3),
               duration_s=(3 * _DAY, 5 * _DAY), per_day=True, decimals=1),
    )),
}


@dataclass(frozen=True, slots=True)
class Schedule:
    """Readings of every patient at every reading time.

    times_s : (k,) seconds from the start;  course : (n,) index into the courses
    values : (n, k) the reading;  also : (n, k) the second reading, NaN if none
    """

    times_s: NDArray[np.float64]
    course: NDArray[np.int64]
    values: NDArray[np.float64]
    also: NDArray[np.float64]


def courses_of(n_patients: int) -> NDArray[np.int64]:
    """Half the patients deteriorate (at least one), the others are stable; the
    deteriorating ones first, so that patient 1 is always one."""
    bad = max(1, n_patients // 2)
    return (np.arange(n_patients) >= bad).astype(np.int64) ^ 1


def schedule(protocol: str, n_patients: int, *, duration_s: float, onset_s: float,
             interval_s: float | None = None, seed: int = 1) -> Schedule:
    """The readings of ``n_patients`` over ``duration_s`` [s] from the start, every
    ``interval_s`` (default the pathway's); deterioration begins at ``onset_s``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"no simulated protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if n_patients < 1 or duration_s <= 0:
        raise ValueError("at least one patient and a positive duration")
    p = PROTOCOLS[protocol]
    every = interval_s or p.interval_s
    times = np.arange(0.0, duration_s + 1e-9, every)
    course = courses_of(n_patients)
    rng = np.random.default_rng(seed)
    values = np.empty((n_patients, len(times)))
    also = np.full((n_patients, len(times)), np.nan)
    for c_index, c in enumerate(p.courses):
        rows = np.flatnonzero(course == c_index)
        if not len(rows):
            continue
        m = len(rows)
        base = rng.uniform(*c.baseline, size=m)[:, None]
        change = rng.uniform(*c.change, size=m)[:, None]
        span = rng.uniform(*c.duration_s, size=m)[:, None]
        since = np.clip(times[None, :] - onset_s, 0.0, None)
        progress = np.clip(since / span, 0.0, 1.0)
        delta = change * np.minimum(since, span) / _DAY if c.per_day else change * progress
        noise = np.clip(rng.normal(0.0, c.noise_sd, size=(m, len(times))),
                        -2.5 * c.noise_sd, 2.5 * c.noise_sd)
        values[rows] = np.round(base + delta + noise, c.decimals)
        if c.also:
            a_base = rng.uniform(*c.also_baseline, size=m)[:, None]
            also[rows] = np.round(a_base + c.also_change * progress)
    return Schedule(times, course, values, also)
