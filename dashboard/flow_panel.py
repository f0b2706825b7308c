"""The ward figures page's "Capacity and flow" section (issue 14, item 5): a
month of the ward, as NHS England asks virtual wards to report it, drawn by
dashboard/flow_figures.py, each table downloadable as CSV from the API
(GET /api/v1/wards/{ward}/flow.csv, the same files `vward ward flow` prints)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from dash import Input, Output, dcc, html

from dashboard import deps, figures, flow_figures, flow_queries
from dashboard.pages import Page
from ward import flow
from ward.errors import WardError

FIGURES = ("occupancy", "movements", "los", "sources", "outcomes")


def flow_section(now: datetime) -> html.Section:
    months = flow_queries.recent_months(now.date())
    return html.Section([
        html.H2("Capacity and flow: the month NHS England asks for"),
        html.Div([
            dcc.Dropdown(id="flow-month", options=months, value=months[0], clearable=False,
                         style={"width": "10em"}),
            html.Div(id="flow-summary", className="vw-summary"),
        ], className="vw-toolbar"),
        html.Div([dcc.Graph(id=f"flow-{name}", config={"displaylogo": False})
                  for name in FIGURES], className="vw-figures"),
        html.P(["Download as CSV: ", html.Span(id="flow-downloads")], className="vw-muted"),
    ], className="vw-section")


def declare_flow(page: Page) -> None:
    @page.callback(*(Output(f"flow-{name}", "figure") for name in FIGURES),
                   Output("flow-summary", "children"), Output("flow-downloads", "children"),
                   Input("outcomes-ward", "value"), Input("flow-month", "value"))
    def show_flow(ward, month):
        return flow_outputs(deps.own_ward(ward), month, deps.now())


def flow_outputs(ward: str | None, month: str | None, now: datetime) -> tuple:
    """The section's figures, its headline numbers as chips and its CSV links."""
    blank = len(FIGURES)
    if not ward or not month:
        return (*(figures.empty_figure("choose a ward") for _ in range(blank)), [], [])
    try:
        with deps.database().connection() as conn:
            f = flow_queries.flow_figures(conn, ward, month, now)
    except deps.DatabaseUnavailable as exc:
        return (*(figures.empty_figure("database unreachable") for _ in range(blank)),
                [html.Span(str(exc), className="vw-chip")], [])
    except WardError as exc:
        return (*(figures.empty_figure(str(exc)) for _ in range(blank)), [], [])
    m = f.month
    return (flow_figures.occupancy_figure(m), flow_figures.movements_figure(m),
            flow_figures.los_figure(m), flow_figures.sources_figure(m),
            flow_figures.outcomes_figure(m, f.zone), chips(m, f), downloads(ward, month))


def chips(m: flow.Month, f: flow_queries.FlowFigures) -> list:
    capacity = [d.capacity for d in m.days if d.capacity is not None]
    shares = [d.occupancy for d in m.days if d.occupancy is not None]
    median = flow.median_los(m)
    readmitted = flow.readmissions(m, f.zone)
    return [html.Span(f"capacity {min(capacity)}–{max(capacity)} beds" if capacity and
                      min(capacity) != max(capacity) else
                      f"capacity {capacity[0]} beds" if capacity else "capacity not set",
                      className="vw-chip" + ("" if capacity else " is-overdue")),
            html.Span(f"mean occupancy {sum(shares) / len(shares):.0%}" if shares
                      else "occupancy —", className="vw-chip"),
            html.Span(f"{len(m.admitted)} admitted, {len(m.discharged)} discharged",
                      className="vw-chip"),
            html.Span(f"median stay {median:g} days" if median is not None
                      else "median stay —", className="vw-chip"),
            html.Span(f"readmitted within {flow.READMISSION_DAYS} days: {readmitted}",
                      className="vw-chip")]


def downloads(ward: str, month: str) -> list:
    links: list = []
    for table in flow.TABLES:
        href = (f"/api/v1/wards/{quote(ward, safe='')}/flow.csv?"
                + urlencode({"month": month, "table": table}))
        links += [html.A(f"{table}.csv", href=href, download=f"{ward}-{month}-{table}.csv",
                         id=f"flow-csv-{table}"), " "]
    return links
