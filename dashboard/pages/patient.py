"""The patient page: the vital signs over time in the style of the NEWS2
chart, the score history, alerts with their audit trail, devices and the
clinical settings, which a clinician changes here with a reason.  Times in
the ward's zone; long ranges bucketed in the database."""

from __future__ import annotations

from datetime import timedelta

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

from dashboard import (
    actions,
    deps,
    discharge_panel,
    figures,
    patient_rows,
    pause_panel,
    pause_rows,
    queries,
    rows,
)
from dashboard import format as fmt
from dashboard import layout as frame
from dashboard.pages import Page
from dashboard.remeasure_panel import declare_remeasures, remeasure_section
from ward import clinical, pause_records

PAGE = Page(__name__, path_template="/patient/<patient_id>", name="Patient",
            title="Patient — Virtual ward")
pause_panel.declare(PAGE)
discharge_panel.declare(PAGE)  # the Discharge panel: the summary for the GP
declare_remeasures(PAGE)  # its Re-measurements list

PANEL_REFRESH_MS = 5_000
CHART_REFRESH_MS = 30_000
RANGES: dict[str, timedelta | None] = {
    "1 h": timedelta(hours=1), "6 h": timedelta(hours=6), "24 h": timedelta(hours=24),
    "3 days": timedelta(days=3), "7 days": timedelta(days=7), "Whole stay": None}

_DEVICE_COLUMNS = [
    {"field": "device_id", "headerName": "Device", "width": 170},
    {"field": "kind", "headerName": "Kind", "width": 120},
    {"field": "state", "headerName": "State", "width": 100,
     "cellClassRules": {"device-problem": "params.data.problem"}},
    {"field": "battery", "headerName": "Battery", "width": 90},
    {"field": "last_seen", "headerName": "Last seen", "width": 130, "tooltipField": "last_seen_at"},
    {"field": "assigned", "headerName": "Assigned", "flex": 1, "minWidth": 180},
    {"field": "firmware", "headerName": "Firmware", "width": 100},
]
_SETTING_COLUMNS = [
    {"field": "what", "headerName": "Setting", "width": 200},
    {"field": "by", "headerName": "Set by", "width": 120},
    {"field": "reason", "headerName": "Reason", "flex": 1, "minWidth": 160, "wrapText": True,
     "autoHeight": True},
    {"field": "period", "headerName": "In force, review", "width": 250, "wrapText": True,
     "autoHeight": True, "cellClassRules": {"state-open": "params.data.current"}},
]


def _grid(grid_id: str, columns: list[dict], height: str, row_id: str,
          selectable: bool = False) -> dag.AgGrid:
    options = {"animateRows": False, "tooltipShowDelay": 300,
               "localeText": {"noRowsToShow": "None"}}
    if selectable:
        options["rowSelection"] = {"mode": "singleRow", "checkboxes": False,
                                   "enableClickSelection": True}
    return dag.AgGrid(id=grid_id, rowData=[], columnDefs=columns, getRowId=row_id,
                      defaultColDef={"resizable": True, "sortable": True},
                      dashGridOptions=options, style={"height": height, "width": "100%"},
                      className="vw-grid")


def layout(patient_id: str | None = None, **_query) -> html.Div:
    return html.Div([
        dcc.Store(id="pt-id", data=patient_id),
        dcc.Interval(id="pt-tick", interval=PANEL_REFRESH_MS),
        dcc.Interval(id="pt-chart-tick", interval=CHART_REFRESH_MS),
        dcc.Store(id="pt-settings-version", data=0),
        html.Div(id="pt-head", className="vw-patient-head"),
        html.Div([
            html.Span("Period: ", className="vw-muted"),
            dcc.RadioItems(id="pt-range", options=list(RANGES), value="24 h", inline=True,
                           className="vw-radio", persistence=True, persistence_type="session"),
            html.Span(id="pt-resolution", className="vw-muted"),
        ], className="vw-form-row"),
        html.Section([
            html.H2("Vital signs (shaded by NEWS2 sub-score: white 0, yellow 1, orange 2, red 3)"),
            dcc.Graph(id="pt-vitals", config={"displaylogo": False, "responsive": True}),
        ], className="vw-section"),
        html.Section([html.H2("NEWS2 score"),
                      dcc.Graph(id="pt-scores", config={"displaylogo": False})],
                     className="vw-section"),
        html.Div([
            html.Section([
                html.H2("Alerts"),
                frame.alert_grid("pt-alerts", with_patient=False, height="300px"),
                frame.alert_form("pt-alert"),
                html.H2("Audit trail of the selected alert"),
                html.Ul(id="pt-audit", className="vw-audit"),
            ], className="vw-section"),
            html.Div([
                html.Section([html.H2("Devices"),
                              _grid("pt-devices", _DEVICE_COLUMNS, "180px",
                                    "params.data.device_id")], className="vw-section"),
                remeasure_section(),
                html.Section([html.H2("Clinical settings"), *_settings_form()],
                             className="vw-section"),
                pause_panel.section(),
                discharge_panel.section(),
            ]),
        ], className="vw-columns"),
    ], className="vw-patient-page")


def _settings_form() -> list:
    return [
        html.Ul(id="pt-settings-now", className="vw-settings-list"),
        html.Div([
            html.Label("SpO₂ scale", htmlFor="pt-scale"),
            dcc.RadioItems(id="pt-scale", options=[
                {"label": "Scale 1", "value": 1},
                {"label": "Scale 2 (confirmed hypercapnic respiratory failure)", "value": 2}],
                value=1, inline=True, className="vw-radio"),
        ], className="vw-form-row"),
        html.Div([
            dcc.Input(id="pt-scale-reason", placeholder="Clinical reason", value="",
                      style={"flex": 1}),
            html.Button("Set SpO₂ scale", id="pt-scale-set", n_clicks=0, className="vw-button"),
        ], className="vw-form-row"),
        html.Div([
            dcc.Dropdown(id="pt-range-param", options=[
                {"label": patient_rows.PARAMETER_LABELS[p], "value": p}
                for p in clinical.RANGE_PARAMETERS],
                placeholder="Parameter", style={"width": 170}),
            dcc.Input(id="pt-range-low", type="number", placeholder="low", style={"width": 80}),
            dcc.Input(id="pt-range-high", type="number", placeholder="high",
                      style={"width": 80}),
        ], className="vw-form-row"),
        html.Div([
            dcc.Input(id="pt-range-reason", placeholder="Clinical reason", value="",
                      style={"flex": 1}),
            html.Button("Set accepted range", id="pt-range-set", n_clicks=0,
                        className="vw-button"),
        ], className="vw-form-row"),
        html.P("SpO₂ scale 2 and accepted ranges lapse at their review date, 14 days from"
               " when they are set; an accepted range may cover only values scoring 1 or 2,"
               " never SpO₂. NEWS2 itself is never adjusted: the adjusted score is shown"
               " beside it.", className="vw-muted"),
        _grid("pt-settings", _SETTING_COLUMNS, "200px", "params.data.row_id",
              selectable=True),
        html.Div([html.Button("End selected setting", id="pt-setting-end", n_clicks=0,
                              className="vw-button")], className="vw-form-row"),
        html.Div(id="pt-settings-feedback", className="vw-feedback", role="status"),
    ]


# ---------------------------------------------------------------- callbacks

@PAGE.callback(Output("pt-head", "children"), Output("pt-vitals", "figure"),
               Output("pt-scores", "figure"), Output("pt-resolution", "children"),
               Input("pt-id", "data"), Input("pt-range", "value"),
               Input("pt-chart-tick", "n_intervals"), Input("pt-settings-version", "data"))
def charts(patient_id, period, _tick, _version):
    return patient_charts(patient_id, period, deps.now())


def patient_charts(patient_id: str | None, period: str | None, now):
    empty = figures.go.Figure()
    try:
        with deps.database().connection() as conn:
            info = queries.patient(conn, patient_id) if patient_id else None
            if info is not None and not deps.may_see_ward(conn, info.ward_id):
                info = None  # not on the person's wards: as if there were no such patient
            if info is None:
                return (frame.unavailable(f"No patient {patient_id!r}."), empty, empty, "")
            deps.record_read(conn, info.patient_id, "patient page")
            start = chart_start(period, info.admitted_at, now)
            series, bucket = queries.observations(conn, info.patient_id, start, now)
            history = queries.score_history(conn, info.patient_id, start, now)
            latest = queries.latest_score(conn, info.patient_id)
            complete_at = queries.last_complete_set(conn, info.patient_id)
            current = clinical.current_settings(conn, info.patient_id, now)
    except deps.DatabaseUnavailable as exc:
        return frame.unavailable(str(exc)), dash.no_update, dash.no_update, ""
    scale = next((s.spo2_scale for s in current if s.kind == "spo2_scale"), 1) or 1
    accepted = {s.parameter: (s.low, s.high) for s in current
                if s.kind == "accepted_range" and s.parameter}
    revision = f"{info.patient_id}:{period}"
    vitals = figures.vital_signs_figure(series, start=start, end=now, tz=info.time_zone,
                                        spo2_scale=scale, accepted=accepted, revision=revision)
    scores = figures.score_history_figure(history.times, history.totals, history.bands,
                                          history.complete, start=start, end=now,
                                          tz=info.time_zone, revision=revision)
    resolution = ("each point is one reading" if bucket <= 60 else
                  f"each point summarises {fmt.duration_text(bucket)} (line: mean,"
                  " shade: lowest to highest)")
    return patient_head(info, latest, scale, now, complete_at), vitals, scores, resolution


def chart_start(period: str | None, admitted_at, now):
    span = RANGES.get(period or "24 h", RANGES["24 h"])
    if span is None:
        return min(admitted_at, now - timedelta(hours=1))
    return now - span


def patient_head(info: queries.PatientInfo, latest: queries.ScoreRow | None, scale: int,
                 now, complete_at=None) -> list:
    """The true NEWS2 (its badge in the true band's colour), the adjusted score beside
    it where an accepted range applies, the band held since the last complete set
    when that is higher, when the latest score and the last complete set were
    measured, and each value with its own age (greyed when stale)."""
    tz = info.time_zone
    head = [html.H1(info.name), html.Span(info.patient_id, className="vw-muted")]
    if latest is None:
        head += [html.Span("No score yet", className="vw-badge band-none"),
                 html.Span("no readings")]
    else:
        head += _score_badges(latest)
        measured = (f"latest score {fmt.ago(latest.time, now)}"
                    f" ({fmt.local_text(latest.time, tz)}) · last complete set "
                    + (fmt.ago(complete_at, now) if complete_at else "none"))
        if not latest.complete and latest.missing:
            missing = ", ".join(rows.SHORT_NAMES.get(m, m) for m in latest.missing)
            measured += f" · no {missing}"
        head.append(html.Span(measured, id="pt-measured"))
    head += [
        html.Span(f"SpO₂ scale {scale}"),
        html.Span(f"{info.ward_name} · admitted {fmt.local_text(info.admitted_at, tz)}"
                  f" · times in {tz}", className="vw-muted"),
    ]
    if latest is not None:
        head.append(_values_line(latest, now, tz))
    return head


def _score_badges(latest: queries.ScoreRow) -> list:
    plus = "" if latest.complete else "+"
    label = figures.BAND_LABELS.get(latest.band, latest.band)
    badges = [html.Span(f"NEWS2 {latest.total}{plus} · {label}",
                        className=f"vw-badge band-{latest.band}", id="pt-band",
                        title=rows.score_detail(latest))]
    if latest.adjusted_total is not None and latest.adjusted_band is not None:
        names = ", ".join(rows.SHORT_NAMES.get(n, n) for n in latest.overridden_parameters)
        badges.append(html.Span(
            f"Adjusted {latest.adjusted_total}{plus} · "
            f"{figures.BAND_LABELS.get(latest.adjusted_band, latest.adjusted_band)}"
            f" (accepted range: {names}; not NEWS2)",
            className=f"vw-badge vw-adjusted band-{latest.adjusted_band}", id="pt-adjusted",
            title="The score after this patient's accepted ranges, which alerts follow;"
                  " NEWS2 is the score beside it"))
    shown = rows.effective_band(latest)
    if shown is not None and rows.held(latest):
        badges.append(html.Span(
            f"{figures.BAND_LABELS.get(shown, shown)} until a complete set",
            className=f"vw-badge band-{shown}", id="pt-held",
            title="The highest band since the last complete set: an incomplete score is a"
                  " lower bound and cannot lower it"))
    return badges


def _values_line(latest: queries.ScoreRow, now, tz: str | None) -> html.Div:
    cells = rows.vital_cells(latest, now, tz)
    items = []
    for name, key in rows.COLUMN_KEYS.items():
        text = cells[key] or "—"
        stale = cells[f"{key}_stale"]
        items.append(html.Span(
            f"{rows.SHORT_NAMES[name]} {text}" + (" (stale)" if stale else ""),
            className="vw-value" + (" is-stale" if stale else "")
            + (f" sub-{cells[f'{key}_s']}" if cells[f"{key}_s"] >= 0 else " sub-missing"),
            title=cells[f"{key}_tip"]))
    return html.Div(items, id="pt-values", className="vw-values")


@PAGE.callback(Output("pt-alerts", "rowData"), Output("pt-devices", "rowData"),
               Output("pt-settings", "rowData"), Output("pt-settings-now", "children"),
               Input("pt-id", "data"), Input("pt-tick", "n_intervals"),
               Input("pt-alert-version", "data"), Input("pt-settings-version", "data"))
def panels(patient_id, _tick, _v1, _v2):
    return patient_panels(patient_id, deps.now())


def patient_panels(patient_id: str | None, now):
    if not patient_id:
        return [], [], [], []
    try:
        with deps.database().connection() as conn:
            info = queries.patient(conn, patient_id)
            if info is None or not deps.may_see_ward(conn, info.ward_id):
                return [], [], [], []  # no such patient, or none of the person's wards'
            deps.record_read(conn, info.patient_id, "patient page")
            tz = info.time_zone if info else None
            alerts = queries.patient_alerts(conn, patient_id)
            devices = queries.patient_devices(conn, patient_id)
            history = queries.settings_history(conn, patient_id)
            pauses = pause_records.in_force(conn, [patient_id], now)
    except deps.DatabaseUnavailable:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    return (rows.alert_rows(alerts, now, pauses), patient_rows.device_rows(devices, tz, now),
            patient_rows.setting_rows(history, tz, now),
            [html.Li(text) for text in patient_rows.settings_now(history, tz, now)]
            + [html.Li(text, className="vw-paused")
               for text in pause_rows.pause_lines(pauses, tz, now)])


@PAGE.callback(Output("pt-alert-selected", "children"), Output("pt-alert-ack", "disabled"),
               Output("pt-alert-resolve", "disabled"), Output("pt-audit", "children"),
               Input("pt-alerts", "selectedRows"), Input("pt-alert-version", "data"))
def select_alert(selected, _version):
    text, no_ack, no_resolve = frame.selected_alert(selected)
    if not selected:
        return text, no_ack, no_resolve, audit_trail(None, None)
    return text, no_ack, no_resolve, audit_trail(selected[0]["alert_id"],
                                                 selected[0].get("time_zone"))


def audit_trail(alert_id: int | None, zone: str | None) -> list:
    """The alert's events, times in ``zone`` (the ward's, carried by its row)."""
    if alert_id is None:
        return [html.Li("Select an alert to see its history.", className="vw-muted")]
    try:
        with deps.database().connection() as conn:
            visible = deps.may_see_ward(conn, queries.alert_ward(conn, alert_id))
            events = queries.alert_events(conn, alert_id) if visible else []
    except deps.DatabaseUnavailable as exc:
        return [html.Li(f"Cannot load the audit trail: {exc}")]
    return [html.Li([html.Strong(fmt.local_text(e.time, zone)),
                     f" · {e.event} · {e.severity.upper()} · {e.actor}",
                     f" · {e.reason}" if e.reason else "", _detail(e.detail)])
            for e in events] or [
        html.Li("No events recorded.", className="vw-muted")]


def _detail(detail: dict) -> str:
    shown = {k: v for k, v in (detail or {}).items() if v not in (None, "", [], {})}
    return "" if not shown else " · " + "; ".join(f"{k.replace('_', ' ')}: {v}"
                                                  for k, v in shown.items())


@PAGE.callback(Output("pt-alert-feedback", "children"), Output("pt-alert-version", "data"),
               Output("pt-alert-note", "value"),
               Input("pt-alert-ack", "n_clicks"), Input("pt-alert-resolve", "n_clicks"),
               State("pt-alerts", "selectedRows"), State("pt-alert-note", "value"),
               State("pt-alert-changed", "value"), State("pt-alert-version", "data"),
               prevent_initial_call=True)
def act(_ack, _resolve, selected, note, changed, version):
    return frame.act_on_alert(dash.ctx.triggered_id == "pt-alert-ack", selected, note,
                              changed, version)


@PAGE.callback(Output("pt-settings-feedback", "children"),
               Output("pt-settings-version", "data"),
               Input("pt-scale-set", "n_clicks"), Input("pt-range-set", "n_clicks"),
               Input("pt-setting-end", "n_clicks"),
               State("pt-id", "data"), State("pt-scale", "value"),
               State("pt-scale-reason", "value"), State("pt-range-param", "value"),
               State("pt-range-low", "value"), State("pt-range-high", "value"),
               State("pt-range-reason", "value"), State("pt-settings", "selectedRows"),
               State("pt-settings-version", "data"), prevent_initial_call=True)
def change_settings(_scale, _range, _end, patient_id, scale, scale_reason, parameter, low,
                    high, range_reason, selected, version):
    db, user, now = deps.database(), deps.current_user(), deps.now()
    trigger = dash.ctx.triggered_id
    if trigger == "pt-scale-set":
        result = actions.set_spo2_scale(db, patient_id, scale, user=user, reason=scale_reason,
                                        now=now)
    elif trigger == "pt-range-set":
        result = actions.set_accepted_range(db, patient_id, parameter, low, high, user=user,
                                            reason=range_reason, now=now)
    else:
        setting = selected[0]["setting_id"] if selected else None
        result = actions.end_setting(db, setting, user=user, now=now)
    return frame.feedback_view(result.ok, result.message), (version or 0) + 1
