"""Figures of the ward's reaching people (issue 13, item 6), pure: data from
dashboard/notify_queries.py in, ``plotly`` figures out.  Each answers one
question a ward lead asks at a glance: how soon is someone told, how soon does
someone act and how, what did asking for a re-measurement save, how often did
an alert have to go up a tier, and do the messages get through."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.figures import Spread, delay_figure, empty_figure
from dashboard.notify_queries import Delivery, Remeasures
from ward import ack_links

_GREEN, _GREY, _RED, _AMBER, _BLUE = "#2e7d32", "#9aa5b1", "#c62828", "#ef8f00", "#1f4e79"
_CHANNELS = {"email": "email", "webhook": "webhook", "sms": "SMS"}


def _label(group: str, how: str) -> str:
    return f"{group[:1].upper()}{group[1:]}" + (f" · {how}" if how else "")


def delivered_figure(rows: Sequence[tuple[str, Spread]]) -> go.Figure:
    """From the alert to its first notification delivered: to anyone, then per tier
    and channel (tier 2 of an urgent alert includes the escalation wait)."""
    spreads = [Spread(_label(s.group, _CHANNELS.get(channel, channel)), s.n, s.p5, s.p25,
                      s.p50, s.p75, s.p95) for channel, s in rows]
    # Plotly draws the first category at the bottom: reversed, "anyone" heads the list.
    return delay_figure(spreads[::-1], title="From the alert to the first notification delivered")


def ack_figure(rows: Sequence[tuple[str, Spread]]) -> go.Figure:
    """From the alert to its acknowledgement, by the tier the acknowledger was notified
    at and how they acknowledged it (the email link, the dashboard ...)."""
    spreads = [Spread(_label(s.group, ack_links.via_text(via) or "how not recorded"), s.n,
                      s.p5, s.p25, s.p50, s.p75, s.p95) for via, s in rows]
    return delay_figure(spreads[::-1],
                        title="From the alert to its acknowledgement, by tier and how")


def remeasure_figure(r: Remeasures) -> go.Figure:
    """Re-measurements asked and what came back, each bar with its share of those asked."""
    if not r.asked:
        return empty_figure("no re-measurement asked in this period")
    bars = [("Asked", r.asked, _BLUE),
            ("Confirmed: alert opened", r.confirmed, _AMBER),
            ("Not confirmed: resolved by re-measurement", r.not_confirmed, _GREEN),
            ("Unanswered: alert opened", r.unanswered, _RED),
            ("Emergency first: alert opened", r.superseded, _RED),
            ("Discharged while waiting", r.cancelled, _GREY),
            ("Waiting for the answer", r.waiting, _GREY)]
    bars = [b for b in bars if b[1] or b[0] in ("Asked", "Confirmed: alert opened",
                                                "Not confirmed: resolved by re-measurement",
                                                "Unanswered: alert opened")]
    fig = go.Figure(go.Bar(
        x=[n for _, n, _ in bars], y=[name for name, _, _ in bars], orientation="h",
        marker_color=[c for *_, c in bars],
        text=[f"{n}" if name == "Asked" else f"{n} ({n / r.asked:.0%})"
              for name, n, _ in bars], textposition="auto"))
    fig.update_layout(title="Re-measurements before a spot-check alarm",
                      height=max(220, 60 + 34 * len(bars)), xaxis_title="re-measurements",
                      plot_bgcolor="#ffffff", yaxis={"autorange": "reversed"},
                      margin={"l": 280, "r": 16, "t": 48, "b": 40})
    return fig


def escalation_figure(rows: Sequence[tuple[int, int, int]]) -> go.Figure:
    """Alerts that reached tier 2 and tier 3: escalated (nobody acknowledged in time, or
    worse) or at once (an emergency; a gap in the rota)."""
    if not rows:
        return empty_figure("no alert went beyond tier 1 in this period")
    tiers = [f"Tier {tier}" for tier, *_ in rows]
    fig = go.Figure()
    for name, i, colour in (("escalated", 1, _RED), ("at once (emergency, rota gap)", 2,
                                                       _GREY)):
        fig.add_trace(go.Bar(y=tiers, x=[r[i] for r in rows], name=name, orientation="h",
                             marker_color=colour, text=[r[i] or "" for r in rows],
                             textposition="auto"))
    fig.update_layout(title="Alerts that reached tier 2 and 3", barmode="stack",
                      height=220, xaxis_title="alerts", plot_bgcolor="#ffffff",
                      yaxis={"autorange": "reversed"},
                      legend={"orientation": "h", "y": -0.35, "traceorder": "normal"},
                      margin={"l": 80, "r": 16, "t": 48, "b": 70})
    return fig


def delivery_figure(rows: Sequence[Delivery]) -> go.Figure:
    """Notifications by channel: delivered, still being tried, failed (given up);
    the attempts that failed along the way in the hover."""
    if not rows:
        return empty_figure("no notification in this period")
    channels = [_CHANNELS.get(d.channel, d.channel) for d in rows]
    fig = go.Figure()
    for name, counts, colour in (("delivered", [d.sent for d in rows], _GREEN),
                                 ("being retried", [d.pending for d in rows], _GREY),
                                 ("failed", [d.failed for d in rows], _RED)):
        fig.add_trace(go.Bar(y=channels, x=counts, name=name, orientation="h",
                             marker_color=colour, text=[c or "" for c in counts],
                             textposition="auto",
                             customdata=[d.failed_attempts for d in rows],
                             hovertemplate="%{y}: %{x} " + name
                                           + " (%{customdata} failed attempts)<extra></extra>"))
    fig.update_layout(title="Notifications delivered and failed, by channel", barmode="stack",
                      height=max(220, 80 + 34 * len(rows)), xaxis_title="notifications",
                      plot_bgcolor="#ffffff", yaxis={"autorange": "reversed"},
                      legend={"orientation": "h", "y": -0.3, "traceorder": "normal"},
                      margin={"l": 80, "r": 16, "t": 48, "b": 70})
    return fig
