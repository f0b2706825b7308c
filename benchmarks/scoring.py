"""`vward bench scoring`: how fast the ward scores, three ways.

1. The NEWS2 core on 1,000,000 sets: vectorised numpy against per-row Python
   and a memory-read floor (news2_core.py).
2. Rescore throughput: 10,000,000 observations (1,000,000 with --quick) COPied
   into a throwaway database of the benchmark's own, then rescored from
   scratch through the engine's own path (``engine.rescore``, as `vward
   rescore` does): read, score, write scores, reconcile alerts.
3. End-to-end latency: 1,000 patients each sending a reading set every second
   for 20 s, written as ingest writes them (readings and queue row in one
   transaction, queued and NOTIFYed by ``ward.score_queue`` as ingest does); a
   real `vward alerts` process scores them; the latency of a set is its
   score's ``scored_at`` minus its commit time.

Figures are printed, never asserted: they vary with the machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

from alerts.engine import Engine
from alerts.rescore import rescore
from benchmarks import news2_core
from ingest import mqtt_session
from ward import db, devices, score_queue, scratch
from ward.news2_chart import PARAMETERS
from ward.settings import Settings

_SET_EVERY = timedelta(minutes=10)  # rescore data: a full set per patient every 10 min
_PATIENTS = 1000
_NORMAL = np.array([16, 97, 0, 125, 78, 0, 37.0])  # PARAMETERS order
_SPREAD = np.array([3, 2, 0, 15, 12, 0, 0.5])
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SPO2, _OXYGEN, _ACVPU, _TEMPERATURE = (
    PARAMETERS.index(p) for p in ("spo2", "on_oxygen", "consciousness", "temperature"))


# --- 1. the core -------------------------------------------------------------------------


def core_lines(n: int) -> list[str]:
    return news2_core.run_core(n)


# --- 2. rescore throughput ---------------------------------------------------------------


def _patient(i: int) -> str:
    return f"bench-p{i:05d}"


def _device(i: int) -> str:
    return f"bench-d{i:05d}"


def _register(settings: Settings, n: int, ward: str) -> None:
    with db.connect(settings) as conn:
        devices.register_devices(conn, [devices.NewDevice(_device(i), _patient(i), ward)
                                        for i in range(n)],
                                 valid_from=datetime.now(UTC) - timedelta(days=60))


def _copy_block(patients: np.ndarray, sets: int, start: datetime, rng) -> list[bytes]:
    """Binary COPY rows for ``sets`` full sets of each patient, one block per parameter
    (rows of one parameter all have one size, so a numpy structured array builds them)."""
    times = (np.arange(sets, dtype=np.int64) * int(_SET_EVERY / timedelta(microseconds=1))
             + int((start - _PG_EPOCH) / timedelta(microseconds=1)))
    p = np.repeat(patients, sets)
    t = np.tile(times, len(patients))
    drift = rng.normal(0, 1, (len(p), len(PARAMETERS)))
    values = np.round(_NORMAL + drift * _SPREAD, 1)
    values[:, _SPO2] = np.minimum(values[:, _SPO2], 100)
    values[:, _OXYGEN] = rng.random(len(p)) < 0.05
    values[:, _ACVPU] = np.where(rng.random(len(p)) < 0.01, 1, 0)
    blocks = []
    for k, name in enumerate(PARAMETERS):
        dtype = np.dtype([("n", ">i2"), ("l0", ">i4"), ("time", ">i8"), ("l1", ">i4"),
                          ("patient", "S12"), ("l2", ">i4"), ("device", "S12"), ("l3", ">i4"),
                          ("type", f"S{len(name)}"), ("l4", ">i4"), ("value", ">f8")])
        rows = np.zeros(len(p), dtype=dtype)
        rows["n"], rows["l0"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = (
            5, 8, 12, 12, len(name), 8)
        rows["time"] = t
        rows["patient"] = np.char.add(b"bench-p", np.char.zfill(p.astype("S5"), 5))
        rows["device"] = np.char.add(b"bench-d", np.char.zfill(p.astype("S5"), 5))
        rows["type"] = name.encode()
        rows["value"] = values[:, k]
        blocks.append(rows.tobytes())
    return blocks


def load_observations(settings: Settings, n_obs: int, rng) -> tuple[int, float]:
    """COPY ``n_obs`` observations (full sets of 1,000 patients); (rows, rows/s)."""
    sets = max(1, n_obs // (_PATIENTS * len(PARAMETERS)))
    start = datetime.now(UTC) - sets * _SET_EVERY - timedelta(hours=1)
    rows = 0
    t0 = time.perf_counter()
    with psycopg.connect(settings.dsn) as conn, conn.cursor() as cur:
        for first in range(0, _PATIENTS, 50):
            patients = np.arange(first, min(first + 50, _PATIENTS))
            with cur.copy("COPY observations (time, patient_id, device_id, type, value)"
                          " FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
                for block in _copy_block(patients, sets, start, rng):
                    copy.write(block)
                copy.write(b"\xff\xff")
            rows += len(patients) * sets * len(PARAMETERS)
        conn.commit()
        conn.execute("ANALYZE observations")
    return rows, rows / (time.perf_counter() - t0)


def rescore_throughput(settings: Settings, n_obs: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    _register(settings, _PATIENTS, "bench")
    print(f"COPY {n_obs:,} observations of {_PATIENTS:,} patients ...", flush=True)
    rows, copy_rate = load_observations(settings, n_obs, rng)
    print(f"rescoring {rows:,} observations from scratch ...", flush=True)
    with db.connect(settings, autocommit=True) as a, db.connect(settings, autocommit=True) as b:
        engines = [Engine.from_settings(a, settings), Engine.from_settings(b, settings)]
        ids = [_patient(i) for i in range(_PATIENTS)]
        t0 = time.perf_counter()
        rescore(engines, ids, datetime(1970, 1, 1, tzinfo=UTC), datetime.now(UTC), chunk=100)
        elapsed = time.perf_counter() - t0
        c = sum((e.counts for e in engines), Counter())
        t = {k: sum(e.timings[k] for e in engines) / len(engines) for k in engines[0].timings}
    return {"observations": c["observations"], "scores": c["scores"], "seconds": elapsed,
            "obs_per_s": c["observations"] / elapsed, "scores_per_s": c["scores"] / elapsed,
            "copy_per_s": copy_rate, **{f"t_{k}": v for k, v in t.items()}}


# --- 3. end-to-end latency ---------------------------------------------------------------


def _write_sets(settings: Settings, n_patients: int, seconds: float, first: int,
                commits: dict[tuple[str, datetime], float]) -> int:
    """Write one set per patient per second as ingest does, in 50 ms batches; record each
    set's commit time [epoch s]."""
    rng = np.random.default_rng(1)
    # Stable patients, as most of a ward is: a baseline each, readings jittering around it.
    baseline = np.round(_NORMAL + rng.normal(0, 0.5, (n_patients, len(PARAMETERS))) * _SPREAD)
    baseline[:, _TEMPERATURE] = 37.0
    per_batch = max(1, n_patients // 20)
    written = 0
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        start = time.monotonic()
        first_time = datetime.now(UTC).replace(microsecond=0)
        tick = 0
        while time.monotonic() - start < seconds:
            t = first_time + timedelta(seconds=tick)  # one set per patient per second
            for b in range(0, n_patients, per_batch):
                due = start + tick + b / n_patients
                if (delay := due - time.monotonic()) > 0:
                    time.sleep(delay)
                ids = [_patient(first + i) for i in range(b, min(b + per_batch, n_patients))]
                values = baseline[b:b + len(ids)] + np.round(
                    rng.normal(0, 0.4, (len(ids), len(PARAMETERS))))
                values[:, [_OXYGEN, _ACVPU]] = baseline[b:b + len(ids), [_OXYGEN, _ACVPU]]
                values[:, _SPO2] = np.minimum(values[:, _SPO2], 100)
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy("COPY observations (time, patient_id, device_id, type, value)"
                                  " FROM STDIN") as copy:
                        for pid, row in zip(ids, values, strict=True):
                            device = pid.replace("-p", "-d")
                            for name, v in zip(PARAMETERS, row, strict=True):
                                copy.write_row((t, pid, device, name, float(v)))
                    score_queue.enqueue(cur, ids, [t] * len(ids))
                committed = time.time()
                for pid in ids:
                    commits[(pid, t)] = committed
                written += len(ids)
            tick += 1
    return written


def _queued(conn: psycopg.Connection, wards: list[str]) -> int:
    row = conn.execute("SELECT count(*) FROM score_queue q JOIN patients p USING (patient_id)"
                       " WHERE p.ward_id = ANY(%s)", (wards,)).fetchone()
    return row[0] if row else 0


def latency(settings: Settings, n_patients: int, seconds: float, *, engines: int = 1,
            first: int = _PATIENTS, tag: str = "live") -> dict[str, float]:
    """Commit → stored score of one set per patient per second for ``seconds``, scored by
    ``engines`` real `vward alerts` processes, each on a ward of its own (the patients
    dealt round the wards): partitioned as docs/scaling.md says.  ``first`` numbers the
    patients (a run's own, beside the rescore's); ``tag`` names the run's wards."""
    wards = [f"bench-{tag}-{k}" for k in range(engines)]
    with db.connect(settings) as conn:
        devices.register_devices(
            conn, [devices.NewDevice(_device(first + i), _patient(first + i), wards[i % engines])
                   for i in range(n_patients)],
            valid_from=datetime.now(UTC) - timedelta(days=1))
    commits: dict[tuple[str, datetime], float] = {}
    with _engines(settings, wards) as logs:
        print(f"{n_patients:,} patients, a set each per second for {seconds:.0f} s,"
              f" {engines} engine{'s' if engines > 1 else ''} ...", flush=True)
        sets = _write_sets(settings, n_patients, seconds, first, commits)
        with psycopg.connect(settings.dsn, autocommit=True) as conn:
            deadline = time.monotonic() + (120 if n_patients > 200 else 20)
            while _queued(conn, wards):
                if time.monotonic() > deadline:
                    raise RuntimeError("the engines did not empty the queue in 120 s:\n"
                                       + logs[0].read_text(errors="replace")[-3000:])
                time.sleep(0.2)
            rows = conn.execute(
                "SELECT s.patient_id, s.time, extract(epoch FROM s.scored_at) FROM scores s"
                " JOIN patients p USING (patient_id) WHERE p.ward_id = ANY(%s)",
                (wards,)).fetchall()
    delays = sorted(float(scored) - commits[(pid, t)] for pid, t, scored in rows
                    if (pid, t) in commits)
    if not delays:
        raise RuntimeError("no set was scored")
    span = max(float(r[2]) for r in rows) - min(commits.values())
    return {"sets": sets, "scored": len(delays), "p50_ms": 1000 * statistics.median(delays),
            "p99_ms": 1000 * delays[min(len(delays) - 1, int(0.99 * len(delays)))],
            "max_ms": 1000 * delays[-1], "seconds": seconds, "patients": n_patients,
            "engines": engines, "rate": len(delays) / span}


@contextmanager
def _engines(settings: Settings, wards: list[str]) -> Iterator[list[Path]]:
    """A real `vward alerts` process per ward, started together and caught up; stopped
    after.  Yields their logs."""
    procs, logs = [], []
    try:
        for ward in wards:
            env = {**settings.as_env(), "VWARD_ALERTS_WARDS": ward,
                   "VWARD_ALERTS_ENGINE_ID": f"bench-engine-{ward}", "PATH": "/usr/bin:/bin"}
            logs.append(settings.home / f"bench-alerts-{ward}.log")
            with open(logs[-1], "wb") as out:
                procs.append(subprocess.Popen([sys.executable, "-m", "ward.cli", "alerts"],
                                              env=env, stdout=out, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        for proc, log in zip(procs, logs, strict=True):
            while "catching up" not in log.read_text(errors="replace"):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the alerts engine did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield logs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)


# --- the report --------------------------------------------------------------------------


def run(quick: bool) -> list[str]:
    lines = core_lines(100_000 if quick else 1_000_000)
    with scratch.running("vward-bench-scoring-", ingest_session=mqtt_session.ensure) as settings:
        r = rescore_throughput(settings, 1_000_000 if quick else 10_000_000)
        lt = latency(settings, 200 if quick else 1000, 5 if quick else 20)
    steps = ", ".join(f"{k[2:]} {v:.1f} s" for k, v in r.items() if k.startswith("t_"))
    lines += [
        f"Rescore from raw observations ({_PATIENTS:,} patients, engine path, 100 per"
        " transaction, two connections as `vward rescore`):",
        f"  {r['observations']:,} observations → {r['scores']:,} scores in {r['seconds']:.1f} s:"
        f" {r['obs_per_s'] / 1e6:.2f} M observations/s, {r['scores_per_s']:,.0f} scores/s",
        f"  time by step (each connection's): {steps}"
        f"  (loading them by COPY ran at {r['copy_per_s']:,.0f} rows/s)",
        f"End-to-end, commit → stored score ({lt['patients']:,} patients, a set each per second,"
        f" {lt['seconds']:.0f} s, one engine):",
        f"  {lt['scored']:,} of {lt['sets']:,} sets: p50 {lt['p50_ms']:.0f} ms,"
        f" p99 {lt['p99_ms']:.0f} ms, max {lt['max_ms']:.0f} ms; {lt['rate']:,.0f} sets/s",
    ]
    return lines


def main(args, settings: Settings) -> int:
    for line in run(quick=args.quick):
        print(line)
    return 0


if __name__ == "__main__":
    print("\n".join(run(quick="--quick" in sys.argv)))
