"""The ward's own figures: how many alerts per patient-day and of which
kind, how long from a reading to its alert and from the alert to a
clinician's acknowledgement, and how often an alert changed management."""

from __future__ import annotations

from datetime import timedelta

from dash import Input, Output, dcc, html

from dashboard import deps, figures, queries
from dashboard import format as fmt
from dashboard import layout as frame
from dashboard.pages import Page

PAGE = Page(__name__, path="/outcomes", name="Ward figures",
            title="Ward figures — Virtual ward")

PERIODS = {"7 days": 7, "30 days": 30, "90 days": 90}


def layout(ward: str | None = None, **_query) -> html.Div:
    try:
        select = frame.ward_select("outcomes-ward", ward)
    except deps.DatabaseUnavailable as exc:
        return frame.unavailable(str(exc))
    return html.Div([
        html.Div([
            select,
            dcc.RadioItems(id="outcomes-period", options=list(PERIODS), value="30 days",
                           inline=True, className="vw-radio"),
            html.Div(id="outcomes-summary", className="vw-summary"),
        ], className="vw-toolbar"),
        html.Div([dcc.Graph(id=f"outcomes-{name}", config={"displaylogo": False})
                  for name in ("rate", "to-alert", "to-ack", "management")],
                 className="vw-figures"),
    ], className="vw-outcomes-page")


@PAGE.callback(Output("outcomes-rate", "figure"), Output("outcomes-to-alert", "figure"),
               Output("outcomes-to-ack", "figure"), Output("outcomes-management", "figure"),
               Output("outcomes-summary", "children"),
               Input("outcomes-ward", "value"), Input("outcomes-period", "value"))
def show(ward, period):
    return ward_figures(ward, period, deps.now())


def ward_figures(ward: str | None, period: str | None, now):
    if not ward:
        return (*(figures.empty_figure("choose a ward") for _ in range(4)), [])
    start = now - timedelta(days=PERIODS.get(period or "", 30))
    try:
        with deps.database().connection() as conn:
            o = queries.outcomes(conn, ward, start, now)
    except deps.DatabaseUnavailable as exc:
        return (*(figures.empty_figure("database unreachable") for _ in range(4)),
                [html.Span(str(exc), className="vw-chip")])
    days = max(o.patient_days, 1e-9)
    kinds = [fmt.kind_text(k) for k, _ in o.per_kind]
    rate = figures.rate_figure(kinds, [n / days for _, n in o.per_kind],
                               title="Alerts per patient-day, by kind")
    to_alert = figures.delay_figure(
        [figures.Spread(fmt.kind_text(s.group), s.n, s.p5, s.p25, s.p50, s.p75, s.p95)
         for s in o.reading_to_alert], title="From the reading to its alert")
    to_ack = figures.delay_figure(o.alert_to_ack, title="From the alert to its acknowledgement")
    management = figures.share_figure(
        [fmt.kind_text(k) for k, *_ in o.management], [m[1] for m in o.management],
        [m[2] for m in o.management], [m[3] for m in o.management],
        title="Acknowledged alerts that changed management")
    total = sum(n for _, n in o.per_kind)
    acknowledged = sum(m[1] + m[2] + m[3] for m in o.management)
    changed = sum(m[1] for m in o.management)
    recorded = sum(m[1] + m[2] for m in o.management)
    chips = [html.Span(f"{o.patient_days:.1f} patient-days", className="vw-chip"),
             html.Span(f"{total} alerts ({total / days:.2f} per patient-day)",
                       className="vw-chip"),
             html.Span(f"{acknowledged} acknowledged", className="vw-chip"),
             html.Span(f"changed management: {changed}/{recorded}"
                       + (f" ({changed / recorded:.0%})" if recorded else ""),
                       className="vw-chip")]
    return rate, to_alert, to_ack, management, chips
