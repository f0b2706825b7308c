"""`vward bench web`: server times of the web app's heaviest reads beside
the time of their SQL alone, measured in the same run on services of its
own (a temporary PostgreSQL+TimescaleDB and the configured broker).

The data: a ward of 500 patients, each with a recent reading set, a score
and (one in ten) an open alert, and one patient with 7 days of one-minute
readings of every NEWS2 parameter.  The app runs under uvicorn in this
process; its time is read from the `Server-Timing` header (time inside the
app up to its first byte: auth, pool, SQL, rows into models, JSON), beside
the client's round trip, and the same SQL is timed alone on a plain
connection, alternating with the requests so that both see the same load.

Dashboard pages: `web_dashboard.timings(client, seed, settings)` returns more
`Timing`s, measured the same way (web_timing.py) with the signed-in client
given here; they are printed in the same table."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from api import accounts, queries, series
from api.app import create_app
from benchmarks import web_dashboard
from benchmarks.web_timing import Seed, Timing, time_request
from ingest import mqtt_session
from ward import db, devices, scratch, team_store
from ward.news2_chart import PARAMETERS
from ward.settings import Settings

WARD = "bench-ward"


# ---------------------------------------------------------------- seed


def _vitals(rng: random.Random) -> list[float]:
    return [rng.uniform(12, 24), rng.uniform(90, 99), float(rng.random() < 0.1),
            rng.uniform(95, 150), rng.uniform(55, 115), float(rng.random() < 0.03),
            rng.uniform(36.0, 38.6)]


def seed(settings: Settings, n_patients: int, days: int) -> Seed:
    rng = random.Random(7)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    patients = [f"bp-{i:04d}" for i in range(n_patients)]
    with db.connect(settings) as conn:
        devices.ensure_ward(conn, WARD, name="Benchmark ward")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO patients (patient_id, ward_id, admitted_at)"
                            " VALUES (%s, %s, %s)",
                            [(p, WARD, now - timedelta(days=days + 1)) for p in patients])
            with cur.copy("COPY observations (time, patient_id, device_id, type, value)"
                          " FROM STDIN") as copy:
                for p in patients:
                    for ty, v in zip(PARAMETERS, _vitals(rng), strict=True):
                        copy.write_row((now - timedelta(minutes=rng.randint(1, 60)), p,
                                        f"dev-{p}", ty, v))
                week = patients[0]
                minutes = days * 24 * 60
                for m in range(minutes):
                    t = now - timedelta(minutes=minutes - m)
                    for ty, v in zip(PARAMETERS, _vitals(rng), strict=True):
                        copy.write_row((t, week, f"patch-{week}", ty, v))
            bands = ("zero", "low", "low", "low-medium", "medium", "high")
            with cur.copy("COPY scores (time, patient_id, total, band, max_single, complete,"
                          " missing, sub_scores, inputs, spo2_scale) FROM STDIN") as copy:
                for p in patients:
                    band = rng.choice(bands)
                    total = {"zero": 0, "low": 2, "low-medium": 3, "medium": 5, "high": 8}[band]
                    copy.write_row((now - timedelta(minutes=5), p, total, band, min(total, 3),
                                    True, [], [0, 1, 0, 0, 1, 0, 0], _vitals(rng), 1))
            cur.executemany(
                "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state,"
                " reason, condition_time, opened_at, updated_at, last_notified_severity)"
                " VALUES (%s, %s, 'news2', 'clinical', 'urgent', 'open', 'bench', %s, %s, %s,"
                " 'urgent')", [(p, WARD, now, now, now) for p in patients[::10]])
        conn.commit()
        conn.autocommit = True
        for table in ("patients", "observations", "scores", "alerts"):
            conn.execute(f"ANALYZE {table}")
    return Seed(WARD, patients, patients[0], now)


# ---------------------------------------------------------------- timing


def time_endpoint(client: httpx.Client, label: str, path: str, reps: int, *,
                  params: dict | None = None, sql: Callable[[], object] | None = None,
                  note: str = "") -> Timing:
    """Median server and client time of GET `path`, and of `sql()` alone [ms]."""
    return time_request(lambda: client.get(path, params=params), label, reps, sql=sql, note=note)


def _sql(conn: psycopg.Connection, query: str, params: dict) -> Callable[[], object]:
    """The query as the app runs it, rows fetched as plain tuples."""
    return lambda: conn.execute(query, params).fetchall()


class _Server:
    """The app under uvicorn, in a thread of this process."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        self.port = scratch.free_port()
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="bench-web", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web app did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def measure(settings: Settings, data: Seed, reps: int) -> list[Timing]:
    with db.connect(settings, autocommit=True) as conn:
        user = accounts.create_user(conn, "bench-clinician", "clinician", "bench-password")
        # A clinician sees only their team's wards (ward/access.py): on the bench's ward.
        team_store.join(conn, data.ward_id, user.name, by="vward bench web")
        token = accounts.issue_user_token(conn, user, "bench")
    week = data.week_patient
    span = {"start": (data.now - timedelta(days=7)).isoformat(), "end": data.now.isoformat()}
    day = {"start": (data.now - timedelta(days=1)).isoformat(), "end": data.now.isoformat()}
    bucket_sql = {"patient": week, "types": None, "bucket": timedelta(minutes=15),
                  "start": data.now - timedelta(days=7), "end": data.now}
    raw_sql = {"patient": week, "types": None, "limit": 200_001,
               "start": data.now - timedelta(days=1), "end": data.now}
    out: list[Timing] = []
    with _Server(settings) as base, httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client, \
            psycopg.connect(settings.dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        out.append(time_endpoint(
            client, f"ward summary, {len(data.patient_ids)} patients",
            f"/api/v1/wards/{data.ward_id}/summary", reps,
            sql=_sql(conn, queries.WARD_SUMMARY_SQL,
                     queries.ward_summary_params(data.ward_id, data.now))))
        out.append(time_endpoint(
            client, "one patient, 7 days bucketed 15 min", f"/api/v1/patients/{week}/observations",
            reps, params={**span, "bucket": "15m"}, sql=_sql(conn, series.BUCKET_SQL, bucket_sql),
            note="7 types x 672 buckets, avg/min/max/count"))
        out.append(time_endpoint(
            client, "one patient, 24 h raw", f"/api/v1/patients/{week}/observations",
            reps, params=day, sql=_sql(conn, series.RAW_SQL, raw_sql),
            note="7 types x 1,440 readings"))
        out.extend(web_dashboard.timings(client, data, settings))
    return out


def run(quick: bool = False) -> list[Timing]:
    n_patients, days, reps = (100, 7, 5) if quick else (500, 7, 30)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with scratch.running("vward-bench-web-", ingest_session=mqtt_session.ensure) as settings:
        print(f"seeding {n_patients} patients and {days} days of one-minute data ...", flush=True)
        data = seed(settings, n_patients, days)
        print(f"timing, median of {reps} requests each ...", flush=True)
        return measure(settings, data, reps)


def format_report(timings: list[Timing]) -> str:
    lines = ["web benchmark (2-core machine; figures vary run to run, ratios are within one run)",
             f"  {'':<40} {'server':>9} {'client':>9} {'SQL alone':>10} {'server/SQL':>11}"]
    for t in timings:
        sql = f"{t.sql_ms:>8.1f}ms" if t.sql_ms is not None else f"{'-':>10}"
        ratio = f"{t.server_ms / t.sql_ms:>10.1f}x" if t.sql_ms else f"{'-':>11}"
        lines.append(f"  {t.label:<40} {t.server_ms:>7.1f}ms {t.client_ms:>7.1f}ms {sql} {ratio}")
        if t.note:
            lines.append(f"    ({t.note})")
    return "\n".join(lines)


def main(args, settings: Settings) -> int:
    print(format_report(run(quick=args.quick)))
    return 0
