"""Figures of the ward's capacity and flow (issue 14, item 5), pure: a month
from dashboard/flow_queries.py in, ``plotly`` figures out.  What a ward manager
reports to NHS England each month, drawn rather than tabled: how full was the
ward against the beds it ran, who came and went each day, how long they
stayed, and where they came from and went."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard.figures import empty_figure
from ward import flow

_GREEN, _GREY, _RED, _AMBER, _BLUE = "#2e7d32", "#9aa5b1", "#c62828", "#ef8f00", "#1f4e79"
_LAYOUT = {"plot_bgcolor": "#ffffff", "height": 300,
           "margin": {"l": 56, "r": 16, "t": 48, "b": 40},
           "legend": {"orientation": "h", "y": -0.2, "traceorder": "normal"}}


_DAY_MS = 86_400_000


def _noons(m: flow.Month) -> list[datetime]:
    """Each day's bar at its noon, so that a step of the capacity at midnight falls
    between two bars."""
    return [datetime.combine(d.day, time(12)) for d in m.days]


def _day_axis(m: flow.Month) -> dict:
    first = datetime.combine(m.days[0].day, time())
    last = datetime.combine(m.days[-1].day + timedelta(days=1), time())
    return {"type": "date", "range": [first, last], "tickformat": "%a %d %b",
            "dtick": _DAY_MS * (1 if len(m.days) <= 10 else 7),
            "tick0": first + timedelta(hours=12)}  # a day's label under its bar


def occupancy_figure(m: flow.Month) -> go.Figure:
    """Occupied beds by day (each patient's share of the day) against the capacity
    in force that day, a step where an admin changed it."""
    days = _noons(m)
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=days, y=[round(d.occupied_beds, 2) for d in m.days], name="occupied beds",
        width=0.8 * _DAY_MS,
        marker_color=[_RED if d.occupancy is not None and d.occupancy > 1 else _BLUE
                      for d in m.days],
        customdata=[[d.patients, "—" if d.occupancy is None else f"{d.occupancy:.0%}"]
                    for d in m.days],
        hovertemplate="%{x|%a %d %b}: %{y} beds occupied (%{customdata[1]}),"
                      " %{customdata[0]} patients on the ward<extra></extra>"))
    # From each day's midnight to the next: the last day's capacity held to its end.
    midnights = [datetime.combine(d.day, time()) for d in m.days]
    fig.add_trace(go.Scatter(
        x=[*midnights, midnights[-1] + timedelta(days=1)],
        y=[*(d.capacity for d in m.days), m.days[-1].capacity], name="capacity (beds)",
        mode="lines", line={"shape": "hv", "color": _AMBER, "width": 3}, connectgaps=False,
        hovertemplate="capacity %{y} beds<extra></extra>"))
    fig.update_layout(title="Occupancy against capacity, by day",
                      yaxis={"title": "beds", "rangemode": "tozero"}, xaxis=_day_axis(m),
                      **_LAYOUT)
    if all(d.capacity is None for d in m.days):
        fig.add_annotation(text="no capacity set: an admin sets it (vward ward capacity)",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=1.0,
                           font={"color": _RED})
    return fig


def movements_figure(m: flow.Month) -> go.Figure:
    """Admissions up, discharges down, by day."""
    days = _noons(m)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=days, y=[d.admissions for d in m.days], name="admissions",
                         marker_color=_GREEN, width=0.8 * _DAY_MS,
                         hovertemplate="%{x|%a %d %b}: %{y} admissions<extra></extra>"))
    fig.add_trace(go.Bar(x=days, y=[-d.discharges for d in m.days], name="discharges",
                         width=0.8 * _DAY_MS,
                         marker_color=_GREY, customdata=[d.discharges for d in m.days],
                         hovertemplate="%{x|%a %d %b}: %{customdata} discharges<extra></extra>"))
    top = max([d.admissions for d in m.days] + [d.discharges for d in m.days])
    fig.update_layout(title="Admissions and discharges, by day", barmode="relative",
                      yaxis={"title": "patients", **_counts(2 * top)}, xaxis=_day_axis(m),
                      **_LAYOUT)
    return fig


def los_figure(m: flow.Month) -> go.Figure:
    """Stays ended in the month by their length in days, the median marked."""
    if not m.los_days:
        return empty_figure("no discharge in this month")
    bins = flow.los_histogram(m.los_days)
    fig = go.Figure(go.Bar(x=[b for b, _ in bins], y=[n for _, n in bins], marker_color=_BLUE,
                           text=[n or "" for _, n in bins], textposition="auto",
                           hovertemplate="%{x} days: %{y} stays<extra></extra>"))
    median = flow.median_los(m)
    fig.update_layout(title=f"Length of stay (median {median:g} days)",
                      xaxis={"title": "days on the ward (0: the same day)", "type": "category"},
                      yaxis={"title": "stays", **_counts(max(n for _, n in bins))}, **_LAYOUT)
    return fig


def sources_figure(m: flow.Month) -> go.Figure:
    """Where the month's admissions came from: step-up, step-down, not recorded."""
    rows = [r for r in flow.sources(m) if r[1] or r[0] in flow.SOURCES]
    if not m.admitted:
        return empty_figure("no admission in this month")
    colours = {"step-up": _GREEN, "step-down": _BLUE, "not recorded": _GREY}
    fig = go.Figure(go.Pie(labels=[_source_text(s) for s, _ in rows], values=[n for _, n in rows],
                           marker={"colors": [colours[s] for s, _ in rows]}, sort=False,
                           hole=0.45, textinfo="label+value+percent"))
    fig.update_layout(title="Admissions: step-up and step-down", showlegend=False,
                      **{k: v for k, v in _LAYOUT.items() if k != "legend"})
    return fig


def outcomes_figure(m: flow.Month, tz: ZoneInfo) -> go.Figure:
    """Where the month's discharged patients went, and how many were readmitted to
    hospital within 30 days (as recorded so far)."""
    if not m.discharged:
        return empty_figure("no discharge in this month")
    rows = flow.outcomes(m, tz)
    colours = [_GREEN, _AMBER, _RED, _GREY, _RED]
    total = len(m.discharged)
    fig = go.Figure(go.Bar(
        y=[_outcome_text(o) for o, _ in rows], x=[n for _, n in rows], orientation="h",
        marker_color=colours, text=[f"{n} ({n / total:.0%})" for _, n in rows],
        textposition="auto"))
    fig.update_layout(title=f"Discharges ({total}): where they went",
                      yaxis={"autorange": "reversed"},
                      xaxis={"title": "patients", **_counts(max(n for _, n in rows))},
                      **{**_LAYOUT, "margin": {"l": 200, "r": 16, "t": 48, "b": 40}})
    return fig


def _counts(top: int) -> dict:
    """An axis of counts: whole numbers only (no 0.2 of a patient)."""
    return {"rangemode": "tozero", "tickformat": ",d", "dtick": 1} if top <= 6 else {
        "rangemode": "tozero", "tickformat": ",d"}


def _source_text(source: str) -> str:
    return {"step-up": "Step-up (from home)", "step-down": "Step-down (from hospital)"}.get(
        source, "Not recorded")


def _outcome_text(outcome: str) -> str:
    return {"home": "Home", "hospital": "To hospital", "died": "Died",
            "not recorded": "Not recorded"}.get(
        outcome, f"Readmitted to hospital within {flow.READMISSION_DAYS} days")
