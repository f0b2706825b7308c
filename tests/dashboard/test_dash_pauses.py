"""Pauses on the dashboard (issue 13, item 5): an alert whose notifying is paused
still shows, labelled "paused until HH:MM"; an emergency never is; the ward row
names the kinds paused and until when; the patient page lists each pause with its
end, who set it and why.  Pure rows first, then the pages' callbacks through
Dash's HTTP endpoint on the real database."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import on_ward, unique
from test_dash_callbacks import _call, _refresh
from test_dash_rows import NOW, patient

from dashboard import pause_rows, queries, rows, sample
from dashboard.app import close_dash, create_dash
from dashboard.queries import AlertItem
from ward import db, pause_records
from ward.pauses import PAUSABLE_KINDS, Pause

LONDON = "Europe/London"  # GMT in November: local time is UTC


def _pause(kind: str = "news2", hours: float = 8, *, start: datetime = NOW,
           patient_id: str = "p", ended_at: datetime | None = None) -> Pause:
    return Pause(pause_id=1, patient_id=patient_id, kind=kind, starts_at=start,
                 ends_at=start + timedelta(hours=hours), reason="known low SpO2 overnight",
                 created_by="Dr Bo", created_at=start, ended_at=ended_at, ended_by=None,
                 end_reason=None)


def _alert(severity: str = "urgent", state: str = "open", kind: str = "news2") -> AlertItem:
    given = dict(alert_id=7, patient_id="p", patient_name="Pat", ward_id="w", time_zone=LONDON,
                 kind=kind, category="clinical", device_id="", severity=severity, state=state,
                 reason="NEWS2 5 (medium)", condition_time=NOW,
                 opened_at=NOW - timedelta(minutes=30), updated_at=NOW,
                 last_notified_severity=severity,
                 resolved_at=NOW if state == "resolved" else None, band="medium", red=[])
    return AlertItem(**{f.name: given.get(f.name) for f in fields(AlertItem)})  # None: unset


def test_until_says_tomorrow_when_it_is() -> None:
    assert pause_rows.until_text(NOW + timedelta(hours=6), LONDON, NOW) == "18:00"
    assert pause_rows.until_text(NOW + timedelta(hours=18), LONDON, NOW) == "06:00 tomorrow"


def test_a_paused_alert_still_shows_labelled_with_the_pause_end() -> None:
    pause = _pause(hours=6)
    [row] = rows.alert_rows([_alert()], NOW, [pause])
    assert row["alert"] == "URGENT\nNEW 30 min ago\npaused until 18:00"
    assert row["paused"] == "paused until 18:00" and row["reason"] == "NEWS2 5 (medium)"
    [unpaused] = rows.alert_rows([_alert()], NOW)
    assert unpaused["alert"] == "URGENT\nNEW 30 min ago" and unpaused["paused"] == ""


def test_an_emergency_is_never_labelled_paused() -> None:
    [row] = rows.alert_rows([_alert("emergency")], NOW, [_pause()])
    assert row["paused"] == "" and "paused" not in row["alert"]


def test_other_kinds_ended_pauses_and_resolved_alerts_are_not_paused() -> None:
    ended = _pause(start=NOW - timedelta(hours=2), ended_at=NOW - timedelta(minutes=1))
    for alert, pauses in [(_alert(kind="spo2_falling"), [_pause()]),
                          (_alert(), [ended]), (_alert(state="resolved"), [_pause()])]:
        assert rows.alert_rows([alert], NOW, pauses)[0]["paused"] == ""


def test_the_ward_row_names_what_is_paused_and_until_when() -> None:
    p = patient("p", 5, "medium")
    pauses = [_pause("battery_low", 2), _pause("news2", 18),
              _pause(patient_id="someone-else")]
    [row] = rows.ward_rows([p], NOW, pauses)
    assert row["flags"].endswith("Paused: Battery low until 14:00, NEWS2 until 06:00 tomorrow")
    assert "Paused" not in rows.ward_rows([p], NOW)[0]["flags"]
    [quiet] = rows.ward_rows([replace(p, complete=True)], NOW, [_pause("news2", 1)])
    assert quiet["flags"] == "Paused: NEWS2 until 13:00"


def test_the_patient_page_lists_each_pause_with_its_end() -> None:
    lines = pause_rows.pause_lines([_pause("news2", 8), _pause("battery_low", 2)], LONDON,
                                   NOW)
    assert lines == [
        "Battery low not notified until Mon 23 Nov 14:00 GMT (in 2 h; an emergency always"
        " is), paused by Dr Bo: known low SpO2 overnight",
        "NEWS2 not notified until Mon 23 Nov 20:00 GMT (in 8 h; an emergency always is),"
        " paused by Dr Bo: known low SpO2 overnight"]


# ---------------------------------------------------------------- the pages, on the database


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


def test_the_pages_show_pauses_on_the_database(app, services_up) -> None:
    now = datetime.now(UTC)
    ward_id, prefix = unique("wp"), unique("p")
    with db.connect(services_up, autocommit=True) as conn:
        sample.build_ward(conn, now=now, ward_id=ward_id, prefix=prefix)
        on_ward(conn, ward_id, "ana.clinician")  # whom test_dash_callbacks._call acts as
        live = [a for a in queries.open_alerts(conn, ward_id) if a.kind in PAUSABLE_KINDS]
        quiet = next(a for a in live if a.severity != "emergency")
        loud = next(a for a in live if a.severity == "emergency")
        pause = pause_records.set_pause(conn, quiet.patient_id, quiet.kind,
                                        timedelta(hours=8), by="Dr Bo", reason="reviewed",
                                        now=now - timedelta(seconds=5))
        pause_records.set_pause(conn, loud.patient_id, loud.kind, timedelta(hours=8),
                                by="Dr Bo", reason="reviewed", now=now - timedelta(seconds=5))
    label = f"paused until {pause_rows.until_text(pause.until, quiet.time_zone, now)}"
    out = _refresh(app, ward_id, tick=1)
    shown = {a["alert_id"]: a for a in out["ward-alerts"]["rowData"]}
    assert shown[quiet.alert_id]["paused"] == label  # still listed, labelled
    assert shown[quiet.alert_id]["alert"].endswith(label)
    assert shown[loud.alert_id]["paused"] == ""  # an emergency: notified all the same
    grid = {r["patient_id"]: r for r in out["ward-grid"]["rowData"]}
    assert "Paused: " in grid[quiet.patient_id]["flags"]
    panels = _call(app, [("pt-alerts", "rowData"), ("pt-devices", "rowData"),
                         ("pt-settings", "rowData"), ("pt-settings-now", "children")],
                   [("pt-id", "data", quiet.patient_id), ("pt-tick", "n_intervals", 1),
                    ("pt-alert-version", "data", 0), ("pt-settings-version", "data", 0)])
    mine = {a["alert_id"]: a for a in panels["pt-alerts"]["rowData"]}
    assert mine[quiet.alert_id]["paused"] == label
    items = [li["props"]["children"] for li in panels["pt-settings-now"]["children"]]
    assert any("not notified until" in text and "paused by Dr Bo: reviewed" in text
               for text in items), items


def test_a_clinician_pauses_and_unpauses_from_the_patient_page(app, services_up,
                                                              register) -> None:
    """The Quiet hours panel, through Dash's endpoint as the browser posts it: refused
    without a reason (nothing stored), set as the signed-in user, ended by kind."""
    device = register()
    patient_id = device.patient_id
    with db.connect(services_up, autocommit=True) as conn:
        on_ward(conn, device.ward_id, "ana.clinician")
    # The version is also the settings form's output: Dash keys this one "data@<hash>".
    [key] = [k for k in app.callback_map if "pt-pause-feedback.children" in k]
    version = key.strip(".").split("...")[1].split(".", 1)[1]

    def post(button: str, kind, reason, *, user="ana.clinician"):
        return _call(app, [("pt-pause-feedback", "children"), ("pt-settings-version", version)],
                     [("pt-pause-set", "n_clicks", int(button == "set")),
                      ("pt-pause-end", "n_clicks", int(button == "end"))],
                     [("pt-id", "data", patient_id), ("pt-pause-kind", "value", kind),
                      ("pt-pause-length", "value", "8 h"), ("pt-pause-reason", "value", reason),
                      ("pt-settings-version", "data", 3)], user=user,
                     changed=f"pt-pause-{button}.n_clicks")

    refused = post("set", "news2", "  ")
    assert "clinical reason" in str(refused["pt-pause-feedback"]["children"])
    unsigned = post("set", "news2", "reviewed", user=None)
    assert "Not signed in" in str(unsigned["pt-pause-feedback"]["children"])
    done = post("set", "news2", "known low SpO2 overnight, reviewed")
    assert "news2 not notified for 8 h" in str(done["pt-pause-feedback"]["children"])
    assert done["pt-settings-version"]["data"] == 4
    with db.connect(services_up) as conn:
        [pause] = pause_records.in_force(conn, [patient_id], datetime.now(UTC))
        assert (pause.kind, pause.created_by, pause.ends_at - pause.starts_at) == (
            "news2", "ana.clinician", timedelta(hours=8))
        ended = post("end", "news2", "")
        assert "notified again" in str(ended["pt-pause-feedback"]["children"])
        assert pause_records.in_force(conn, [patient_id], datetime.now(UTC)) == []
