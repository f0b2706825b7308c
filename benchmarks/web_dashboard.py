"""The dashboard's part of `vward bench web`: the server time of the ward
view's refresh and of the patient page's charts over 7 days, each beside the
time of the same page's database queries alone, measured in the same run.

Called by web.py with its signed-in client (a clinician's bearer token,
which the gate accepts for the dashboard) and its seeded ward; timed by
web_timing.py's loop, as the API's reads are."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import psycopg

from benchmarks.web_timing import Seed, Timing, time_request
from dashboard import queries
from ward import clinical
from ward.settings import Settings

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


def _time_callback(client: httpx.Client, label: str, body: dict, sql: Callable[[], object],
                   reps: int, note: str) -> Timing:
    return time_request(lambda: client.post("/_dash-update-component", json=body), label, reps,
                        sql=sql, note=note)


def timings(client: httpx.Client, data: Seed, settings: Settings, *,
            reps: int = 15) -> list[Timing]:
    """The ward view and a patient page over 7 days."""
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
