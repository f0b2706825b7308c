"""The frame around every page (header with the signed-in user and sign-out,
navigation, the emergency banner) and the pieces two pages share: the
alert grid's columns and the acknowledge/resolve form."""

from __future__ import annotations

import logging
from datetime import datetime

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

import alerts
from dashboard import actions, deps, queries
from dashboard import format as fmt
from ward import access, health, heartbeats

log = logging.getLogger(__name__)

BANNER_REFRESH_MS = 3_000
LOGOUT_PATH = "/logout"
PAGE_ERROR_ID = "page-error"


def shell() -> html.Div:
    """The app's layout, built per request so that it names the signed-in user."""
    return html.Div([
        _header(deps.current_user(), deps.current_role()),
        html.Div([
            html.Div(id="alerting-banner", className=_ALERTING_HIDDEN, role="alert",
                     **{"aria-live": "assertive"}),
            html.Div(id="emergency-banner", className="vw-banner vw-hidden", role="alert",
                     **{"aria-live": "assertive"}),
        ], className="vw-banners"),
        dcc.Interval(id="shell-tick", interval=BANNER_REFRESH_MS),
        dcc.Store(id="ward-choice", storage_type="local"),
        html.Div(id=PAGE_ERROR_ID, className="vw-error vw-hidden", role="alert"),
        html.Main(dash.page_container, className="vw-main"),
    ], className="vw-app")


def _header(user: str | None, role: str | None) -> html.Header:
    who = [html.Span("Not signed in", className="vw-user-name vw-warning")] if user is None \
        else [html.Span(user, className="vw-user-name", id="signed-in-user"),
              html.Span(role or "", className="vw-user-role")]
    return html.Header([
        html.A("Virtual ward", href="/", className="vw-brand"),
        html.Nav([
            dcc.Link("Ward", href="/", className="vw-nav-link"),
            dcc.Link("Ward figures", href="/outcomes", className="vw-nav-link"),
            dcc.Link("Rota", href="/rota", className="vw-nav-link"),
            *([dcc.Link("Notifications", href="/notifications", className="vw-nav-link")]
              if role == "admin" else []),
        ], className="vw-nav"),
        html.Div([
            *who,
            html.Form(html.Button("Sign out", type="submit", className="vw-button vw-quiet"),
                      method="post", action=LOGOUT_PATH, className="vw-logout"),
        ], className="vw-user"),
    ], className="vw-header")


def callback_failed(exc: Exception) -> None:
    """Dash's ``on_error`` for every callback: one that raises leaves its
    outputs as they were and says so above the page, where otherwise the
    page would fail silently (a 500 it never shows) or show a traceback."""
    log.error("dashboard callback failed", exc_info=exc)
    dash.set_props(PAGE_ERROR_ID, {"className": "vw-error", "children": (
        f"Part of this page could not be updated at {deps.now():%H:%M:%S} UTC: what it shows"
        " may not be current. Reload the page; if this stays, tell the ward's support.")})


def ward_select(component_id: str, ward: str | None) -> dcc.Dropdown:
    """The wards' dropdown: ``ward`` from the address, else the one chosen last
    on this browser, else the first.  Raises DatabaseUnavailable, which the
    page shows."""
    with deps.database().connection() as conn:
        wards = queries.wards(conn, access.as_filter(deps.visible_wards(conn)))
    options = [{"label": f"{w.name} ({w.time_zone})", "value": w.ward_id} for w in wards]
    return dcc.Dropdown(id=component_id, options=options,
                        value=ward or (wards[0].ward_id if wards else None), clearable=False,
                        persistence=ward is None, persistence_type="local",
                        className="vw-ward-select")


def unavailable(message: str) -> html.Div:
    return html.Div([html.H2("The ward's data cannot be shown"), html.P(message)],
                    className="vw-error", role="alert")


# ---------------------------------------------------------------- emergency banner

def banner_content(alerts: list[queries.AlertItem], now: datetime) -> tuple[list, str]:
    """The banner's children and class: hidden when nothing is waiting."""
    if not alerts:
        return [], "vw-banner vw-hidden"
    items = [html.Li([
        html.Strong(a.patient_name), f" ({a.patient_id}) — ", a.reason, " — opened ",
        fmt.ago(a.opened_at, now), " ",
        dcc.Link("Open patient", href=f"/patient/{a.patient_id}", className="vw-banner-link"),
    ]) for a in alerts]
    title = (f"EMERGENCY: {len(alerts)} high alert{'s' if len(alerts) > 1 else ''}"
             " not acknowledged")
    return [html.Div(title, className="vw-banner-title"), html.Ul(items)], "vw-banner vw-flash"


# ---------------------------------------------------------------- alerting stopped

_ALERTING_HIDDEN = "vw-banner vw-stopped vw-hidden"


def alerting_banner_content(alerting: health.Alerting, zone: str | None) -> tuple[list, str]:
    """The banner "Alerting stopped since HH:MM", in the ward's zone, while
    ward/health.py judges so; hidden while alerting runs."""
    if alerting.running:
        return [], _ALERTING_HIDDEN
    since, now = alerting.since, alerting.now
    stopped = alerting.stopped_sets
    wards = ("" if any(s.wards == health.ALL_WARDS for s in stopped)
             else " for wards " + ", ".join(sorted({w for s in stopped for w in s.wards})))
    if since is None:
        title = f"Alerting stopped{wards}: no alerts engine is running"
    else:
        same_day = fmt.to_local(since, zone).date() == fmt.to_local(now, zone).date()
        title = (f"Alerting stopped since {fmt.local_text(since, zone, date=not same_day)}"
                 f"{wards} ({fmt.ago(since, now)})")
    return [html.Div(title, className="vw-banner-title", id="alerting-stopped-title"),
            html.Div("No new alerts, overdue checks or escalations are being raised. Watch the"
                     " patients by other means and call the ward's technical support.")], \
        "vw-banner vw-stopped"


def alerting_banner(ward: str | None) -> tuple[list, str]:
    try:
        with deps.database().connection() as conn:
            now, rows = heartbeats.read(conn)
            zones = {w.ward_id: w.time_zone for w in queries.wards(conn)}
    except deps.DatabaseUnavailable:
        return dash.no_update, dash.no_update  # the emergency banner says the link is lost
    zone = zones.get(ward or "") or next(iter(zones.values()), None)
    return alerting_banner_content(health.judge_alerting(rows, now), zone)


def register_shell_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("alerting-banner", "children"),
                  Output("alerting-banner", "className"),
                  Input("shell-tick", "n_intervals"), State("ward-choice", "data"))
    def _alerting(_n, ward):
        return alerting_banner(ward)

    @app.callback(Output("emergency-banner", "children"),
                  Output("emergency-banner", "className"),
                  Input("shell-tick", "n_intervals"), State("ward-choice", "data"))
    def _banner(_n, ward):
        return emergency_banner(ward)

    # Seen from another tab too: the title counts unacknowledged high alerts.
    app.clientside_callback(
        """function(cls) {
            var base = document.title.replace(/^\\(!\\) EMERGENCY — /, '');
            document.title = (cls || '').indexOf('vw-flash') >= 0 ?
                '(!) EMERGENCY — ' + base : base;
            return window.dash_clientside.no_update;
        }""",
        Output("emergency-banner", "title"), Input("emergency-banner", "className"))


def emergency_banner(ward: str | None) -> tuple[list, str]:
    try:
        with deps.database().connection() as conn:
            alerts = queries.unacknowledged_emergencies(
                conn, ward or None, only=access.as_filter(deps.visible_wards(conn)))
    except deps.DatabaseUnavailable:
        return [html.Div("Connection to the ward's database lost: alerts may be missing.",
                         className="vw-banner-title")], "vw-banner vw-flash"
    return banner_content(alerts, deps.now())


# ---------------------------------------------------------------- alerts grid and form

def alert_columns(*, with_patient: bool) -> list[dict]:
    severity_classes = {f"sev-{s.lower()}": f"params.data.severity == '{s}'"
                        for s in queries.SEVERITIES}
    cols = [{"field": "alert", "headerName": "Alert", "width": 124 if with_patient else 160,
             "wrapText": True,
             "autoHeight": True, "cellClassRules": severity_classes,
             "tooltipField": "acknowledged"}]
    if with_patient:
        cols.append({"field": "name", "headerName": "Patient", "width": 124,
                     "cellRenderer": "PatientLink"})
    else:
        cols.append({"field": "kind", "headerName": "Kind", "width": 116})
    cols.append({"field": "reason", "headerName": "Why it fired", "flex": 1, "minWidth": 150,
                 "wrapText": True, "autoHeight": True, "tooltipField": "reason",
                 "cellClassRules": {"state-open": "params.data.state == 'open'"}})
    if not with_patient:
        cols.append({"field": "opened_at", "headerName": "Opened", "width": 170})
    return cols


def alert_grid(grid_id: str, *, with_patient: bool, height: str = "360px") -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id, rowData=[], columnDefs=alert_columns(with_patient=with_patient),
        getRowId="params.data.row_id",
        defaultColDef={"sortable": True, "resizable": True},
        dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                          "enableClickSelection": True},
                         "tooltipShowDelay": 300, "animateRows": False,
                         "localeText": {"noRowsToShow": "No open alerts"}},
        style={"height": height, "width": "100%"}, className="vw-grid")


CHANGED_OPTIONS = [{"label": "Changed management", "value": "yes"},
                   {"label": "No change", "value": "no"},
                   {"label": "Not yet known", "value": "unknown"}]


def changed_management(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def alert_form(prefix: str) -> html.Div:
    """Note, whether management changed, Acknowledge and Resolve; ids start
    with ``prefix``."""
    return html.Div([
        html.Div("Select an alert to act on it.", id=f"{prefix}-selected",
                 className="vw-selected"),
        dcc.Textarea(id=f"{prefix}-note", placeholder="Note (what you did, who you called);"
                     " to resolve an urgent or emergency alert, the reason",
                     className="vw-textarea", value=""),
        dcc.RadioItems(id=f"{prefix}-changed", options=CHANGED_OPTIONS, value="unknown",
                       className="vw-radio", inline=True),
        html.Div([
            html.Button("Acknowledge", id=f"{prefix}-ack", n_clicks=0, disabled=True,
                        className="vw-button vw-primary"),
            html.Button("Resolve", id=f"{prefix}-resolve", n_clicks=0, disabled=True,
                        className="vw-button"),
        ], className="vw-buttons"),
        html.Div(id=f"{prefix}-feedback", className="vw-feedback", role="status"),
        dcc.Store(id=f"{prefix}-version", data=0),
    ], className="vw-alert-form")


def selected_alert(rows: list[dict] | None) -> tuple[str, bool, bool]:
    """The form's summary of the selected alert and whether Acknowledge and
    Resolve are disabled."""
    if not rows:
        return "Select an alert to act on it.", True, True
    a = rows[0]
    text = f"{a['severity'].upper()} · {a['name']} · {a['kind']}: {a['reason']}"
    if a["state"] != "resolved" and a["severity"] in alerts.RESOLVE_NEEDS_REASON:
        text += (f" — to resolve this {a['severity']} alert by hand, write the reason in the"
                 " note (what was done, why it no longer applies).")
    return text, a["state"] != "open", a["state"] == "resolved"


def act_on_alert(acknowledging: bool, selected: list[dict] | None, note: str | None,
                 changed: str | None, version: int | None) -> tuple:
    """What the form's Acknowledge (or else Resolve) does to the selected
    alert: the feedback, the next version (the alert panels reload) and the
    note, cleared once the action is done."""
    alert_id = selected[0]["alert_id"] if selected else None
    if acknowledging:
        result = actions.acknowledge(deps.database(), alert_id, user=deps.current_user(),
                                     note=note, now=deps.now(),
                                     changed_management=changed_management(changed))
    else:
        result = actions.resolve(deps.database(), alert_id, user=deps.current_user(), note=note,
                                 now=deps.now())
    return (feedback_view(result.ok, result.message), (version or 0) + 1,
            "" if result.ok else dash.no_update)


def feedback_view(ok: bool, message: str) -> html.Div:
    """Done, or refused and why (an alert role: a screen reader says it at once)."""
    if ok:
        return html.Div(message, className="vw-ok")
    return html.Div(["Not done: ", message], className="vw-refused", role="alert")
