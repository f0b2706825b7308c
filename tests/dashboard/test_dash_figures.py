"""Pure figure builders: band shading that agrees with the score, WebGL for
long series, sparklines, the ward's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts import news2
from dashboard import figures

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=6)


def _row(parameter: str) -> figures.ChartRow:
    return next(r for r in figures.CHART_ROWS if r.parameter == parameter)


@pytest.mark.parametrize("parameter", ["respiratory_rate", "systolic_bp", "heart_rate",
                                       "temperature"])
def test_each_strip_is_shaded_with_the_score_the_chart_gives(parameter):
    """A value in the middle of each shaded strip scores what the strip's colour says."""
    scorer = getattr(news2, f"score_{parameter}")
    for y0, y1, points in figures.band_intervals(_row(parameter)):
        middle = np.array([(y0 + y1) / 2])
        assert scorer(middle)[0] == points, (parameter, y0, y1)


def test_spo2_scale_2_shades_the_oxygen_bands():
    row = figures._SPO2_SCALE2_ROW
    strips = figures.band_intervals(row)
    assert [p for *_, p in strips] == [3, 2, 1, 0, 1, 2, 3]
    assert figures.band_intervals(_row("spo2"))[-1] == (95.0, 100, 0)


def _series(n: int, value: float = 18.0) -> figures.Series:
    times = [START + timedelta(seconds=i * 6 * 3600 / max(n, 1)) for i in range(n)]
    return figures.Series(times, [value] * n, [value - 1] * n, [value + 1] * n, [3] * n)


def test_vital_signs_figure_has_a_strip_per_parameter_and_shading():
    fig = figures.vital_signs_figure({"respiratory_rate": _series(50),
                                      "systolic_bp": _series(50, 120),
                                      "diastolic_bp": _series(50, 80)},
                                     start=START, end=NOW, tz="Europe/London",
                                     accepted={"heart_rate": (90, 105)}, revision="p:24 h")
    assert len([k for k in fig.layout if k.startswith("yaxis")]) == 7
    shaded = [s for s in fig.layout.shapes if s.line.width == 0]
    assert len(shaded) == sum(len(figures.band_intervals(r)) for r in figures.CHART_ROWS)
    accepted = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert len(accepted) == 1 and (accepted[0].y0, accepted[0].y1) == (90, 105)
    assert fig.layout.uirevision == "p:24 h"
    # The missing parameters say so rather than showing an empty strip.
    assert any("no readings" in a.text for a in fig.layout.annotations)
    # x is naive UTC, ticks are local labels.
    assert str(fig.data[-1].x.dtype) == "datetime64[us]"  # numpy times carry no zone
    assert "GMT" in fig.layout.xaxis7.ticktext[0]


def test_long_series_are_drawn_with_webgl():
    small = figures.vital_signs_figure({"heart_rate": _series(100)}, start=START, end=NOW,
                                       tz="UTC")
    big = figures.vital_signs_figure({"heart_rate": _series(figures.SCATTERGL_THRESHOLD + 1)},
                                     start=START, end=NOW, tz="UTC")
    assert {t.type for t in small.data} == {"scatter"}
    assert {t.type for t in big.data} == {"scattergl"}


def test_score_history_marks_incomplete_scores_hollow():
    times = [START, START + timedelta(hours=1)]
    fig = figures.score_history_figure(times, [3, 7], ["low", "high"], [True, False],
                                       start=START, end=NOW, tz="Europe/London")
    bar = fig.data[0]
    assert list(bar.marker.color) == [figures.BAND_COLOURS["low"], "#ffffff"]
    assert "(incomplete)" in bar.customdata[1]


def test_sparkline_path_lifts_the_pen_over_gaps_and_clips():
    assert figures.sparkline_path([]) == ""
    path = figures.sparkline_path([0, 12, None, 30, 6], width=40, height=22, top=12)
    moves = path.split(" ")
    assert path.startswith("M0.0 21.0")
    assert sum(p.startswith("M") for p in moves) == 2  # a new stroke after the gap
    ys = [float(p) for p in moves[1::2]]
    assert min(ys) == pytest.approx(1.0)  # 12 and 30 both reach the top


def test_ward_figures_build_and_say_when_empty():
    assert "no alerts" in figures.rate_figure([], [], title="x").layout.annotations[0].text
    fig = figures.rate_figure(["NEWS2", "Overdue"], [0.5, 0.1], title="rate")
    assert list(fig.data[0].x) == [0.5, 0.1]
    spread = figures.Spread("news2", 10, 30, 60, 120, 300, 900)
    box = figures.delay_figure([spread, figures.Spread("none", 0, 0, 0, 0, 0, 0)], title="d")
    assert len(box.data) == 1 and box.data[0].median[0] == 2.0  # minutes
    share = figures.share_figure(["NEWS2"], [3], [1], [0], title="s")
    assert [t.x[0] for t in share.data] == [0.75, 0.25, 0.0]


def test_band_rank_and_colours_cover_every_band():
    assert [figures.band_rank(b) for b in news2.BANDS] == [0, 1, 2, 3, 4]
    assert figures.band_rank(None) == -1
    assert set(figures.BAND_COLOURS) == set(news2.BANDS) == set(figures.BAND_TEXT)
