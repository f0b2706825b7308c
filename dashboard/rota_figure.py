"""The rota as a picture: for each tier a week × hour heat-map of how many
are on call, the hours nobody covers in red (and marked "!", for those who
cannot tell red from green), the ward's current hour outlined.  Pure: the
7 × 24 grids of names in (ward/rota.week), a plotly figure out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ward import rota

GAP_COLOUR = "#c8102e"  # the ward's red (figures.BAND_COLOURS["high"])
# 1, 2, 3 or more on call: light to dark green.
COVER_COLOURS = ("#b9e2b9", "#6cbf6c", "#2e7d32")
_MAX_SHOWN = len(COVER_COLOURS)
GAP_MARK = "!"
_ROW_HEIGHT = 190

Week = Sequence[Sequence[Sequence[str]]]  # [day][hour] -> names on call


def _colourscale() -> list[list]:
    """Steps on z = 0 .. _MAX_SHOWN: 0 red, then the greens."""
    colours = (GAP_COLOUR, *COVER_COLOURS)
    scale: list[list] = []
    for i, colour in enumerate(colours):
        scale += [[i / len(colours), colour], [(i + 1) / len(colours), colour]]
    return scale


def _hover(day: int, hour: int, tier: int, names: Sequence[str]) -> str:
    when = f"{rota.DAY_NAMES[day].capitalize()} {hour:02d}:00-{hour + 1:02d}:00"
    if names:
        return f"{when} · tier {tier}: {', '.join(names)}"
    after = (f"alerts go to tier {tier + 1} or above" if tier < rota.TIERS[-1]
             else "nobody above tier 3")
    return f"{when} · tier {tier}: NOBODY on call ({after})"


def rota_figure(weeks: Mapping[int, Week], *, now: tuple[int, int] | None = None,
                zone: str = "") -> go.Figure:
    """One heat-map per tier (rows Monday..Sunday, columns local hours 00..23);
    `now` (weekday, hour) in the ward's zone is outlined."""
    tiers = sorted(weeks)
    fig = make_subplots(rows=len(tiers), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[f"Tier {t}: {rota.TIER_NAMES[t]}" for t in tiers])
    hours = [f"{h:02d}" for h in range(rota.HOURS_PER_DAY)]
    days = [d.capitalize() for d in rota.DAY_NAMES]
    for row, tier in enumerate(tiers, start=1):
        grid = weeks[tier]
        z = [[min(len(names), _MAX_SHOWN) for names in day] for day in grid]
        fig.add_trace(go.Heatmap(
            z=z, x=hours, y=days, zmin=0, zmax=_MAX_SHOWN + 1, colorscale=_colourscale(),
            showscale=False, xgap=1, ygap=1, name=f"tier {tier}",
            text=[[GAP_MARK if not names else "" for names in day] for day in grid],
            texttemplate="%{text}", textfont={"color": "#ffffff", "size": 12},
            hovertext=[[_hover(d, h, tier, names) for h, names in enumerate(day)]
                       for d, day in enumerate(grid)],
            hoverinfo="text"), row=row, col=1)
        fig.update_yaxes(autorange="reversed", row=row, col=1, fixedrange=True)
        if now is not None:
            day, hour = now
            fig.add_shape(type="rect", x0=hour - 0.5, x1=hour + 0.5, y0=day - 0.5, y1=day + 0.5,
                          line={"color": "#111111", "width": 3}, row=row, col=1)
    fig.update_xaxes(fixedrange=True, title_text=f"hour ({zone} wall-clock)" if zone else "hour",
                     row=len(tiers), col=1)
    fig.update_layout(height=_ROW_HEIGHT * len(tiers) + 60, plot_bgcolor="#ffffff",
                      margin={"l": 48, "r": 16, "t": 36, "b": 48})
    return fig


def gap_cells(fig: go.Figure) -> dict[str, int]:
    """How many hours of the week each tier's trace shows as a gap (tests, checks)."""
    return {trace.name: sum(v == 0 for day in trace.z for v in day) for trace in fig.data}
