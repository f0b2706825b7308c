"""The patient page: the vital signs over time in the style of the NEWS2
chart, the score history, alerts with their audit trail, devices and the
clinical settings, which a clinician changes here with a reason.  Times in
the ward's zone; long ranges bucketed in the database."""

from __future__ import annotations

from datetime import timedelta

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

from dashboard import actions, deps, figures, queries, rows
from dashboard import format as fmt
from dashboard import layout as frame
from ward import clinical

dash.register_page(__name__, path_template="/patient/<patient_id>", name="Patient",
                   title="Patient — Virtual ward")

PANEL_REFRESH_MS = 5_000
CHART_REFRESH_MS = 30_000
RANGES: dict[str, timedelta | None] = {
    "1 h": timedelta(hours=1), "6 h": timedelta(hours=6), "24 h": timedelta(hours=24),
    "3 days": timedelta(days=3), "7 days": timedelta(days=7), "Whole stay": None}
PARAMETER_LABELS = {"respiratory_rate": "Respiration rate", "spo2": "SpO2",
                    "systolic_bp": "Systolic BP", "heart_rate": "Pulse",
                    "temperature": "Temperature"}

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
    {"field": "period", "headerName": "In force", "width": 230, "wrapText": True,
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
                html.Section([html.H2("Clinical settings"), *_settings_form()],
                             className="vw-section"),
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
                {"label": label, "value": p} for p, label in PARAMETER_LABELS.items()],
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
        _grid("pt-settings", _SETTING_COLUMNS, "200px", "params.data.row_id",
              selectable=True),
        html.Div([html.Button("End selected setting", id="pt-setting-end", n_clicks=0,
                              className="vw-button")], className="vw-form-row"),
        html.Div(id="pt-settings-feedback", className="vw-feedback", role="status"),
    ]


# ---------------------------------------------------------------- callbacks

@dash.callback(Output("pt-head", "children"), Output("pt-vitals", "figure"),
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
            if info is None:
                return (frame.unavailable(f"No patient {patient_id!r}."), empty, empty, "")
            start = chart_start(period, info.admitted_at, now)
            series, bucket = queries.observations(conn, info.patient_id, start, now)
            history = queries.score_history(conn, info.patient_id, start, now)
            latest = queries.latest_score(conn, info.patient_id)
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
    return patient_head(info, latest, scale, now), vitals, scores, resolution


def chart_start(period: str | None, admitted_at, now):
    span = RANGES.get(period or "24 h", RANGES["24 h"])
    if span is None:
        return min(admitted_at, now - timedelta(hours=1))
    return now - span


def patient_head(info: queries.PatientInfo, latest: queries.ScoreRow | None, scale: int,
                 now) -> list:
    if latest is None:
        badge = html.Span("No score yet", className="vw-badge band-none")
        measured = "no readings"
    else:
        label = figures.BAND_LABELS.get(latest.band, latest.band)
        text = f"NEWS2 {latest.total}{'+' if not latest.complete else ''} · {label}"
        badge = html.Span(text, className=f"vw-badge band-{latest.band}", id="pt-band")
        measured = (f"last set {fmt.ago(latest.time, now)}"
                    f" ({fmt.local_text(latest.time, info.time_zone)})")
        if not latest.complete:
            missing = ", ".join(rows.SHORT_NAMES.get(m, m) for m in latest.missing)
            measured += f" · incomplete: no {missing}"
    return [
        html.H1(info.name), html.Span(info.patient_id, className="vw-muted"), badge,
        html.Span(measured),
        html.Span(f"SpO₂ scale {scale}"),
        html.Span(f"{info.ward_name} · admitted {fmt.local_text(info.admitted_at, info.time_zone)}"
                  f" · times in {info.time_zone}", className="vw-muted"),
    ]


@dash.callback(Output("pt-alerts", "rowData"), Output("pt-devices", "rowData"),
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
            tz = info.time_zone if info else None
            alerts = queries.patient_alerts(conn, patient_id)
            devices = queries.patient_devices(conn, patient_id)
            history = queries.settings_history(conn, patient_id)
    except deps.DatabaseUnavailable:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    now_list = [html.Li(_setting_text(s)) for s in history if _in_force(s, now)] or [
        html.Li("Standard NEWS2 chart: SpO₂ scale 1, no accepted ranges.")]
    return (rows.alert_rows(alerts, now), device_rows(devices, tz, now),
            setting_rows(history, tz, now), now_list)


def _in_force(s: queries.SettingRow, now) -> bool:
    return s.valid_from <= now and (s.valid_to is None or s.valid_to > now)


def _setting_text(s) -> str:
    if s.kind == "spo2_scale":
        return f"SpO₂ scale {s.spo2_scale}"
    label = PARAMETER_LABELS.get(s.parameter or "", s.parameter)
    return f"{label} accepted {s.low:g}–{s.high:g}"


def setting_rows(history, tz, now) -> list[dict]:
    out = []
    for s in history:
        period = f"from {fmt.local_text(s.valid_from, tz)}"
        if s.valid_to is not None:
            period += f" to {fmt.local_text(s.valid_to, tz)}"
            if s.ended_by:
                period += f" (ended by {s.ended_by})"
        out.append({"setting_id": s.setting_id, "row_id": str(s.setting_id),
                    "what": _setting_text(s), "by": s.set_by, "reason": s.reason,
                    "period": period, "current": _in_force(s, now)})
    return out


def device_rows(devices, tz, now) -> list[dict]:
    out = []
    for d in devices:
        current = d.valid_to is None
        state = "unassigned" if not current else (
            "offline" if d.online is False else "online" if d.online else "unknown")
        low = rows.battery_low(d.battery)
        out.append({
            "device_id": d.device_id, "kind": d.kind, "state": state,
            "problem": current and (d.online is False or low),
            "battery": fmt.battery_text(d.battery), "last_seen": fmt.ago(d.last_seen, now),
            "last_seen_at": fmt.local_text(d.last_seen, tz),
            "assigned": f"since {fmt.local_text(d.valid_from, tz)}" if current else
            f"{fmt.local_text(d.valid_from, tz)} – {fmt.local_text(d.valid_to, tz)}",
            "firmware": d.firmware or ""})
    return out


@dash.callback(Output("pt-alert-selected", "children"), Output("pt-alert-ack", "disabled"),
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
            events = queries.alert_events(conn, alert_id)
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


@dash.callback(Output("pt-alert-feedback", "children"), Output("pt-alert-version", "data"),
               Output("pt-alert-note", "value"),
               Input("pt-alert-ack", "n_clicks"), Input("pt-alert-resolve", "n_clicks"),
               State("pt-alerts", "selectedRows"), State("pt-alert-note", "value"),
               State("pt-alert-changed", "value"), State("pt-alert-version", "data"),
               prevent_initial_call=True)
def act(_ack, _resolve, selected, note, changed, version):
    return frame.act_on_alert(dash.ctx.triggered_id == "pt-alert-ack", selected, note,
                              changed, version)


@dash.callback(Output("pt-settings-feedback", "children"),
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
