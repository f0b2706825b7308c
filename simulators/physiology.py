"""Vectorised physiology of a ward of patients at home: one array element per
patient, no loop over patients in Python.

A patient's vital sign at simulated time t [s since the ward's start] is

    baseline + day-night rhythm + OU-like noise + course effect, clipped

and every term is a closed-form function of t, so `Ward.state_at` is random
access: it costs the same at any t, for any subset of patients, and the state
of a patient at t does not depend on which other times were asked for.

The noise is a sum of random Fourier features whose frequencies are drawn
from a Cauchy distribution: in expectation its autocovariance is
sigma^2 exp(-|dt| / tau), the Ornstein-Uhlenbeck process's, but it needs no
stepping (Rahimi & Recht 2007, "Random features for large-scale kernel
machines").  A fast and a slow component per vital give jitter and drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Column order of every (patients x vitals) array.
VITALS: tuple[str, ...] = (
    "respiratory_rate",  # [/min]
    "spo2",  # [%]
    "systolic_bp",  # [mm[Hg]]
    "diastolic_bp",  # [mm[Hg]]
    "heart_rate",  # [/min]
    "temperature",  # [Cel]
)
_RR, _SPO2, _SBP, _DBP, _HR, _TEMP = range(len(VITALS))

# What a body and a home device produce (the brief's ranges; inside the
# ingest's plausible ranges in ward/domain.py, so a simulated reading is never
# refused as implausible unless a fault makes it so).
LOW = np.array([4.0, 50.0, 50.0, 25.0, 25.0, 33.0])
HIGH = np.array([60.0, 100.0, 250.0, 150.0, 250.0, 42.5])
_MIN_PULSE_PRESSURE = 10.0  # diastolic stays this far below systolic [mm[Hg]]

_HOUR = 3600.0
_DAY = 24 * _HOUR


@dataclass(frozen=True, slots=True)
class Course:
    """How a course moves the vitals.

    delta : change of each vital (VITALS order) at full progress, for an
        average patient; each patient scales it by their own severity.
    duration_s : default range of the time from onset to full progress [s].
    falling : True if the patient starts at full delta and improves to 0.
    confusion : new confusion starts at onset + duration * U(range), or never.
    oxygen : oxygen is started at onset + duration * U(range), or never.
    """

    name: str
    delta: tuple[float, float, float, float, float, float]
    duration_s: tuple[float, float]
    falling: bool = False
    confusion: tuple[float, float] | None = None
    oxygen: tuple[float, float] | None = None


# Deltas are illustrative, chosen so that a full course reaches the NEWS2 band
# its clinical picture would (news2.md): sepsis and hypoxia "high", a bleed
# with shock-range systolic, a COPD exacerbation scoring 3 on SpO2 scale 2.
# delta is in VITALS order: RR, SpO2, SBP, DBP, HR, temperature.
COURSES: dict[str, Course] = {
    c.name: c
    for c in (
        Course("stable", (0, 0, 0, 0, 0, 0), (_HOUR, _HOUR)),
        Course("recovering", (5, -3, -10, -5, 18, 0.9), (12 * _HOUR, 48 * _HOUR), falling=True),
        Course(
            "sepsis", (14, -6, -45, -25, 45, 2.3), (2 * _HOUR, 6 * _HOUR), confusion=(0.75, 0.95)
        ),
        Course(
            "copd_exacerbation", (10, -8, 8, 4, 22, 0.4), (4 * _HOUR, 12 * _HOUR), oxygen=(0.5, 0.8)
        ),
        # Minutes from onset to the full drop; confusion follows the hypoxia.
        Course("sudden_hypoxia", (12, -18, 8, 4, 30, 0.0), (120.0, 600.0), confusion=(3.0, 6.0)),
        Course("bleed", (6, -1, -55, -30, 50, -0.3), (_HOUR, 3 * _HOUR)),
    )
}
COURSE_NAMES: tuple[str, ...] = tuple(COURSES)
_DELTA = np.array([c.delta for c in COURSES.values()], dtype=np.float64)
_FALLING = np.array([c.falling for c in COURSES.values()])
_COPD = COURSE_NAMES.index("copd_exacerbation")

# Per-patient spread of a course's effect, per vital.
_SEVERITY = (0.75, 1.25)
# Oxygen brings a COPD patient's SpO2 to the prescribed 88-92 % target (news2.md,
# scale 2) with this time constant [s]; a concentrator acts within minutes.
_OXYGEN_TAU_S = 20 * 60.0
_COPD_TARGET = (88.5, 91.5)  # [%]

# Within-patient variability at rest, per vital: fast jitter and slow drift,
# standard deviation [unit] and correlation time [s].  Chosen so that a stable
# patient's NEWS2 stays mostly 0-1, in the range of resting within-subject SDs.
_NOISE_FAST_SD = np.array([0.8, 0.5, 4.0, 3.0, 3.0, 0.05])
_NOISE_FAST_TAU = np.array([600.0, 300.0, 600.0, 600.0, 300.0, 1800.0])
_NOISE_SLOW_SD = np.array([0.8, 0.5, 5.0, 3.0, 4.0, 0.12])
_NOISE_SLOW_TAU = np.full(len(VITALS), 6 * _HOUR)
_FEATURES = 4  # Fourier features per component; the noise is bounded by 2.8 sigma

# Day-night rhythm: amplitude [unit] of a cosine peaking at 16:00 and lowest at
# 04:00 (core temperature's circadian cycle, ~0.3 Cel; heart rate and blood
# pressure dip at night).  UTC hours: the ward's zone is within an hour of it.
_RHYTHM_AMPLITUDE = np.array([0.5, 0.0, 6.0, 4.0, 5.0, 0.3])
_RHYTHM_PEAK_S = 16 * _HOUR


@dataclass(frozen=True, slots=True, eq=False)
class Ward:
    """Per-patient parameters; arrays of length n unless noted.

    course : index into COURSE_NAMES.  onset, duration, oxygen_at,
    confusion_at : [s since start], inf for never.  baseline : (n, 6) [VITALS
    units].  severity : (n, 6) multiplier of the course's delta.  copd : on SpO2
    scale 2.  The _noise arrays are (n, 6, 2 * _FEATURES).
    """

    start: datetime
    course: NDArray[np.int8]
    onset: NDArray[np.float64]
    duration: NDArray[np.float64]
    age: NDArray[np.int64]
    copd: NDArray[np.bool_]
    baseline: NDArray[np.float64]
    severity: NDArray[np.float64]
    oxygen_at: NDArray[np.float64]
    confusion_at: NDArray[np.float64]
    _noise_omega: NDArray[np.float64]
    _noise_phase: NDArray[np.float64]

    @classmethod
    def create(
        cls,
        n: int,
        courses: Sequence[str] | NDArray[np.str_],
        rng: np.random.Generator,
        start: datetime,
        *,
        onset: ArrayLike | None = None,
        duration: ArrayLike | None = None,
        copd: ArrayLike | None = None,
    ) -> Ward:
        """n patients; `courses` names each one's course (length n).

        onset : [s since start], default 0.  duration : [s]; where NaN or not
        given, drawn from the course's range.  copd : on SpO2 scale 2 (always, for
        copd_exacerbation).  All randomness comes from `rng`.
        """
        course = _course_codes(courses, n)
        onset_a = _per_patient(onset, n, 0.0)
        lo, hi = np.array([COURSES[c].duration_s for c in COURSE_NAMES]).T
        drawn = rng.uniform(lo[course], hi[course])
        duration_a = _per_patient(duration, n, np.nan)
        duration_a = np.where(np.isnan(duration_a), drawn, duration_a)
        if np.any(duration_a <= 0):
            raise ValueError("duration must be > 0 s")
        copd_a = np.asarray(copd if copd is not None else np.zeros(n), dtype=bool)
        copd_a = np.broadcast_to(copd_a, (n,)) | (course == _COPD)
        age, baseline = _baselines(n, copd_a, rng)
        severity = rng.uniform(*_SEVERITY, size=(n, len(VITALS)))
        oxygen_at = onset_a + duration_a * _fraction(course, "oxygen", rng)
        confusion_at = onset_a + duration_a * _fraction(course, "confusion", rng)
        omega, phase = _noise_features(n, rng)
        return cls(
            start,
            course,
            onset_a,
            duration_a,
            age,
            copd_a,
            baseline,
            severity,
            oxygen_at,
            confusion_at,
            omega,
            phase,
        )

    @property
    def n(self) -> int:
        return len(self.course)

    @property
    def spo2_scale(self) -> NDArray[np.int8]:
        """NEWS2 SpO2 scale a clinician would set: 2 for COPD (hypercapnic), else 1."""
        return np.where(self.copd, 2, 1).astype(np.int8)

    def state_at(self, t: ArrayLike, patients: ArrayLike | None = None) -> dict[str, NDArray]:
        """Vitals of `patients` (indices, default all) at time(s) t [s since start].

        t is a scalar or one time per patient asked for.  Returns each of VITALS
        as float64 [its unit], 'consciousness' as letters ('A' or 'C'), and
        'on_oxygen' as bool.
        """
        idx = np.arange(self.n) if patients is None else np.asarray(patients, dtype=np.intp)
        tt = np.broadcast_to(np.asarray(t, dtype=np.float64), idx.shape)
        values = (
            self.baseline[idx]
            + _rhythm(tt, self.start)
            + _noise(tt, self._noise_omega[idx], self._noise_phase[idx])
            + self._course_effect(tt, idx)
        )
        values = np.clip(values, LOW, HIGH)
        values[:, _DBP] = np.maximum(
            np.minimum(values[:, _DBP], values[:, _SBP] - _MIN_PULSE_PRESSURE), LOW[_DBP]
        )
        state: dict[str, NDArray] = {name: values[:, i] for i, name in enumerate(VITALS)}
        state["consciousness"] = np.where(tt >= self.confusion_at[idx], "C", "A")
        state["on_oxygen"] = tt >= self.oxygen_at[idx]
        return state

    def _course_effect(self, t: NDArray[np.float64], idx: NDArray[np.intp]) -> NDArray:
        course = self.course[idx]
        progress = _smoothstep((t - self.onset[idx]) / self.duration[idx])
        progress = np.where(_FALLING[course], 1.0 - progress, progress)
        effect = _DELTA[course] * self.severity[idx] * progress[:, None]
        # On oxygen, SpO2 heads for the prescribed target and breathing eases.
        since = np.maximum(t - self.oxygen_at[idx], 0.0)
        relief = -np.expm1(-since / _OXYGEN_TAU_S)  # 0 before oxygen (or never), then -> 1
        target = np.mean(_COPD_TARGET) - self.baseline[idx, _SPO2]
        effect[:, _SPO2] += relief * (target - effect[:, _SPO2])
        effect[:, [_RR, _HR]] *= (1.0 - 0.5 * relief)[:, None]
        return effect


def _course_codes(courses: Sequence[str] | NDArray[np.str_], n: int) -> NDArray[np.int8]:
    names = np.asarray(courses, dtype=str)
    if names.shape != (n,):
        raise ValueError(f"courses must name one course per patient ({n}), got {names.shape}")
    unknown = sorted(set(names.tolist()) - set(COURSE_NAMES))
    if unknown:
        raise ValueError(f"unknown course(s) {unknown}; known: {', '.join(COURSE_NAMES)}")
    lookup = {name: i for i, name in enumerate(COURSE_NAMES)}
    return np.array([lookup[c] for c in names.tolist()], dtype=np.int8)


def _per_patient(value: ArrayLike | None, n: int, default: float) -> NDArray[np.float64]:
    a = np.asarray(default if value is None else value, dtype=np.float64)
    return np.array(np.broadcast_to(a, (n,)))


def _fraction(course: NDArray[np.int8], which: str, rng: np.random.Generator) -> NDArray:
    """Per patient, U(range) of the course's `which` fraction, inf if it has none."""
    ranges = [getattr(c, which) for c in COURSES.values()]
    lo = np.array([r[0] if r else np.inf for r in ranges])
    span = np.array([r[1] - r[0] if r else 0.0 for r in ranges])
    return lo[course] + rng.random(len(course)) * span[course]


def _baselines(
    n: int, copd: NDArray[np.bool_], rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Ages [years] and each patient's own normal values (n, 6) [VITALS units].

    Virtual-ward patients are mostly older adults.  Normals are kept inside
    NEWS2's 0-point bands (news2.md), so a stable patient scores ~0; systolic
    rises with age (~0.5 mm[Hg]/year past 40); a COPD patient lives at SpO2
    88-92 % with a faster breathing rate.
    """
    age = rng.integers(40, 96, size=n)
    b = np.empty((n, len(VITALS)))
    b[:, _RR] = np.clip(rng.normal(15.0, 1.5, n) + 2.5 * copd, 12.5, 19.0)
    b[:, _SPO2] = np.where(
        copd, rng.uniform(*_COPD_TARGET, n), np.clip(rng.normal(97.0, 1.0, n), 96.0, 99.0)
    )
    b[:, _SBP] = np.clip(112 + 0.5 * (age - 40) + rng.normal(0, 10, n), 118, 165)
    b[:, _DBP] = np.clip(rng.normal(76, 7, n), 60, 92)
    b[:, _HR] = np.clip(rng.normal(72, 8, n) + 6 * copd, 56, 86)
    b[:, _TEMP] = np.clip(rng.normal(36.8, 0.2, n), 36.4, 37.3)
    return age, b


def _noise_features(
    n: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Angular frequencies [rad/s] and phases, (n, 6, 2 * _FEATURES)."""
    shape = (n, len(VITALS), _FEATURES)
    fast = np.abs(rng.standard_cauchy(shape)) / _NOISE_FAST_TAU[:, None]
    slow = np.abs(rng.standard_cauchy(shape)) / _NOISE_SLOW_TAU[:, None]
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, len(VITALS), 2 * _FEATURES))
    return np.concatenate([fast, slow], axis=2), phase


# Each feature's amplitude: sigma * sqrt(2 / K) gives the component variance sigma^2.
_NOISE_AMPLITUDE = np.sqrt(2.0 / _FEATURES) * np.concatenate(
    [
        np.repeat(_NOISE_FAST_SD[:, None], _FEATURES, 1),
        np.repeat(_NOISE_SLOW_SD[:, None], _FEATURES, 1),
    ],
    axis=1,
)


def _noise(t: NDArray[np.float64], omega: NDArray, phase: NDArray) -> NDArray[np.float64]:
    return np.einsum("mvk,vk->mv", np.cos(omega * t[:, None, None] + phase), _NOISE_AMPLITUDE)


def _rhythm(t: NDArray[np.float64], start: datetime) -> NDArray[np.float64]:
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    seconds_of_day = (start - midnight).total_seconds() + t
    angle = 2 * np.pi * (seconds_of_day - _RHYTHM_PEAK_S) / _DAY
    return np.cos(angle)[:, None] * _RHYTHM_AMPLITUDE


def _smoothstep(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)
