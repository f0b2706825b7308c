"""The ward figures about capacity and flow (issue 14, item 5): the pure
figures, the page's callback through Dash's endpoint on the real database, and
the page in headless Chromium with a CSV downloaded through the signed-in
session."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import on_ward, unique, wait_for
from test_dash_callbacks import _call
from web_process import web_started

from api import accounts, admission
from dashboard import flow_figures, flow_panel, flow_queries
from dashboard.app import close_dash, create_dash
from ward import db, devices, flow, flow_store

LONDON = ZoneInfo("Europe/London")
LATER = datetime(2027, 6, 1, tzinfo=UTC)  # the months below are over by then
PASSWORD = "correct-horse-battery"


def _month() -> flow.Month:
    def t(text):
        return datetime.fromisoformat(text).replace(tzinfo=LONDON)

    stays = [flow.Stay("a", t("2026-11-01T09:00"), t("2026-11-03T09:00"), "step-up", "home",
                       None),
             flow.Stay("b", t("2026-11-02T09:00"), None, "step-down", None, None),
             flow.Stay("c", t("2026-11-02T10:00"), t("2026-11-02T12:00"), None, "hospital",
                       None)]
    changes = [flow.CapacityChange(date(2026, 11, 1), 2, "admin", t("2026-10-30T09:00"), ""),
               flow.CapacityChange(date(2026, 11, 15), 1, "admin", t("2026-11-14T09:00"), "")]
    return flow.month("w", "2026-11", LONDON, stays, changes, now=LATER)


def test_the_figures_draw_a_month():
    m = _month()
    occ = flow_figures.occupancy_figure(m)
    bars, line = occ.data
    assert bars.type == "bar" and line.type == "scatter" and line.line.shape == "hv"
    assert list(line.y[13:16]) == [2, 1, 1]  # the capacity step on the 15th
    assert bars.y[2] == pytest.approx(1 + 9 / 24, abs=0.005)  # a: 9 h, b: all day (2 d.p.)
    moves = flow_figures.movements_figure(m)
    assert list(moves.data[0].y[:3]) == [1, 2, 0] and list(moves.data[1].y[:3]) == [0, -1, -1]
    los = flow_figures.los_figure(m)
    assert list(los.data[0].y[:3]) == [1, 0, 1] and "median 1 days" in los.layout.title.text
    pie = flow_figures.sources_figure(m)
    assert list(pie.data[0].values) == [1, 1, 1]
    assert "Step-up (from home)" in pie.data[0].labels
    out = flow_figures.outcomes_figure(m, LONDON)
    assert list(out.data[0].x) == [1, 1, 0, 0, 0]


def test_an_empty_month_says_so():
    m = flow.month("w", "2026-11", LONDON, [], [], now=LATER)
    for fig in (flow_figures.los_figure(m), flow_figures.sources_figure(m),
                flow_figures.outcomes_figure(m, LONDON)):
        assert fig.layout.annotations and not fig.data
    occ = flow_figures.occupancy_figure(m)
    assert "no capacity set" in occ.layout.annotations[0].text
    assert flow_queries.recent_months(date(2026, 1, 15), 3) == ["2026-01", "2025-12",
                                                                 "2025-11"]


@pytest.fixture(scope="module")
def flow_ward(services_up):
    """A ward with a capacity, two patients admitted up to 2 days ago (one discharged
    home today), in this month of London's calendar: (ward_id, month, days stayed)."""
    ward_id, now = unique("wflow"), datetime.now(UTC)
    today = flow.local_day(now, LONDON)
    month, stayed = f"{today:%Y-%m}", min(2, today.day - 1)
    with db.connect(services_up, autocommit=True) as conn:
        devices.ensure_ward(conn, ward_id)
        on_ward(conn, ward_id, "ana.clinician")  # whom test_dash_callbacks._call acts as
        flow_store.set_capacity(conn, ward_id, 4, valid_from=date(2020, 1, 1), by="admin",
                                reason="", now=now)
        for i, source in enumerate(("step-up", "step-down")):
            admission.admit(conn, f"{ward_id}-p{i}", ward_id, None,
                            now=now - timedelta(days=stayed), source=source)
        admission.discharge(conn, f"{ward_id}-p0", by="admin", note="", now=now,
                            outcome="home")
    return ward_id, month, stayed


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


@pytest.mark.db
def test_the_page_shows_the_month(app, flow_ward):
    ward_id, month, stayed = flow_ward
    outputs = [*((f"flow-{n}", "figure") for n in flow_panel.FIGURES),
               ("flow-summary", "children"), ("flow-downloads", "children")]
    out = _call(app, outputs, [("outcomes-ward", "value", ward_id),
                               ("flow-month", "value", month)])
    occ = out["flow-occupancy"]["figure"]["data"]
    assert occ[1]["y"][0] == 4  # the capacity all month
    pie = out["flow-sources"]["figure"]["data"][0]
    assert pie["type"] == "pie" and pie["values"][:2] == [1, 1]
    chips = json.dumps(out["flow-summary"]["children"])
    assert "capacity 4 beds" in chips and f"median stay {stayed} days" in chips
    links = json.dumps(out["flow-downloads"]["children"])
    assert f"/api/v1/wards/{ward_id}/flow.csv?month={month}&table=occupancy" in links
    bad = _call(app, outputs, [("outcomes-ward", "value", ward_id),
                               ("flow-month", "value", "2026-13")])
    assert "not a month" in json.dumps(bad["flow-los"]["figure"])


@pytest.mark.db
@pytest.mark.browser
def test_in_the_browser_the_charts_draw_and_a_csv_downloads(browser, services_up, spawn,
                                                            flow_ward, tmp_path):
    ward_id, month, _ = flow_ward
    user = unique("manager")
    with db.connect(services_up, autocommit=True) as conn:
        accounts.create_user(conn, user, "clinician", PASSWORD)
        on_ward(conn, ward_id, user)
    url = web_started(spawn)
    driver = browser(1600, 1000)
    driver.get(f"{url}/outcomes?ward={ward_id}")
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="the sign-in page")
    driver.find_element("id", "name").send_keys(user)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("css selector", "form button[type=submit]").click()
    wait_for(lambda: driver.find_elements("css selector", "#flow-occupancy .main-svg"),
             timeout=20, what="the occupancy chart")
    wait_for(lambda: driver.find_elements("id", "flow-csv-occupancy"), timeout=20,
             what="the CSV links")
    wait_for(lambda: "capacity 4 beds" in driver.find_element("id", "flow-summary").text,
             timeout=20, what="the chips")
    driver.execute_script(
        "window.scrollTo(0, document.getElementById('flow-occupancy').offsetTop - 120)")
    driver.save_screenshot(str(tmp_path / "flow.png"))
    href = driver.find_element("id", "flow-csv-occupancy").get_attribute("href")
    text = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text()).then(done, e => done(String(e)));", href)
    lines = text.strip().splitlines()
    assert lines[0].startswith("date,capacity_beds,patients")
    # This month runs to today, nothing ahead of it.
    assert len(lines) == 1 + flow.local_day(datetime.now(UTC), LONDON).day
    assert lines[1].startswith(f"{month}-01,4,")
