"""Wards are separate on the dashboard too (issue 14, item 6): a clinician of
ward A, signed in (the identity the web app's gate passes on), is offered
ward A alone, sees nothing of ward B on the ward page, the patient page or
an alert's trail, and cannot act on ward B's alerts; an admin sees both.
Through Dash's own callback endpoint, as the browser calls it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import unique

from api import accounts
from dashboard import actions, deps, layout, sample
from dashboard.app import close_dash, create_dash
from dashboard.deps import ROLE_HEADER, USER_HEADER
from dashboard.pages import patient as patient_page
from ward import db, team_store

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


@pytest.fixture(scope="module")
def two(services_up):
    now = datetime.now(UTC)
    a, b, nurse = unique("wa"), unique("wb"), unique("nurse")
    with db.connect(services_up, autocommit=True) as conn:
        pa = sample.build_ward(conn, now=now, ward_id=a, ward_name=f"A {a}", prefix=unique("a"))
        pb = sample.build_ward(conn, now=now, ward_id=b, ward_name=f"B {b}", prefix=unique("b"))
        accounts.create_user(conn, nurse, "clinician", "pw-long-enough")
        team_store.join(conn, a, nurse, by="test")
        alert_b = conn.execute("SELECT alert_id FROM alerts WHERE ward_id = %s AND state = 'open'"
                               " LIMIT 1", (b,)).fetchone()[0]
    return a, b, pa, pb, nurse, alert_b


def _post(app, outputs, inputs, headers):
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]}
    r = app.server.test_client().post("/_dash-update-component", json=body, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)[:1000]
    return json.loads(r.get_data(as_text=True))["response"]


def _ward_page(app, ward, who):
    return _post(app, [("ward-grid", "rowData"), ("ward-alerts", "rowData"),
                       ("ward-summary", "children"), ("ward-status", "children"),
                       ("ward-status", "className"), ("ward-choice", "data")],
                 [("ward-tick", "n_intervals", 0), ("ward-select", "value", ward),
                  ("ward-alert-version", "data", 0)], who)


def _patient_page(app, pid, who):
    head = _post(app, [("pt-head", "children"), ("pt-vitals", "figure"), ("pt-scores", "figure"),
                       ("pt-resolution", "children")],
                 [("pt-id", "data", pid), ("pt-range", "value", "24 h"),
                  ("pt-chart-tick", "n_intervals", 0), ("pt-settings-version", "data", 0)], who)
    panels = _post(app, [("pt-alerts", "rowData"), ("pt-devices", "rowData"),
                         ("pt-settings", "rowData"), ("pt-settings-now", "children")],
                   [("pt-id", "data", pid), ("pt-tick", "n_intervals", 1),
                    ("pt-alert-version", "data", 0), ("pt-settings-version", "data", 0)], who)
    return head, panels


def test_a_clinician_of_ward_a_sees_nothing_of_ward_b(app, two):
    a, b, pa, pb, nurse, alert_b = two
    who = {USER_HEADER: nurse, ROLE_HEADER: "clinician"}
    with app.server.test_request_context(headers=who):
        offered = [o["value"] for o in layout.ward_select("x", None).options]
    assert a in offered and b not in offered
    mine, theirs = _ward_page(app, a, who), _ward_page(app, b, who)
    assert {r["patient_id"] for r in mine["ward-grid"]["rowData"]} == set(pa)
    assert theirs["ward-grid"]["rowData"] == [] and theirs["ward-alerts"]["rowData"] == []
    assert "Not one of your wards" in theirs["ward-status"]["children"]
    head, panels = _patient_page(app, pb[0], who)
    text = json.dumps(head["pt-head"]["children"])
    assert "No patient" in text and "B " + b not in text
    assert all(v == [] for v in (panels["pt-alerts"]["rowData"], panels["pt-devices"]["rowData"],
                                 panels["pt-settings"]["rowData"]))
    head, _ = _patient_page(app, pa[0], who)
    assert "No patient" not in json.dumps(head["pt-head"]["children"])
    with app.server.test_request_context(headers=who):
        trail = patient_page.audit_trail(alert_b, None)
    assert "No events recorded" in str(trail)
    with app.server.test_request_context(headers={USER_HEADER: "x", ROLE_HEADER: "admin"}):
        assert "No events recorded" not in str(patient_page.audit_trail(alert_b, None))


def test_a_clinician_cannot_act_on_ward_bs_alert_and_an_admin_sees_both(app, two,
                                                                         services_up):
    _, b, _, pb, nurse, alert_b = two
    database = deps.Database(services_up)
    try:
        done = actions.acknowledge(database, alert_b, user=nurse, note="", now=datetime.now(UTC),
                                   changed_management=None)
        assert (done.ok, done.message) == (False, f"no alert {alert_b}")
        done = actions.set_spo2_scale(database, pb[0], 2, user=nurse, reason="COPD",
                                      now=datetime.now(UTC))
        assert (done.ok, done.message) == (False, f"no patient {pb[0]}")
    finally:
        database.close()
    boss = {USER_HEADER: unique("admin"), ROLE_HEADER: "admin"}
    assert {r["patient_id"] for r in _ward_page(app, b, boss)["ward-grid"]["rowData"]} == set(pb)
    head, _ = _patient_page(app, pb[0], boss)
    assert "No patient" not in json.dumps(head["pt-head"]["children"])
