"""The dashboard's patient page records who read the patient (issue 10, item
16), through Dash's own callback endpoint as the browser calls it, with the
identity the web app's gate passes on; the ward view reads no one patient."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import on_ward, unique

from dashboard import sample
from dashboard.app import close_dash, create_dash
from dashboard.deps import ROLE_HEADER, USER_HEADER
from ward import db

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


def _post(app, outputs, inputs, headers):
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]}
    r = app.server.test_client().post("/_dash-update-component", json=body, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)[:1000]
    return json.loads(r.get_data(as_text=True))["response"]


def test_the_patient_page_records_the_clinicians_read(app, services_up):
    now = datetime.now(UTC)
    with db.connect(services_up, autocommit=True) as conn:
        pid = sample.build_ward(conn, now=now, ward_id=(ward := unique("wr")),
                                prefix=unique("r"))[0]
        on_ward(conn, ward, "rita.nurse")
    who = {USER_HEADER: "rita.nurse", ROLE_HEADER: "clinician"}
    _post(app, [("pt-head", "children"), ("pt-vitals", "figure"), ("pt-scores", "figure"),
                ("pt-resolution", "children")],
          [("pt-id", "data", pid), ("pt-range", "value", "24 h"),
           ("pt-chart-tick", "n_intervals", 0), ("pt-settings-version", "data", 0)], who)
    _post(app, [("pt-alerts", "rowData"), ("pt-devices", "rowData"), ("pt-settings", "rowData"),
                ("pt-settings-now", "children")],
          [("pt-id", "data", pid), ("pt-tick", "n_intervals", 1),
           ("pt-alert-version", "data", 0), ("pt-settings-version", "data", 0)], who)
    with db.connect(services_up, autocommit=True) as conn:
        rows = conn.execute("SELECT actor, role, via, what FROM patient_reads"
                            " WHERE patient_id = %s", (pid,)).fetchall()
    # Both callbacks of the page within a minute: one row.
    assert rows in ([("rita.nurse", "clinician", "dashboard", "patient page")],
                    [("rita.nurse", "clinician", "dashboard", "patient page")] * 2)
