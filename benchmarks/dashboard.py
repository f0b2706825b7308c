"""The dashboard's part of `vward bench web`: the server time of the ward
view's refresh and of the patient page's charts over 7 days, each beside the
time of the same page's database queries alone, measured in the same run.

Called by api/bench.py with its signed-in client (a clinician's bearer
token, which the gate accepts for the dashboard) and its seeded ward."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg

from dashboard import queries
from ward import clinical

_WARD_OUTPUTS = [("ward-grid", "rowData"), ("ward-alerts", "rowData"),
                 ("ward-summary", "children"), ("ward-status", "children"),
                 ("ward-status", "className"), ("ward-choice", "data")]
_CHART_OUTPUTS = [("pt-head", "children"), ("pt-vitals", "figure"), ("pt-scores", "figure"),
                  ("pt-resolution", "children")]


def _callback_body(outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]]) -> dict:
    """A callback request as the browser sends it."""
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }


def _time_callback(client, label: str, body: dict, sql, reps: int, note: str):
    from benchmarks.web import Timing, _median_ms

    server, round_trip, sql_side = [], [], []
    for i in range(reps + 2):  # two rounds of warm-up
        t0 = time.perf_counter()
        r = client.post("/_dash-update-component", json=body)
        elapsed = time.perf_counter() - t0
        r.raise_for_status()
        t1 = time.perf_counter()
        sql()
        sql_elapsed = time.perf_counter() - t1
        if i >= 2:
            server.append(float(r.headers["server-timing"].split("dur=")[1]) / 1000)
            round_trip.append(elapsed)
            sql_side.append(sql_elapsed)
    return Timing(label, _median_ms(server), _median_ms(round_trip), _median_ms(sql_side), note,
                  server)


def timings(client, data, settings, *, reps: int = 15) -> list:
    """[Timing] of the ward view and of a patient page over 7 days."""
    conn = psycopg.connect(settings.dsn, autocommit=True)
    freshness = timedelta(minutes=settings.freshness_minutes)
    week = data.week_patient

    def ward_sql():
        now = data.now
        queries.ward_patients(conn, data.ward_id, now=now, freshness=freshness)
        queries.open_alerts(conn, data.ward_id)

    def chart_sql():
        now = data.now
        start = now - timedelta(days=7)
        queries.patient(conn, week)
        queries.observations(conn, week, start, now)
        queries.score_history(conn, week, start, now)
        queries.latest_score(conn, week)
        clinical.current_settings(conn, week, now)

    try:
        ward = _time_callback(
            client, f"dashboard ward view, {len(data.patient_ids)} patients",
            _callback_body(_WARD_OUTPUTS, [("ward-tick", "n_intervals", 1),
                                           ("ward-select", "value", data.ward_id),
                                           ("ward-alert-version", "data", 0)]),
            ward_sql, reps, "grid rows and alerts, as data")
        chart = _time_callback(
            client, "dashboard patient page, 7 days",
            _callback_body(_CHART_OUTPUTS, [("pt-id", "data", week),
                                            ("pt-range", "value", "7 days"),
                                            ("pt-chart-tick", "n_intervals", 1),
                                            ("pt-settings-version", "data", 0)]),
            chart_sql, reps, "NEWS2 chart figures, bucketed in SQL")
    finally:
        conn.close()
    return [ward, chart]
