"""Who is on call for the ward: the week per tier as a picture (gaps in red),
a warning above it for every hour nobody covers, who is on call now, and
the shifts.  Read-only: the rota is changed with `vward rota` or the API."""

from __future__ import annotations

from datetime import datetime

from dash import Input, Output, dcc, html

from dashboard import deps, figures, rota_figure
from dashboard import layout as frame
from dashboard.pages import Page
from ward import rota, rota_store

PAGE = Page(__name__, path="/rota", name="Rota", title="Rota — Virtual ward")

REFRESH_MS = 60_000  # the rota changes rarely; the "now" outline moves each hour
_WARN = "vw-error vw-rota-warnings"
_QUIET = "vw-ok vw-rota-warnings"


def layout(ward: str | None = None, **_query) -> html.Div:
    try:
        select = frame.ward_select("rota-ward", ward)
    except deps.DatabaseUnavailable as exc:
        return frame.unavailable(str(exc))
    return html.Div([
        html.Div([select, html.Div(id="rota-now", className="vw-summary")],
                 className="vw-toolbar"),
        html.Div(id="rota-warnings", className=_WARN, role="alert"),
        dcc.Graph(id="rota-figure", config={"displaylogo": False}),
        html.H2("Shifts"),
        html.Div(id="rota-shifts"),
        html.P("Hours are the ward's local wall-clock hours. Change the rota with"
               " `vward rota set` or PUT /api/v1/wards/{ward}/rota.", className="vw-muted"),
        dcc.Interval(id="rota-tick", interval=REFRESH_MS),
    ], className="vw-rota-page")


@PAGE.callback(Output("rota-figure", "figure"), Output("rota-warnings", "children"),
               Output("rota-warnings", "className"), Output("rota-now", "children"),
               Output("rota-shifts", "children"),
               Input("rota-ward", "value"), Input("rota-tick", "n_intervals"))
def show(ward, _tick):
    return rota_view(deps.own_ward(ward), deps.now())


def rota_view(ward: str | None, now: datetime) -> tuple:
    """The page's figure, warnings (and their class), on-call-now chips and shifts."""
    if not ward:
        return figures.empty_figure("choose a ward"), [], _QUIET, [], []
    try:
        with deps.database().connection() as conn:
            zone_name = rota_store.ward_zone_name(conn, ward)
            rows = rota_store.rows(conn, ward)
    except deps.DatabaseUnavailable as exc:
        return (figures.empty_figure("database unreachable"),
                [html.Strong("The rota cannot be shown: "), str(exc)], _WARN, [], [])
    shifts = [r.shift for r in rows]
    zone = rota.ward_zone(zone_name)
    weeks = {t: rota.week(shifts, ward, t) for t in rota.TIERS}
    fig = rota_figure.rota_figure(weeks, now=rota.wall_clock(now, zone), zone=zone_name)
    warnings = rota.warnings(shifts, ward)
    if warnings:
        said = [html.Div(f"Gaps in the rota of {ward}", className="vw-banner-title"),
                html.Ul([html.Li(w) for w in warnings])]
    else:
        said = [f"Every hour of the week has somebody on call in every tier ({zone_name})."]
    return fig, said, _WARN if warnings else _QUIET, _now_chips(shifts, ward, now, zone), \
        _shift_table(rows)


def _now_chips(shifts, ward: str, now: datetime, zone) -> list:
    chips = [html.Span(f"{zone} {now.astimezone(zone):%a %H:%M}", className="vw-chip")]
    for tier in rota.TIERS:
        names = rota.on_call(shifts, ward, tier, now, zone)
        chips.append(html.Span(f"tier {tier} now: {', '.join(names) or 'NOBODY'}",
                               className="vw-chip" if names else "vw-chip vw-rota-gap",
                               id=f"rota-now-{tier}"))
    return chips


def _shift_table(rows: list[rota_store.ShiftRow]) -> html.Table | html.P:
    if not rows:
        return html.P("Nobody is on the rota.")
    head = html.Tr([html.Th(h) for h in ("Tier", "Person", "Days", "Hours", "Team")])
    body = [html.Tr([html.Td(str(r.tier)), html.Td(r.user), html.Td(r.days_text),
                     html.Td(r.hours_text), html.Td(r.team or "")]) for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], className="vw-table",
                      id="rota-shift-table")
