"""The ward's own figures: how many alerts per patient-day and of which
kind, how long from a reading (as the ward received it) to its alert and from
the alert to a clinician's acknowledgement, and how often an alert changed
management; then reaching people (issue 13): how soon the first notification
was delivered and who acknowledged how soon, by tier and channel, the
re-measurements asked and what came back, escalations to tiers 2 and 3, and
notifications failed; then capacity and flow, a month at a time (issue 14,
dashboard/flow_panel.py)."""

from __future__ import annotations

from datetime import timedelta

from dash import Input, Output, dcc, html

from dashboard import deps, figures, notify_figures, notify_queries, queries
from dashboard import format as fmt
from dashboard import layout as frame
from dashboard.flow_panel import declare_flow, flow_section
from dashboard.pages import Page

PAGE = Page(__name__, path="/outcomes", name="Ward figures",
            title="Ward figures — Virtual ward")

PERIODS = {"7 days": 7, "30 days": 30, "90 days": 90}
NOTIFY_FIGURES = ("notified", "ack-by", "remeasure", "escalations", "deliveries")


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
        html.H2("Reaching people: notifications, acknowledgements, re-measurements"),
        html.Div(id="outcomes-notify-summary", className="vw-summary"),
        html.Div([dcc.Graph(id=f"outcomes-{name}", config={"displaylogo": False})
                  for name in NOTIFY_FIGURES], className="vw-figures"),
        flow_section(deps.now()),
    ], className="vw-outcomes-page")


declare_flow(PAGE)


@PAGE.callback(Output("outcomes-rate", "figure"), Output("outcomes-to-alert", "figure"),
               Output("outcomes-to-ack", "figure"), Output("outcomes-management", "figure"),
               Output("outcomes-summary", "children"),
               Input("outcomes-ward", "value"), Input("outcomes-period", "value"))
def show(ward, period):
    return ward_figures(deps.own_ward(ward), period, deps.now())


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
         for s in o.reading_to_alert],
        title="From the reading, as the ward received it, to its alert")
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


@PAGE.callback(*(Output(f"outcomes-{name}", "figure") for name in NOTIFY_FIGURES),
               Output("outcomes-notify-summary", "children"),
               Input("outcomes-ward", "value"), Input("outcomes-period", "value"))
def show_notify(ward, period):
    return reaching_figures(deps.own_ward(ward), period, deps.now())


def reaching_figures(ward: str | None, period: str | None, now):
    """The figures about reaching people, and their headline numbers as chips."""
    blank = len(NOTIFY_FIGURES)
    if not ward:
        return (*(figures.empty_figure("choose a ward") for _ in range(blank)), [])
    start = now - timedelta(days=PERIODS.get(period or "", 30))
    try:
        with deps.database().connection() as conn:
            f = notify_queries.notify_figures(conn, ward, start, now)
    except deps.DatabaseUnavailable as exc:
        return (*(figures.empty_figure("database unreachable") for _ in range(blank)),
                [html.Span(str(exc), className="vw-chip")])
    sent = sum(d.sent for d in f.deliveries)
    failed = sum(d.failed for d in f.deliveries)
    planned = sent + failed + sum(d.pending for d in f.deliveries)
    first = next((s for channel, s in f.to_delivered if not channel), None)
    r = f.remeasures
    chips = [html.Span(f"{planned} notifications, {failed} failed"
                       + (f" ({failed / planned:.0%})" if planned else ""),
                       className="vw-chip" + (" is-overdue" if failed else "")),
             html.Span("first delivered: median " + (fmt.duration_text(first.p50) if first
                                                     else "—"), className="vw-chip"),
             *(html.Span(f"escalated to tier {tier}: {up}", className="vw-chip")
               for tier, up, _ in f.escalations),
             html.Span(f"re-measurements: {r.asked} asked, {r.not_confirmed} resolved by"
                       " re-measurement (no alert)", className="vw-chip")]
    return (notify_figures.delivered_figure(f.to_delivered), notify_figures.ack_figure(f.to_ack),
            notify_figures.remeasure_figure(f.remeasures),
            notify_figures.escalation_figure(f.escalations),
            notify_figures.delivery_figure(f.deliveries), chips)
