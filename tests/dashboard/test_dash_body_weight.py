"""A vital sign is a row (issue 11): body weight, one row of ward/domain.py's
TYPES, ingested through ingest's public door, is in the patient page's chart
data and gets a strip of its own on the chart; a patient without weights keeps
the NEWS2 chart as it was."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import ingest
from dashboard import figures, queries
from ward import db

pytestmark = pytest.mark.db


def _yaxis_titles(fig) -> list[str]:
    return [fig.layout[name].title.text for name in sorted(
        (k for k in fig.layout if k.startswith("yaxis")), key=lambda k: int(k[5:] or 1))]


def test_body_weight_is_charted_on_the_patient_page(services_up, register):
    reg = register()
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [{"time": (now - timedelta(hours=h)).isoformat(), "type": "body_weight",
                 "value": 80 + h / 10, "unit": "kg"} for h in range(3)]
    readings.append({"time": now.isoformat(), "type": "heart_rate", "value": 72})
    door = ingest.DirectIngest(ingest.limits(services_up))
    with db.connect(services_up, autocommit=True) as conn:
        ingest.prepare_connection(conn)
        done = door.readings(conn, reg.device_id,
                             json.dumps({"id": "w-1", "readings": readings}).encode(), now,
                             kept_as="test")
        assert (done.stored, done.refused) == (4, ())
        series, _ = queries.observations(conn, reg.patient_id, now - timedelta(hours=6), now)
    assert sorted(series) == ["body_weight", "heart_rate"]
    assert [float(v) for v in series["body_weight"].mean] == pytest.approx([80.2, 80.1, 80.0])

    fig = figures.vital_signs_figure(series, start=now - timedelta(hours=6), end=now, tz="UTC")
    titles = _yaxis_titles(fig)
    assert len(titles) == len(figures.CHART_ROWS) + 1 and titles[-1] == "Body weight<br>kg"
    low, high = fig.layout[f"yaxis{len(titles)}"].range
    assert low < 80.0 and high > 80.2
    weights = [t for t in fig.data if t.name == "Body weight<br>kg".replace("<br>", " ")]
    assert [list(t.y) for t in weights] == [pytest.approx([80.2, 80.1, 80.0])]


def test_without_weights_the_chart_is_the_news2_chart():
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    fig = figures.vital_signs_figure({}, start=now - timedelta(hours=6), end=now, tz="UTC")
    assert len(_yaxis_titles(fig)) == len(figures.CHART_ROWS)
    assert fig.layout.height == 760
