"""The dashboard's callbacks, called through Dash's own HTTP endpoint (the
wiring) and as functions, against the real database; the user comes from the
trusted header, and an action without one is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import on_ward, unique

from dashboard import sample
from dashboard.app import close_dash, create_dash
from dashboard.deps import USER_HEADER
from ward import db

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


@pytest.fixture(scope="module")
def ward(services_up):
    now = datetime.now(UTC)
    ward_id, prefix = unique("wc"), unique("c")
    with db.connect(services_up, autocommit=True) as conn:
        ids = sample.build_ward(conn, now=now, ward_id=ward_id, prefix=prefix)
        on_ward(conn, ward_id, "ana.clinician", "bo")  # the clinicians the tests act as
    return ward_id, ids


def _call(app, outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]],
          state: list[tuple[str, str, object]] = (), *, user: str | None = "ana.clinician",
          changed: str | None = None):
    """POST one callback the way the browser does; returns {id: {prop: value}}.
    ``changed``: the "id.prop" that fired it (default: the first input)."""
    body = {
        "output": "..." .join(f"{i}.{p}" for i, p in outputs).join(("..", "..")) if len(outputs) > 1
        else f"{outputs[0][0]}.{outputs[0][1]}",
        "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1
        else {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed or f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    headers = {USER_HEADER: user} if user else {}
    response = app.server.test_client().post("/_dash-update-component", json=body,
                                             headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return json.loads(response.get_data(as_text=True))["response"]


def test_the_page_names_the_signed_in_user(app):
    client = app.server.test_client()
    assert client.get("/", headers={USER_HEADER: "ana.clinician"}).status_code == 200
    layout = client.get("/_dash-layout", headers={USER_HEADER: "ana.clinician"})
    text = json.dumps(json.loads(layout.get_data(as_text=True)))
    assert "ana.clinician" in text and '"action": "/logout"' in text
    assert "Not signed in" in client.get("/_dash-layout").get_data(as_text=True)


def _refresh(app, ward_id: str, *, tick: int) -> dict:
    """The ward page's refresh callback, as its timer fires it the ``tick``-th time."""
    return _call(app, [("ward-grid", "rowData"), ("ward-alerts", "rowData"),
                       ("ward-summary", "children"), ("ward-status", "children"),
                       ("ward-status", "className"), ("ward-choice", "data")],
                 [("ward-tick", "n_intervals", tick), ("ward-select", "value", ward_id),
                  ("ward-alert-version", "data", 0)])


def test_the_ward_refresh_sends_rows_sickest_first(app, ward):
    ward_id, ids = ward
    out = _refresh(app, ward_id, tick=1)
    grid = out["ward-grid"]["rowData"]
    assert [r["patient_id"] for r in grid[:3]] == ids[:3]
    assert out["ward-alerts"]["rowData"][0]["severity"] == "emergency"
    assert out["ward-status"]["children"].startswith("Updated")
    assert out["ward-choice"]["data"] == ward_id


def _act(app, button: str, alert_row, note, *, changed: str, version: int, user):
    """The ward page's alert form as a click on ``button`` ('ack' or 'resolve') posts it."""
    other = {"ack": "resolve", "resolve": "ack"}[button]
    return _call(app, [("ward-alert-feedback", "children"), ("ward-alert-version", "data"),
                       ("ward-alert-note", "value")],
                 [(f"ward-alert-{button}", "n_clicks", 1), (f"ward-alert-{other}", "n_clicks", 0)],
                 [("ward-alerts", "selectedRows", [alert_row]), ("ward-alert-note", "value", note),
                  ("ward-alert-changed", "value", changed),
                  ("ward-alert-version", "data", version)],
                 user=user)


def _ack(app, alert_row, note, *, user):
    return _act(app, "ack", alert_row, note, changed="yes", version=3, user=user)


def test_acknowledge_from_the_ward_records_who_and_why(app, ward, conn):
    _ward_id, ids = ward
    alert_id = conn.execute("SELECT alert_id FROM alerts WHERE patient_id = %s AND state = 'open'"
                            " AND severity = 'emergency'", (ids[1],)).fetchone()[0]
    row = {"alert_id": alert_id, "state": "open", "severity": "emergency", "name": "x",
           "kind": "NEWS2", "reason": "r"}
    refused = _ack(app, row, "called", user=None)
    assert "Not signed in" in json.dumps(refused)
    assert conn.execute("SELECT state FROM alerts WHERE alert_id = %s",
                        (alert_id,)).fetchone()[0] == "open"
    out = _ack(app, row, "Called the patient, 999", user="ana.clinician")
    assert "acknowledged by ana.clinician" in json.dumps(out)
    assert out["ward-alert-version"]["data"] == 4 and out["ward-alert-note"]["value"] == ""
    state, by, note, changed = conn.execute(
        "SELECT state, acknowledged_by, ack_note, changed_management FROM alerts"
        " WHERE alert_id = %s", (alert_id,)).fetchone()
    assert (state, by, note, changed) == ("acknowledged", "ana.clinician",
                                          "Called the patient, 999", True)
    events = conn.execute("SELECT event, actor FROM alert_events WHERE alert_id = %s"
                          " ORDER BY event_id", (alert_id,)).fetchall()
    assert events[-1] == ("acknowledged", "ana.clinician")
    again = _ack(app, row, "twice", user="bo")
    assert "already acknowledged by ana.clinician" in json.dumps(again)


def test_the_patient_page_draws_charts_panels_and_the_audit_trail(app, ward, conn):
    _, ids = ward
    pid = ids[0]
    out = _call(app, [("pt-head", "children"), ("pt-vitals", "figure"), ("pt-scores", "figure"),
                      ("pt-resolution", "children")],
                [("pt-id", "data", pid), ("pt-range", "value", "Whole stay"),
                 ("pt-chart-tick", "n_intervals", 0), ("pt-settings-version", "data", 0)])
    vitals = out["pt-vitals"]["figure"]
    assert len(vitals["data"]) >= 7 and len(vitals["layout"]["shapes"]) > 20
    assert "NEWS2 13 · High" in json.dumps(out["pt-head"]["children"], ensure_ascii=False)
    assert "Europe/London" in json.dumps(out["pt-head"]["children"], ensure_ascii=False)
    panels = _call(app, [("pt-alerts", "rowData"), ("pt-devices", "rowData"),
                         ("pt-settings", "rowData"), ("pt-settings-now", "children")],
                   [("pt-id", "data", pid), ("pt-tick", "n_intervals", 0),
                    ("pt-alert-version", "data", 0), ("pt-settings-version", "data", 0)])
    alerts = panels["pt-alerts"]["rowData"]
    assert alerts[0]["state"] == "open" and alerts[0]["severity"] == "emergency"
    assert panels["pt-devices"]["rowData"][0]["state"] == "online"
    audit = _call(app, [("pt-alert-selected", "children"), ("pt-alert-ack", "disabled"),
                        ("pt-alert-resolve", "disabled"), ("pt-audit", "children")],
                  [("pt-alerts", "selectedRows", [alerts[0]]), ("pt-alert-version", "data", 0)])
    assert audit["pt-alert-ack"]["disabled"] is False
    assert "opened" in json.dumps(audit["pt-audit"]["children"])


def _settings(app, pid, trigger, *, scale=2, reason="", parameter=None, low=None, high=None,
              user="ana.clinician"):
    ids = ["pt-scale-set", "pt-range-set", "pt-setting-end"]
    return _call(app, [("pt-settings-feedback", "children"), ("pt-settings-version", "data")],
                 [(i, "n_clicks", 1 if i == trigger else 0) for i in sorted(
                     ids, key=lambda i: i != trigger)],
                 [("pt-id", "data", pid), ("pt-scale", "value", scale),
                  ("pt-scale-reason", "value", reason), ("pt-range-param", "value", parameter),
                  ("pt-range-low", "value", low), ("pt-range-high", "value", high),
                  ("pt-range-reason", "value", reason), ("pt-settings", "selectedRows", None),
                  ("pt-settings-version", "data", 0)], user=user)


def test_settings_change_with_a_reason_and_a_name(app, ward, conn):
    _, ids = ward
    pid = ids[11]
    assert "clinical reason" in json.dumps(_settings(app, pid, "pt-scale-set", reason=" "))
    assert "Not signed in" in json.dumps(_settings(app, pid, "pt-scale-set", reason="COPD",
                                                   user=None))
    ok = _settings(app, pid, "pt-scale-set", reason="Confirmed type 2 respiratory failure")
    assert "SpO2 scale 2 set by ana.clinician" in json.dumps(ok)
    ok = _settings(app, pid, "pt-range-set", parameter="heart_rate", low=90, high=105,
                   reason="Resting tachycardia, known AF")
    assert "Accepted range for heart_rate 90–105" in json.dumps(ok, ensure_ascii=False)
    rows = conn.execute("SELECT kind, set_by, reason FROM patient_settings WHERE patient_id = %s"
                        " ORDER BY setting_id", (pid,)).fetchall()
    assert rows == [("spo2_scale", "ana.clinician", "Confirmed type 2 respiratory failure"),
                    ("accepted_range", "ana.clinician", "Resting tachycardia, known AF")]
    bad = _settings(app, pid, "pt-range-set", parameter="heart_rate", low=110, high=100,
                    reason="typo")
    assert "is empty" in json.dumps(bad)


def test_the_banner_flashes_for_unacknowledged_high_alerts(app, ward):
    ward_id, ids = ward
    out = _call(app, [("emergency-banner", "children"), ("emergency-banner", "className")],
                [("shell-tick", "n_intervals", 1)], [("ward-choice", "data", ward_id)])
    assert "vw-flash" in out["emergency-banner"]["className"]
    text = json.dumps(out["emergency-banner"]["children"])
    assert ids[0] in text and "EMERGENCY" in text
    quiet = _call(app, [("emergency-banner", "children"), ("emergency-banner", "className")],
                  [("shell-tick", "n_intervals", 1)], [("ward-choice", "data", unique("none"))])
    assert "vw-hidden" in quiet["emergency-banner"]["className"]


def test_the_wards_figures_page(app, ward):
    ward_id, _ = ward
    out = _call(app, [("outcomes-rate", "figure"), ("outcomes-to-alert", "figure"),
                      ("outcomes-to-ack", "figure"), ("outcomes-management", "figure"),
                      ("outcomes-summary", "children")],
                [("outcomes-ward", "value", ward_id), ("outcomes-period", "value", "30 days")])
    assert out["outcomes-rate"]["figure"]["data"][0]["type"] == "bar"
    assert "patient-days" in json.dumps(out["outcomes-summary"]["children"])


def test_two_apps_in_one_process_each_keep_their_callbacks(services_up, app):
    second = create_dash(services_up)
    try:
        deps = [json.loads(a.server.test_client().get(
            "/_dash-dependencies", headers={USER_HEADER: "ana"}).get_data(as_text=True))
            for a in (app, second)]
        assert sorted(d["output"] for d in deps[0]) == sorted(d["output"] for d in deps[1])
        assert len(deps[1]) >= 12
    finally:
        close_dash(second)


def test_a_failing_callback_keeps_the_page_and_says_so(app, ward, monkeypatch):
    """Not a traceback nor a silent 500: the outputs stay, a message shows."""
    from dashboard import deps

    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(deps.Database, "connection", broken)
    # Four figures and a summary: post all five outputs as the page does.
    out = _call_raw(app, [("outcomes-rate", "figure"), ("outcomes-to-alert", "figure"),
                          ("outcomes-to-ack", "figure"), ("outcomes-management", "figure"),
                          ("outcomes-summary", "children")],
                    [("outcomes-ward", "value", ward[0]), ("outcomes-period", "value", "7 days")])
    side = out.get("sideUpdate", {}).get("page-error", {})
    assert side.get("className") == "vw-error"
    assert "could not be updated" in side.get("children", "")
    assert "Traceback" not in json.dumps(out)


def _call_raw(app, outputs, inputs):
    body = {"output": "..." .join(f"{i}.{p}" for i, p in outputs).join(("..", "..")),
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]}
    response = app.server.test_client().post("/_dash-update-component", json=body,
                                             headers={USER_HEADER: "ana.clinician"})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return json.loads(response.get_data(as_text=True))


def test_the_audit_trail_shows_times_in_the_alerts_ward_zone(app, ward):
    from dashboard import queries
    from dashboard.deps import Database
    from dashboard.rows import alert_rows

    with Database.connection(app.server.extensions["vward_dashboard"]) as conn:
        alerts = queries.open_alerts(conn, ward[0])
    row = alert_rows(alerts, datetime.now(UTC))[0]
    assert row["time_zone"] == "Europe/London"
    audit = _call(app, [("pt-alert-selected", "children"), ("pt-alert-ack", "disabled"),
                        ("pt-alert-resolve", "disabled"), ("pt-audit", "children")],
                  [("pt-alerts", "selectedRows", [row]), ("pt-alert-version", "data", 0)])
    assert "opened" in json.dumps(audit["pt-audit"]["children"])


def _resolve(app, alert_row, note, *, user="ana.clinician"):
    return _act(app, "resolve", alert_row, note, changed="unknown", version=1, user=user)


def test_resolving_an_urgent_alert_by_hand_asks_for_the_reason(app, ward, conn):
    """The form says a reason is needed; without one ward.clinical refuses and the
    page says so plainly (role=alert), the note is kept; with one it is recorded."""
    from dashboard import layout

    _, ids = ward
    alert_id = conn.execute("SELECT alert_id FROM alerts WHERE patient_id = %s AND state = 'open'"
                            " AND severity = 'urgent'", (ids[3],)).fetchone()[0]
    row = {"alert_id": alert_id, "state": "open", "severity": "urgent", "name": "Taylor",
           "kind": "NEWS2", "reason": "NEWS2 5 (medium)"}
    hint, _, resolve_disabled = layout.selected_alert([row])
    assert "write the reason in the note" in hint and resolve_disabled is False
    refused = _resolve(app, row, "   ")
    text = json.dumps(refused)
    assert "Not done" in text and "give the reason for resolving it by hand" in text
    assert '"role": "alert"' in text and "vw-refused" in text
    assert "ward-alert-note" not in refused  # the note stays for the clinician to complete
    assert conn.execute("SELECT state FROM alerts WHERE alert_id = %s",
                        (alert_id,)).fetchone()[0] == "open"
    done = _resolve(app, row, "Seen at home: the cuff was on the wrong arm")
    assert f"Alert {alert_id} resolved by ana.clinician" in json.dumps(done)
    assert conn.execute("SELECT state, resolve_note FROM alerts WHERE alert_id = %s",
                        (alert_id,)).fetchone() == (
        "resolved", "Seen at home: the cuff was on the wrong arm")
    low = {**row, "severity": "low"}
    assert "write the reason" not in layout.selected_alert([low])[0]


def test_the_ward_refresh_sends_each_values_age_and_stale_flag(app, ward):
    ward_id, ids = ward
    out = _refresh(app, ward_id, tick=2)
    drew = next(r for r in out["ward-grid"]["rowData"] if r["patient_id"] == ids[8])
    assert drew["sbp"] == "118 · 11 h" and drew["sbp_stale"] is True
    assert drew["spo2"].endswith("min") and drew["spo2_stale"] is False
    assert "STALE" in drew["sbp_tip"]


def test_the_patient_page_shows_the_true_news2_with_the_adjusted_beside_it(app, ward):
    _, ids = ward
    pid = ids[9]  # Emery Jones: an accepted pulse range
    out = _call(app, [("pt-head", "children"), ("pt-vitals", "figure"), ("pt-scores", "figure"),
                      ("pt-resolution", "children")],
                [("pt-id", "data", pid), ("pt-range", "value", "24 h"),
                 ("pt-chart-tick", "n_intervals", 0), ("pt-settings-version", "data", 0)])
    head = json.dumps(out["pt-head"]["children"], ensure_ascii=False)
    assert "NEWS2 5 · Medium" in head
    assert "Adjusted 3 · Low (accepted range: HR; not NEWS2)" in head
    assert "last complete set" in head and "HR 115 · 1 h" in head
    panels = _call(app, [("pt-alerts", "rowData"), ("pt-devices", "rowData"),
                         ("pt-settings", "rowData"), ("pt-settings-now", "children")],
                   [("pt-id", "data", pid), ("pt-tick", "n_intervals", 0),
                    ("pt-alert-version", "data", 0), ("pt-settings-version", "data", 0)])
    now_list = json.dumps(panels["pt-settings-now"]["children"], ensure_ascii=False)
    assert "Pulse accepted 111–120" in now_list and "review by" in now_list
    assert "(in 10 d)" in now_list  # 14 days from admission, three days ago
    assert "review by" in panels["pt-settings"]["rowData"][0]["period"]


def test_the_patient_page_greys_the_values_that_are_stale(app, ward):
    _, ids = ward
    out = _call(app, [("pt-head", "children"), ("pt-vitals", "figure"), ("pt-scores", "figure"),
                      ("pt-resolution", "children")],
                [("pt-id", "data", ids[8]), ("pt-range", "value", "24 h"),
                 ("pt-chart-tick", "n_intervals", 0), ("pt-settings-version", "data", 0)])
    values = next(c for c in out["pt-head"]["children"]
                  if isinstance(c, dict) and c["props"].get("id") == "pt-values")
    spans = {s["props"]["children"].split(" ")[0]: s["props"]["className"]
             for s in values["props"]["children"]}
    assert "is-stale" in spans["SBP"] and "is-stale" in spans["Temp"]
    assert "is-stale" not in spans["SpO2"]
