"""The ward `vward bench realtime` starts from, as production looks: every
patient registered with a device (the path of `vward device add`, and the
broker given their credentials), days of reading sets in `observations`
(binary COPY, straight into the hypertable: ingest would take minutes), and
their scores, computed by `vward rescore`, the engine's own scoring path, so
the engine starts from a scored ward."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from benchmarks import realtime_vitals as vitals
from ward import broker, db, devices
from ward.news2_chart import PARAMETERS
from ward.settings import Settings

SET_EVERY = timedelta(minutes=15)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_COPY_PATIENTS = 100  # patients per COPY block
_COPY_SQL = ("COPY observations (time, patient_id, device_id, type, value)"
             " FROM STDIN (FORMAT BINARY)")


@dataclass(frozen=True, slots=True)
class Ward:
    """The bench's ward: patient i wears device i."""

    ward_id: str
    prefix: str
    patients: int

    def patient(self, i: int) -> str:
        return f"{self.prefix}-p{i:05d}"

    def device(self, i: int) -> str:
        return f"{self.prefix}-d{i:05d}"


def register(settings: Settings, ward: Ward, valid_from: datetime) -> dict[str, str]:
    """Every patient's device, as `vward device add` registers it; the broker is
    given the credentials.  Returns each device's MQTT password."""
    new = [devices.NewDevice(ward.device(i), ward.patient(i), ward.ward_id, "patch")
           for i in range(ward.patients)]
    with db.connect(settings) as conn:
        passwords = devices.register_devices(conn, new, valid_from=valid_from)
        conn.commit()
        if broker.manages_users(settings):
            broker.sync_users(settings, conn)
    return passwords


def _copy_rows(ward: Ward, first: int, count: int, times_us: np.ndarray,
               rng: np.random.Generator) -> bytes:
    """Binary COPY rows of `count` patients from `first`, a full set at each time,
    one block per parameter (rows of one parameter all have one size)."""
    ids = np.arange(first, first + count)
    p = np.repeat(ids, len(times_us))
    t = np.tile(times_us, count)
    base = np.repeat(vitals.baselines(count, rng), len(times_us), axis=0)
    values = vitals.as_parameters(vitals.sets(base, rng))
    patient = np.array([ward.patient(i).encode() for i in ids])[p - first]
    device = np.array([ward.device(i).encode() for i in ids])[p - first]
    width = len(patient[0])
    parts = []
    for k, name in enumerate(PARAMETERS):
        dtype = np.dtype([("n", ">i2"), ("l0", ">i4"), ("time", ">i8"), ("l1", ">i4"),
                          ("patient", f"S{width}"), ("l2", ">i4"), ("device", f"S{width}"),
                          ("l3", ">i4"), ("type", f"S{len(name)}"), ("l4", ">i4"),
                          ("value", ">f8")])
        rows = np.zeros(len(p), dtype=dtype)
        rows["n"], rows["l0"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = (
            5, 8, width, width, len(name), 8)
        rows["time"], rows["patient"], rows["device"] = t, patient, device
        rows["type"], rows["value"] = name.encode(), values[:, k]
        parts.append(rows.tobytes())
    return b"".join(parts)


def load(settings: Settings, ward: Ward, *, days: float, end: datetime) -> tuple[int, float]:
    """COPY `days` of sets every SET_EVERY up to `end` for every patient;
    (rows, seconds)."""
    sets = max(1, int(timedelta(days=days) / SET_EVERY))
    step_us = int(SET_EVERY / timedelta(microseconds=1))
    last_us = int((end - _PG_EPOCH) / timedelta(microseconds=1))
    times_us = last_us - step_us * np.arange(sets - 1, -1, -1, dtype=np.int64)
    rng = np.random.default_rng(12)
    rows, t0 = 0, time.perf_counter()
    with psycopg.connect(settings.dsn) as conn, conn.cursor() as cur:
        for first in range(0, ward.patients, _COPY_PATIENTS):
            count = min(_COPY_PATIENTS, ward.patients - first)
            with cur.copy(_COPY_SQL) as copy:
                copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
                copy.write(_copy_rows(ward, first, count, times_us, rng))
                copy.write(b"\xff\xff")
            rows += count * sets * len(PARAMETERS)
        conn.commit()
        # Statistics on every table, as autovacuum keeps them on a ward that has run
        # for a day: without them the planner takes the just-registered devices and
        # patients for a handful of rows (a nested loop that made each tick 300 ms).
        conn.execute("ANALYZE")
    return rows, time.perf_counter() - t0


def rescore(env: dict[str, str], ward: Ward, since: datetime) -> tuple[str, float]:
    """`vward rescore` of the ward's patients from `since`; (its summary, seconds)."""
    args = [sys.executable, "-m", "ward.cli", "rescore", "--since", since.isoformat()]
    for i in range(ward.patients):
        args += ["--patient", ward.patient(i)]
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"vward rescore failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout.strip().splitlines()[-1], time.perf_counter() - t0
