"""A fixed sample of a ward's history, and its scores as text, for the test that the
engine's speed-ups of issue 12 changed no score (test_rescore_unchanged.py).

The sample is built from a seed and fixed times only, so that the commit before
issue 12 (9297a94) and today's code score exactly the same readings: its scores,
rescored by 9297a94's engine, are in ``tests/data/rescore_before_issue12.txt.gz``
(made by ``python tests/alerts/rescore_sample.py OUT`` with that commit's tree on
PYTHONPATH; see ``make_golden``).  It imports nothing of the ward's at module level
for that reason."""

from __future__ import annotations

import gzip
import sys
from datetime import UTC, datetime, timedelta

import numpy as np

START = datetime(2026, 11, 20, tzinfo=UTC)
HOURS = 48
NOW = START + timedelta(hours=HOURS, minutes=30)
PATIENTS = 16
WARD = "ward-golden"
# Each parameter's rhythm [min] on a patch-and-spot-check ward, and the values it
# takes: wide, so that every band of every parameter is visited, edges included.
_EVERY = {"spo2": 5, "heart_rate": 5, "respiratory_rate": 45, "systolic_bp": 60,
          "temperature": 180, "consciousness": 240, "on_oxygen": 240}
_RANGE = {"respiratory_rate": (6, 30), "spo2": (84, 100), "systolic_bp": (85, 225),
          "heart_rate": (35, 135), "temperature": (34.5, 39.5)}
SCORE_COLUMNS = ("time, patient_id, total, band, max_single, complete, missing, sub_scores,"
                 " inputs, spo2_scale, overridden, overridden_parameters, adjusted_total,"
                 " adjusted_band, input_times, stale, monitoring_band")


def patient_ids() -> list[tuple[str, str]]:
    return [(f"golden-pat-{i:02d}", f"golden-dev-{i:02d}") for i in range(PATIENTS)]


def readings() -> list[tuple[datetime, str, str, str, float]]:
    """(time, patient, device, type, value): each parameter on its own jittered rhythm;
    some patients go silent for hours (values age out), some skip whole parameters."""
    rng = np.random.default_rng(20261203)
    out = []
    for i, (patient, device) in enumerate(patient_ids()):
        silent = (10 + i, 10 + i + (i % 5) * 3)  # [h) of silence, none for i % 5 == 0
        skipped = {list(_EVERY)[i % 7]} if i % 3 == 1 else set()
        for name, every in _EVERY.items():
            if name in skipped:
                continue
            t = START + timedelta(minutes=float(rng.uniform(0, every)))
            while t < START + timedelta(hours=HOURS):
                hour = (t - START) / timedelta(hours=1)
                if not silent[0] <= hour < silent[1]:
                    out.append((t, patient, device, name, _value(name, rng)))
                t += timedelta(minutes=every * float(rng.uniform(0.7, 1.3)))
    return out


def _value(name: str, rng: np.random.Generator) -> float:
    if name == "on_oxygen":
        return float(rng.random() < 0.2)
    if name == "consciousness":
        return float(rng.choice(5, p=[0.8, 0.08, 0.05, 0.04, 0.03]))
    low, high = _RANGE[name]
    value = float(rng.uniform(low, high))
    return round(value, 1) if name == "temperature" else float(round(value))


def as_text(rows) -> list[str]:
    """Score rows as canonical lines: every field's repr, so equal lines are equal bits."""
    return ["|".join(repr(v) for v in row) for row in rows]


def make_golden(out: str) -> None:
    """Score the sample with the engine on PYTHONPATH, in services of its own, and
    write its scores as gzipped lines."""
    from alerts.engine import Engine, rescore
    from ward import db, devices, services

    # 9297a94's names: ward.services.scratch, rescore(engine, ...).
    with services.scratch("vward-golden-") as settings, \
            db.connect(settings, autocommit=True) as conn:
        devices.register_devices(
            conn, [devices.NewDevice(d, p, WARD, "generic") for p, d in patient_ids()],
            valid_from=START - timedelta(days=1))
        with conn.cursor() as cur, cur.copy(
                "COPY observations (time, patient_id, device_id, type, value)"
                " FROM STDIN") as copy:
            for row in readings():
                copy.write_row(row)
        engine = Engine.from_settings(conn, settings)
        rescore(engine, [p for p, _ in patient_ids()], START - timedelta(days=1), NOW,
                chunk=7, progress=False)
        rows = conn.execute(f"SELECT {SCORE_COLUMNS} FROM scores"
                            " ORDER BY patient_id, time").fetchall()
    with gzip.open(out, "wt") as f:
        f.write("\n".join(as_text(rows)) + "\n")
    print(f"{len(rows)} scores written to {out}")


if __name__ == "__main__":
    make_golden(sys.argv[1])
