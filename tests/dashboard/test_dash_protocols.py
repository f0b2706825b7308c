"""The ward page's columns follow the ward's protocol (issue 14, item 3): a
COVID-19 oximetry ward shows each patient's SpO2 level, a heart-failure ward
the weight and its 1-day and 3-day change, a NEWS2 ward neither; the figures
are the engine's rules on the same readings (ingested through ingest's door),
and OVERDUE follows the protocol's monitoring as the engine's alert does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import unique

import ingest
from dashboard import protocol_rows
from dashboard.app import close_dash, create_dash
from dashboard.pages import ward as ward_page
from ward import db, protocol_store

pytestmark = pytest.mark.db

NOW = datetime.now(UTC).replace(microsecond=0)


def _send(conn, door, device_id: str, readings: list[tuple[float, str, float]]) -> None:
    body = {"id": unique("m"), "readings": [
        {"time": (NOW - timedelta(hours=h)).isoformat(), "type": t, "value": v}
        for h, t, v in readings]}
    done = door.readings(conn, device_id, json.dumps(body).encode(), NOW, kept_as="test")
    assert not done.refused


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


def test_the_columns_and_cells_follow_the_protocol(services_up, register, app):
    covid, hf, news2 = unique("wc"), unique("wh"), unique("wn")
    door = ingest.DirectIngest(ingest.limits(services_up))
    with db.connect(services_up, autocommit=True) as conn:
        protocol_store.add_ward(conn, covid, "covid-oximetry", by="test")
        protocol_store.add_ward(conn, hf, "heart-failure", name="Heart failure", by="test")
        ingest.prepare_connection(conn)
        red, green = register(ward_id=covid), register(ward_id=covid)
        gain = register(ward_id=hf, valid_from=NOW - timedelta(days=5))
        plain = register(ward_id=news2)
        _send(conn, door, red.device_id, [(1, "spo2", 96), (0.1, "spo2", 92)])
        _send(conn, door, green.device_id, [(0.1, "spo2", 95)])
        _send(conn, door, gain.device_id, [(72, "body_weight", 80.0), (24, "body_weight", 81.0),
                                           (0.1, "body_weight", 82.05)])
        _send(conn, door, plain.device_id, [(0.1, "spo2", 92)])

    def cells(ward: str) -> dict[str, dict]:
        with app.server.app_context():  # no request: nobody to scope (an admin sees all)
            grid, *_ = ward_page.ward_view(ward, NOW)
        return {r["patient_id"]: r for r in grid}

    def columns(ward: str) -> list[str]:
        with app.server.app_context():  # no request: nobody to scope (an admin sees all)
            return [c["field"] for c in ward_page.ward_columns(ward)]

    c = cells(covid)
    assert c[red.patient_id]["spo2_level"] == "Red 92"
    assert c[red.patient_id]["spo2_level_name"] == "red"
    assert "999" in c[red.patient_id]["spo2_level_tip"]
    assert c[green.patient_id]["spo2_level"] == "Green 95"
    h = cells(hf)[gain.patient_id]
    assert (h["weight"], h["weight_1d"], h["weight_3d"]) == ("82.05 kg", "+1.05", "+2.05")
    assert h["weight_1d_alert"] and h["weight_3d_alert"]
    assert "spo2_level" not in cells(news2)[plain.patient_id]
    # Overdue by the protocol's monitoring, as the engine judges it: none of them has
    # a complete NEWS2 set (a NEWS2 ward's patient is overdue 12 h after admission),
    # but their protocol readings are in time.
    assert not c[red.patient_id]["overdue"] and not c[green.patient_id]["overdue"]
    assert not h["overdue"] and cells(news2)[plain.patient_id]["overdue"]
    fields = {w: columns(w) for w in (covid, hf, news2)}
    base = [c["field"] for c in ward_page.COLUMNS]
    assert fields[news2] == base
    assert fields[covid] == [*base[:base.index("measured")], "spo2_level",
                             *base[base.index("measured"):]]
    assert {"weight", "weight_1d", "weight_3d"} <= set(fields[hf])
    assert protocol_rows.columns(ward_page.COLUMNS, None) == ward_page.COLUMNS
