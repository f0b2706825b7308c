"""The ward view: every patient, sickest first, refreshed in place every few
seconds (AG Grid rowData keyed by patient, so scroll and selection stay),
with the open alerts beside it."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import Input, Output, Patch, State, dcc, html

from dashboard import deps, protocol_rows, queries, rows
from dashboard import format as fmt
from dashboard import layout as frame
from dashboard.figures import BAND_LABELS
from dashboard.pages import Page
from ward import pause_records

PAGE = Page(__name__, path="/", name="Ward", title="Ward — Virtual ward")

REFRESH_MS = 3_000  # the view is never more than ~5 s behind the database


def _band_rules() -> dict[str, str]:
    return {f"band-{b}": f"params.data.band == '{b}'" for b in (*BAND_LABELS, "none")}


def _sub_rules(key: str) -> dict[str, str]:
    return {f"sub-{s}": f"params.data.{key}_s == {s}" for s in (0, 1, 2, 3)} | {
        "sub-missing": f"params.data.{key}_s < 0", "is-stale": f"params.data.{key}_stale"}


def _vital(key: str, header: str, width: int = 68) -> dict:
    """A value over its own age ('98' over '11 h'), coloured by its sub-score, greyed
    when stale (dashboard.rows.vital_cells); the tooltip says when it was measured."""
    return {"field": key, "headerName": header, "width": width, "sortable": False,
            "cellClassRules": _sub_rules(key), "type": "rightAligned",
            "cellRenderer": "Vital", "tooltipField": f"{key}_tip"}


COLUMNS = [
    {"field": "rank", "headerName": "#", "width": 52, "pinned": "left", "sort": "asc",
     "sortingOrder": ["asc", "desc"]},
    {"field": "name", "headerName": "Patient", "width": 140, "pinned": "left",
     "cellRenderer": "PatientLink",
     "getQuickFilterText": {"function": "params.data.name + ' ' + params.data.patient_id"}},
    {"field": "score", "headerName": "NEWS2", "width": 158, "cellClassRules": _band_rules(),
     "tooltipField": "score_detail", "sortable": False},
    {"field": "trend", "headerName": "24 h", "width": 100, "cellRenderer": "Sparkline",
     "sortable": False},
    _vital("rr", "RR", 64), _vital("spo2", "SpO₂", 84), _vital("o2", "Air/O₂", 76),
    _vital("sbp", "SBP"), _vital("hr", "Pulse", 72), _vital("acvpu", "ACVPU", 84),
    _vital("temp", "Temp", 70),
    {"field": "measured", "headerName": "Complete set", "width": 136,
     "tooltipField": "measured_at", "cellClassRules": {"is-overdue": "params.data.overdue"},
     "sortable": False},
    {"field": "flags", "headerName": "Flags", "minWidth": 130, "flex": 1,
     "cellClassRules": {"is-overdue": "params.data.overdue",
                        "is-incomplete": "params.data.incomplete && !params.data.overdue"},
     "tooltipField": "flags"},
    {"field": "devices", "headerName": "Devices", "width": 120, "tooltipField": "devices_detail",
     "cellClassRules": {"device-problem": "params.data.device_problem"}},
    {"field": "alerts", "headerName": "Alerts", "width": 124, "tooltipField": "alert_detail",
     "cellClassRules": {f"sev-{s.lower()}": f"params.data.alert_severity == '{s.lower()}'"
                        for s in queries.SEVERITIES} | {"alert-new": "params.data.alert_new"}},
]


def layout(ward: str | None = None, **_query) -> html.Div:
    try:
        select = frame.ward_select("ward-select", ward)
    except deps.DatabaseUnavailable as exc:
        return frame.unavailable(str(exc))
    return html.Div([
        dcc.Interval(id="ward-tick", interval=REFRESH_MS),
        html.Div([
            select,
            dcc.Input(id="ward-search", type="search", placeholder="Search patient (name or id)",
                      debounce=False, className="vw-search", value=""),
            html.Div(id="ward-summary", className="vw-summary"),
            html.Div(id="ward-status", className="vw-status", role="status"),
        ], className="vw-toolbar"),
        html.Div([
            dag.AgGrid(
                id="ward-grid", rowData=[], columnDefs=COLUMNS,
                getRowId="params.data.patient_id",
                defaultColDef={"sortable": True, "resizable": True, "suppressMovable": True},
                dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                  "enableClickSelection": True},
                                 "tooltipShowDelay": 300, "animateRows": False,
                                 "rowHeight": 40, "includeHiddenColumnsInQuickFilter": True,
                                 "localeText": {"noRowsToShow": "No patients on this ward"},
                                 "suppressCellFocus": False},
                className="vw-grid vw-ward-grid", style={"height": "100%", "width": "100%"}),
            html.Aside([
                html.H2("Open alerts"),
                frame.alert_grid("ward-alerts", with_patient=True, height="46vh"),
                frame.alert_form("ward-alert"),
            ], className="vw-alerts-panel"),
        ], className="vw-ward"),
    ], className="vw-ward-page")


# ---------------------------------------------------------------- callbacks

@PAGE.callback(Output("ward-grid", "rowData"), Output("ward-alerts", "rowData"),
               Output("ward-summary", "children"), Output("ward-status", "children"),
               Output("ward-status", "className"), Output("ward-choice", "data"),
               Input("ward-tick", "n_intervals"), Input("ward-select", "value"),
               Input("ward-alert-version", "data"))
def refresh(_tick, ward, _version):
    return ward_view(ward, deps.now())


def ward_view(ward: str | None, now):
    """Everything the page shows about a ward, as data."""
    try:
        with deps.database().connection() as conn:
            if not deps.may_see_ward(conn, ward):
                # Only the person's wards are offered; another (an address, a choice
                # kept by this browser for someone else) shows nothing of it.
                return ([], [], summary(rows.band_summary([])),
                        "Not one of your wards: an admin adds you to its team.",
                        "vw-status vw-stale", ward)
            patients = queries.ward_patients(conn, ward, now=now, freshness=deps.freshness())
            alerts = queries.open_alerts(conn, ward)
            pauses = pause_records.in_force(conn, [p.patient_id for p in patients], now)
            ids = [p.patient_id for p in patients]
            protocol, readings = protocol_rows.load(conn, ward, ids, now)
    except deps.DatabaseUnavailable:
        return (dash.no_update, dash.no_update, dash.no_update,
                f"Connection lost at {fmt.local_text(now, None, date=False)}: the figures "
                "shown are not current", "vw-status vw-stale", ward)
    grid = rows.ward_rows(patients, now, pauses)
    protocol_rows.add_cells(grid, ids, protocol, readings)
    zone = patients[0].time_zone if patients else None
    return (grid, rows.alert_rows(alerts, now, pauses), summary(rows.band_summary(grid)),
            f"Updated {fmt.local_text(now, zone, date=False, seconds=True)}", "vw-status", ward)


@PAGE.callback(Output("ward-grid", "columnDefs"), Input("ward-select", "value"))
def ward_columns(ward):
    """NEWS2's columns and the ward protocol's (dashboard/protocol_rows.py)."""
    try:
        with deps.database().connection() as conn:
            name, _ = protocol_rows.load(conn, ward, [], deps.now())
    except deps.DatabaseUnavailable:
        return dash.no_update
    return protocol_rows.columns(COLUMNS, name)


def summary(counts: dict[str, int]) -> list:
    chips = [html.Span(f"{counts['patients']} patients", className="vw-chip")]
    for band, label in reversed(BAND_LABELS.items()):
        if counts.get(band):
            chips.append(html.Span(f"{label} {counts[band]}", className=f"vw-chip band-{band}"))
    if counts.get("none"):
        chips.append(html.Span(f"No score {counts['none']}", className="vw-chip band-none"))
    if counts.get("overdue"):
        chips.append(html.Span(f"Overdue {counts['overdue']}", className="vw-chip is-overdue"))
    return chips


@PAGE.callback(Output("ward-grid", "dashGridOptions"), Input("ward-search", "value"))
def search(text):
    patch = Patch()
    patch["quickFilterText"] = text or ""
    return patch


@PAGE.callback(Output("ward-alert-selected", "children"), Output("ward-alert-ack", "disabled"),
               Output("ward-alert-resolve", "disabled"), Input("ward-alerts", "selectedRows"))
def select_alert(selected):
    return frame.selected_alert(selected)


@PAGE.callback(Output("ward-alert-feedback", "children"), Output("ward-alert-version", "data"),
               Output("ward-alert-note", "value"),
               Input("ward-alert-ack", "n_clicks"), Input("ward-alert-resolve", "n_clicks"),
               State("ward-alerts", "selectedRows"), State("ward-alert-note", "value"),
               State("ward-alert-changed", "value"), State("ward-alert-version", "data"),
               prevent_initial_call=True)
def act(_ack, _resolve, selected, note, changed, version):
    return frame.act_on_alert(dash.ctx.triggered_id == "ward-alert-ack", selected, note,
                              changed, version)
