"""Pure figure builders: the vital signs in the style of the NEWS2 chart
(each parameter shaded by its scoring bands), the score history, sparkline
paths for the ward grid, the ward's own figures, and the colours of bands
and sub-scores.  Data in, ``plotly`` figures or plain values out: no
database, no clock, no Dash."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# The chart's band edges, from the one home of the NEWS2 chart, so that the shading
# can never disagree with the score.
from dashboard.format import local_text, local_ticks
from ward import news2_chart as chart
from ward.domain import QUANTITY, TYPES, ReadingType
from ward.news2_chart import ACVPU, BANDS, PARAMETERS

# RCP NEWS2 chart colours (news2.md): 0 white, 1 yellow, 2 orange, 3 red.
# Light shading, for lines drawn over it (the grid's strong cell colours are in
# assets/ward.css).
SUBSCORE_SHADES: dict[int, str] = {0: "#ffffff", 1: "#fff4b8", 2: "#ffd6ad", 3: "#f7b6bf"}
# Bands: zero and low green-ish, low-medium amber, medium orange, high red.
BAND_COLOURS: dict[str, str] = {"zero": "#d6efd6", "low": "#9fd89f", "low-medium": "#ffd23f",
                                "medium": "#f28c28", "high": "#c8102e"}
BAND_TEXT: dict[str, str] = {"zero": "#0b3d0b", "low": "#0b3d0b", "low-medium": "#3d2e00",
                             "medium": "#1a0d00", "high": "#ffffff"}
BAND_LABELS: dict[str, str] = {band: band.capitalize() for band in BANDS}
NO_DATA_COLOUR = "#9aa5b1"

# Beyond this many points a trace is drawn with WebGL (conventions.md §6).
SCATTERGL_THRESHOLD = 15_000


@dataclass(frozen=True, slots=True)
class ChartRow:
    """One parameter's strip of the chart."""

    parameter: str
    label: str
    y_range: tuple[float, float]
    edges: tuple[float, ...]  # upper-inclusive cascade, as alerts.news2
    points: tuple[int, ...]
    ticks: tuple[tuple[float, str], ...] = ()
    height: float = 1.0


def _row(parameter, label, y_range, edges, points, **kw) -> ChartRow:
    return ChartRow(parameter, label, y_range, tuple(float(e) for e in edges),
                    tuple(int(p) for p in points), **kw)


CHART_ROWS: tuple[ChartRow, ...] = (
    _row("respiratory_rate", "Resp. rate<br>/min", (4, 36), chart.RESPIRATORY_RATE_EDGES,
         chart.RESPIRATORY_RATE_POINTS),
    _row("spo2", "SpO₂ %", (80, 100), chart.SPO2_SCALE1_EDGES, chart.SPO2_SCALE1_POINTS),
    _row("on_oxygen", "Air or O₂", (-0.5, 1.5), (0.5,), (0, chart.OXYGEN_POINTS),
         ticks=((0, "Air"), (1, "O₂")), height=0.45),
    _row("systolic_bp", "BP mmHg", (50, 240), chart.SYSTOLIC_BP_EDGES, chart.SYSTOLIC_BP_POINTS),
    _row("heart_rate", "Pulse<br>/min", (30, 160), chart.HEART_RATE_EDGES, chart.HEART_RATE_POINTS),
    _row("consciousness", "ACVPU", (-0.5, len(ACVPU) - 0.5), (0.5,),
         (0, int(chart.CONSCIOUSNESS_POINTS.max())),
         ticks=tuple((float(i), letter) for i, letter in enumerate(ACVPU)), height=0.6),
    _row("temperature", "Temp. °C", (34, 41), chart.TEMPERATURE_EDGES, chart.TEMPERATURE_POINTS),
)
assert tuple(r.parameter for r in CHART_ROWS) == PARAMETERS
# Reading types drawn inside another's strip rather than in one of their own.
_OVERLAYS = {"diastolic_bp": "systolic_bp"}
# Scale 2 shades the on-oxygen bands (on air every value above 92 scores 0:
# the chart says so in its label).
_SPO2_SCALE2_ROW = _row("spo2", "SpO₂ % (scale 2;<br>bands above 92 on O₂)", (78, 100),
                        chart.SPO2_SCALE2_EDGES, chart.SPO2_SCALE2_OXYGEN_POINTS)


@dataclass(frozen=True, slots=True)
class Series:
    """One parameter over time, downsampled: per bucket the mean, lowest and
    highest value and how many readings it holds (1 per point when raw)."""

    times: Sequence[datetime]
    mean: Sequence[float]
    low: Sequence[float] = field(default_factory=list)
    high: Sequence[float] = field(default_factory=list)
    count: Sequence[int] = field(default_factory=list)


def band_intervals(row: ChartRow) -> list[tuple[float, float, int]]:
    """(y0, y1, sub-score) strips of a parameter within its chart range."""
    lo, hi = row.y_range
    bounds = [-math.inf, *row.edges, math.inf]
    out = []
    for (a, b), points in zip(itertools.pairwise(bounds), row.points, strict=True):
        y0, y1 = max(a, lo), min(b, hi)
        if y1 > y0:
            out.append((y0, y1, points))
    return out


def naive_utc(t: datetime) -> datetime:
    """Plotly ignores offsets: every x is naive UTC, ticks carry local labels."""
    return t.astimezone(UTC).replace(tzinfo=None)


def _time_axis(fig: go.Figure, start: datetime, end: datetime, tz: str, rows: int) -> None:
    ticks = local_ticks(start, end, tz)
    for r in range(1, rows + 1):
        fig.update_xaxes(row=r, col=1, range=[naive_utc(start), naive_utc(end)],
                         tickvals=[t for t, _ in ticks], ticktext=[label for _, label in ticks],
                         showticklabels=r == rows, showgrid=True, gridcolor="#d0d5db")


def _trace_cls(n: int):
    return go.Scattergl if n > SCATTERGL_THRESHOLD else go.Scatter


def vital_signs_figure(series: Mapping[str, Series], *, start: datetime, end: datetime,
                       tz: str, spo2_scale: int = 1,
                       accepted: Mapping[str, tuple[float, float]] | None = None,
                       revision: str = "") -> go.Figure:
    """The NEWS2 chart: one strip per parameter, shaded by its scoring
    bands, the values over time (the line is the bucket mean, the light
    envelope its lowest and highest values).  ``accepted`` ranges are
    outlined: within them the patient scores 0."""
    rows = [(_SPO2_SCALE2_ROW if r.parameter == "spo2" and spo2_scale == 2 else r)
            for r in CHART_ROWS] + unscored_rows(series)
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.012,
                        row_heights=[r.height for r in rows])
    accepted = accepted or {}
    for i, row in enumerate(rows, start=1):
        axis = "" if i == 1 else str(i)
        for y0, y1, points in band_intervals(row):
            fig.add_shape(type="rect", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1,
                          y0=y0, y1=y1, fillcolor=SUBSCORE_SHADES[points], line_width=0,
                          layer="below")
        if row.parameter in accepted:
            low, high = accepted[row.parameter]
            fig.add_shape(type="rect", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1,
                          y0=low, y1=high, fillcolor="rgba(0,0,0,0)", layer="above",
                          line={"color": "#1f4e79", "width": 1.5, "dash": "dash"})
        _add_series(fig, i, row, series.get(row.parameter), tz)
        for overlay in (t for t, strip in _OVERLAYS.items() if strip == row.parameter):
            if series.get(overlay) is not None:
                _add_line(fig, i, TYPES[ReadingType(overlay)].display.split()[0],
                          series[overlay], tz, colour="#6b7785", dash="dot")
        yaxis = {"range": list(row.y_range), "title": {"text": row.label, "font": {"size": 11}},
                 "fixedrange": True, "showgrid": False, "zeroline": False}
        if row.ticks:
            yaxis.update(tickvals=[v for v, _ in row.ticks], ticktext=[t for _, t in row.ticks])
        fig.update_yaxes(row=i, col=1, **yaxis)
    _time_axis(fig, start, end, tz, len(rows))
    height = round(760 * sum(r.height for r in rows) / _CHART_HEIGHT)
    fig.update_layout(height=height, margin={"l": 80, "r": 16, "t": 8, "b": 40},
                      showlegend=False, plot_bgcolor="#ffffff", paper_bgcolor="#ffffff",
                      hovermode="closest", uirevision=revision or None)
    return fig


_CHART_HEIGHT = sum(r.height for r in CHART_ROWS)


def unscored_rows(series: Mapping[str, Series]) -> list[ChartRow]:
    """A plain strip for each reading type with readings that NEWS2 does not score
    (e.g. body weight), in ``ReadingType`` order; its range fits the values."""
    out = []
    for t in ReadingType:
        s = series.get(t.value)
        if t.value in PARAMETERS or t.value in _OVERLAYS or s is None or not len(s.times):
            continue
        values = [v for v in (*s.mean, *s.low, *s.high)
                  if v is not None and not math.isnan(v)]
        if not values:
            continue
        lo, hi = min(values), max(values)
        pad = max((hi - lo) * 0.1, abs(hi) * 0.02, 1.0)
        info = TYPES[t]
        # A yes or no (breathlessness) is drawn 0 to 1, with no unit under its name.
        unit = f"<br>{info.unit_text or info.unit}" if info.kind == QUANTITY else ""
        out.append(ChartRow(t.value, f"{info.display}{unit}", (lo - pad, hi + pad), (), (0,)))
    return out


def _times(times: Sequence[datetime]) -> np.ndarray:
    """Times as an array: plotly checks a list element by element (half a second
    for a week of readings) but takes an array whole."""
    return np.array([naive_utc(t) for t in times], dtype="datetime64[us]")


def _values(values: Sequence[float | None]) -> np.ndarray:
    return np.array(values, dtype=float)  # None (no value) becomes NaN: a gap


def _hover_times(times: Sequence[datetime], tz: str) -> list[str]:
    return [local_text(t, tz) for t in times]


def _add_series(fig: go.Figure, row_index: int, row: ChartRow, s: Series | None,
                tz: str) -> None:
    if s is None or not len(s.times):
        fig.add_annotation(text="no readings in this period", xref=f"x{_ax(row_index)} domain",
                           yref=f"y{_ax(row_index)} domain", x=0.5, y=0.5, showarrow=False,
                           font={"color": "#5a6570", "size": 11})
        return
    x = _times(s.times)
    trace = _trace_cls(len(x))
    if s.low and s.high and any(c > 1 for c in s.count):
        fig.add_trace(trace(x=x, y=_values(s.high), mode="lines", line={"width": 0},
                            hoverinfo="skip"), row=row_index, col=1)
        fig.add_trace(trace(x=x, y=_values(s.low), mode="lines", line={"width": 0},
                            fill="tonexty", fillcolor="rgba(31,78,121,0.18)",
                            hoverinfo="skip"), row=row_index, col=1)
    _add_line(fig, row_index, row.label.replace("<br>", " "), s, tz)


def _add_line(fig: go.Figure, row_index: int, name: str, s: Series, tz: str, *,
              colour: str = "#1f4e79", dash: str = "solid") -> None:
    x = _times(s.times)
    many = len(x) > 200
    fig.add_trace(_trace_cls(len(x))(
        x=x, y=_values(s.mean), name=name, mode="lines" if many else "lines+markers",
        line={"color": colour, "width": 1.6, "dash": dash}, marker={"size": 5},
        customdata=np.array(_hover_times(s.times, tz)),
        hovertemplate=f"%{{customdata}}<br>{name}: %{{y:.4~g}}<extra></extra>"),
        row=row_index, col=1)


def _ax(i: int) -> str:
    return "" if i == 1 else str(i)


def score_history_figure(times: Sequence[datetime], totals: Sequence[int],
                         bands: Sequence[str], complete: Sequence[bool], *,
                         start: datetime, end: datetime, tz: str,
                         revision: str = "") -> go.Figure:
    """NEWS2 total over time as bars in the band's colour; an incomplete
    score (a lower bound) is drawn hollow.  Lines at the key thresholds 5 and 7."""
    fig = make_subplots(rows=1, cols=1)
    x = [naive_utc(t) for t in times]
    colours = [BAND_COLOURS.get(b, NO_DATA_COLOUR) for b in bands]
    fig.add_trace(go.Bar(
        x=x, y=list(totals), marker={"color": [c if ok else "#ffffff" for c, ok in
                                              zip(colours, complete, strict=True)],
                                     "line": {"color": colours, "width": 2}},
        customdata=[f"{local_text(t, tz)}<br>{BAND_LABELS.get(b, b)}"
                    + ("" if ok else " (incomplete)")
                    for t, b, ok in zip(times, bands, complete, strict=True)],
        hovertemplate="%{customdata}<br>NEWS2 %{y}<extra></extra>"))
    for level, colour in ((chart.MEDIUM_TOTAL, BAND_COLOURS["medium"]),
                          (chart.HIGH_TOTAL, BAND_COLOURS["high"])):
        fig.add_hline(y=level - 0.5, line={"color": colour, "width": 1, "dash": "dash"})
    _time_axis(fig, start, end, tz, 1)
    fig.update_yaxes(range=[0, max([9, *totals]) + 1], title={"text": "NEWS2"}, fixedrange=True)
    fig.update_layout(height=220, margin={"l": 80, "r": 16, "t": 8, "b": 40}, bargap=0.1,
                      showlegend=False, plot_bgcolor="#ffffff", uirevision=revision or None)
    return fig


def sparkline_path(values: Sequence[float | None], *, width: float = 96, height: float = 22,
                   top: float = 12) -> str:
    """An SVG path ('M x y L x y ...') of a score trend; a gap (None) lifts
    the pen.  Scores are drawn on 0..``top`` (higher clipped), so that one
    patient's line compares with the next one's."""
    n = len(values)
    if n == 0:
        return ""
    dx = width / max(n - 1, 1)
    parts: list[str] = []
    pen_down = False
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            pen_down = False
            continue
        y = height - 1 - (min(max(v, 0), top) / top) * (height - 2)
        parts.append(f"{'L' if pen_down else 'M'}{i * dx:.1f} {y:.1f}")
        pen_down = True
    return " ".join(parts)


# ---------------------------------------------------------------- the ward's own figures

def empty_figure(message: str, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper",
                       yref="paper", font={"size": 14, "color": "#5a6570"})
    fig.update_layout(height=height, xaxis={"visible": False}, yaxis={"visible": False},
                      plot_bgcolor="#ffffff", margin={"l": 40, "r": 16, "t": 40, "b": 40})
    return fig


def rate_figure(kinds: Sequence[str], rates: Sequence[float], *, title: str) -> go.Figure:
    """Alerts per patient-day, one bar per kind."""
    if not kinds:
        return empty_figure("no alerts in this period")
    fig = go.Figure(go.Bar(x=list(rates), y=list(kinds), orientation="h",
                           marker_color="#1f4e79", text=[f"{r:.2f}" for r in rates],
                           textposition="auto"))
    fig.update_layout(title=title, height=max(220, 60 + 32 * len(kinds)),
                      xaxis_title="alerts per patient-day", plot_bgcolor="#ffffff",
                      margin={"l": 140, "r": 16, "t": 48, "b": 40}, yaxis={"autorange": "reversed"})
    return fig


@dataclass(frozen=True, slots=True)
class Spread:
    """How a delay [s] is spread within a group: its count and the 5th, 25th,
    50th, 75th and 95th percentiles (computed in the database)."""

    group: str
    n: int
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float


def delay_figure(spreads: Sequence[Spread], *, title: str) -> go.Figure:
    """A delay per group as box plots in minutes: box 25th-75th percentile,
    whiskers 5th-95th."""
    spreads = [s for s in spreads if s.n]
    if not spreads:
        return empty_figure("nothing measured in this period")
    fig = go.Figure()
    for s in spreads:
        fig.add_trace(go.Box(
            y=[f"{s.group} (n={s.n})"], lowerfence=[s.p5 / 60], q1=[s.p25 / 60],
            median=[s.p50 / 60], q3=[s.p75 / 60], upperfence=[s.p95 / 60],
            orientation="h", marker_color="#1f4e79", name=s.group))
    fig.update_layout(title=title, height=max(220, 60 + 48 * len(spreads)), showlegend=False,
                      xaxis_title="minutes (box: middle half; whiskers: 5th-95th percentile)",
                      plot_bgcolor="#ffffff", margin={"l": 160, "r": 16, "t": 48, "b": 48})
    return fig


def share_figure(kinds: Sequence[str], changed: Sequence[int], unchanged: Sequence[int],
                 unrecorded: Sequence[int], *, title: str) -> go.Figure:
    """Share of acknowledged alerts that changed management, per kind."""
    if not kinds:
        return empty_figure("no acknowledged alerts in this period")
    totals = [max(a + b + c, 1) for a, b, c in zip(changed, unchanged, unrecorded, strict=True)]
    fig = go.Figure()
    for name, counts, colour in (("changed management", changed, "#2e7d32"),
                                 ("no change", unchanged, "#9aa5b1"),
                                 ("not recorded", unrecorded, "#e0e4e8")):
        fig.add_trace(go.Bar(y=list(kinds), x=[c / t for c, t in zip(counts, totals,
                                                                      strict=True)],
                             name=name, orientation="h", marker_color=colour,
                             customdata=list(counts),
                             hovertemplate="%{y}: %{customdata} (%{x:.0%})<extra>"
                                           + name + "</extra>"))
    fig.update_layout(title=title, barmode="stack", height=max(220, 80 + 32 * len(kinds)),
                      xaxis={"tickformat": ".0%", "range": [0, 1]}, plot_bgcolor="#ffffff",
                      legend={"orientation": "h", "y": -0.25},
                      margin={"l": 140, "r": 16, "t": 48, "b": 60},
                      yaxis={"autorange": "reversed"})
    return fig


def band_rank(band: str | None) -> int:
    """0 (zero) .. 4 (high); -1 for no score."""
    return BANDS.index(band) if band in BANDS else -1
