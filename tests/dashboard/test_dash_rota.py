"""The rota page (issue 13, part A): the week × hour picture per tier with the
gaps in red and marked, the warnings above it, who is on call now; the
figure pure, the page's callback through Dash's own endpoint on the real
database, and the page in headless Chromium behind the real sign-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import on_ward, unique, wait_for
from web_process import web_started

from dashboard import rota_figure
from dashboard.app import close_dash, create_dash
from dashboard.deps import USER_HEADER
from ward import db, devices, rota, rota_store
from ward.rota import Shift

W = "ward-fig"
PASSWORD = "correct-horse-battery"


def test_the_picture_shows_each_tiers_gaps_in_red_and_marked():
    shifts = [Shift(W, 1, "nina", frozenset(range(5)), 8, 20), Shift(W, 2, "sam", rota.ALL_DAYS,
                                                                        0, 24)]
    weeks = {t: rota.week(shifts, W, t) for t in rota.TIERS}
    fig = rota_figure.rota_figure(weeks, now=(0, 9), zone="Europe/London")
    assert rota_figure.gap_cells(fig) == {"tier 1": 7 * 24 - 5 * 12, "tier 2": 0,
                                          "tier 3": 7 * 24}
    tier1 = fig.data[0]
    assert tier1.text[0][7] == "!" and tier1.text[0][8] == ""  # Monday 07:00 gap, 08:00 not
    assert tier1.z[0][8] == 1
    assert "NOBODY on call (alerts go to tier 2 or above)" in tier1.hovertext[5][10]
    assert tier1.hovertext[0][8] == "Mon 08:00-09:00 · tier 1: nina"
    assert fig.data[2].hovertext[0][0].endswith("(nobody above tier 3)")
    # a gap's colour is the red, whatever the count's steps
    assert tier1.colorscale[0][1] == rota_figure.GAP_COLOUR
    assert len(fig.layout.shapes) == 3  # the current hour outlined in each tier
    assert "Europe/London wall-clock" in fig.layout.xaxis3.title.text


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


def _rota_ward(settings, *, full: bool) -> tuple[str, list[str]]:
    """A ward with a rota: tier 1 weekdays 08-20 only; tiers 2 and 3 all week if full."""
    from api import accounts

    ward_id = unique("wr")
    names = [unique("nurse"), unique("senior"), unique("consultant")]
    with db.connect(settings, autocommit=True) as conn:
        devices.ensure_ward(conn, ward_id)
        for n in names:
            accounts.create_user(conn, n, "clinician", PASSWORD,
                                 accounts.ContactChange(email=f"{n}@example.org"))
        rota_store.set_person(conn, ward_id, rota_store.Assignment(1, names[0], "mon-fri",
                                                                   "08-20"), by="test")
        if full:
            for tier, n in ((2, names[1]), (3, names[2])):
                rota_store.set_person(conn, ward_id, rota_store.Assignment(tier, n), by="test")
    return ward_id, names


def test_the_page_callback_sends_the_picture_and_the_warnings(app, services_up):
    ward_id, names = _rota_ward(services_up, full=True)
    with db.connect(services_up, autocommit=True) as conn:
        on_ward(conn, ward_id, "ana.clinician")
    body = {"output": "..rota-figure.figure...rota-warnings.children...rota-warnings.className"
                      "...rota-now.children...rota-shifts.children..",
            "outputs": [{"id": i, "property": p} for i, p in (
                ("rota-figure", "figure"), ("rota-warnings", "children"),
                ("rota-warnings", "className"), ("rota-now", "children"),
                ("rota-shifts", "children"))],
            "inputs": [{"id": "rota-ward", "property": "value", "value": ward_id},
                       {"id": "rota-tick", "property": "n_intervals", "value": None}],
            "changedPropIds": ["rota-ward.value"]}
    r = app.server.test_client().post("/_dash-update-component", json=body,
                                      headers={USER_HEADER: "ana.clinician"})
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    out = json.loads(r.get_data(as_text=True))["response"]
    z = [trace["z"] for trace in out["rota-figure"]["figure"]["data"]]
    assert sum(v == 0 for day in z[0] for v in day) == 7 * 24 - 5 * 12
    assert [sum(v == 0 for day in t for v in day) for t in z[1:]] == [0, 0]
    assert "vw-error" in out["rota-warnings"]["className"]
    text = json.dumps(out["rota-warnings"]["children"])
    assert "tier 1 (hub nurse) has nobody on call mon-fri 00-08, mon-fri 20-24, sat-sun 00-24"\
        in text
    assert "NOBODY is on call in any tier" not in text
    assert names[1] in json.dumps(out["rota-now"]["children"])
    assert names[0] in json.dumps(out["rota-shifts"]["children"])


def test_the_rota_page_in_the_browser(browser, services_up, spawn, tmp_path):
    from api import accounts

    ward_id, names = _rota_ward(services_up, full=False)
    with db.connect(services_up, autocommit=True) as conn:
        now = datetime.now(UTC)
        day, hour = rota.wall_clock(now, rota.load_zone(conn, ward_id))
        accounts.create_user(conn, viewer := unique("viewer"), "clinician", PASSWORD)
        on_ward(conn, ward_id, viewer)
    url = web_started(spawn)
    driver = browser(1400, 1100)
    driver.get(f"{url}/rota?ward={ward_id}")
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="the sign-in page")
    driver.find_element("id", "name").send_keys(viewer)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("css selector", "form button[type=submit]").click()

    def warnings() -> str:
        found = driver.find_elements("id", "rota-warnings")
        return found[0].text if found else ""

    wait_for(lambda: "Gaps in the rota of" in warnings(), timeout=20, what="the gap warnings")
    assert "NOBODY is on call in any tier mon-fri 00-08, mon-fri 20-24, sat-sun 00-24" \
        in warnings()
    banner = driver.find_element("id", "rota-warnings")
    assert banner.get_attribute("role") == "alert"
    assert "rgb(200, 16, 46)" in banner.value_of_css_property("border-color")
    # the picture: three heat-maps, the gap cells marked "!" in the SVG
    wait_for(lambda: len(driver.find_elements("css selector", "#rota-figure .hm")) == 3,
             timeout=20, what="three heat-maps")
    marks = [t.text for t in driver.find_elements("css selector", "#rota-figure .hm text")]
    assert marks.count("!") >= 7 * 24 * 2  # tiers 2 and 3: every hour a gap
    tier1_now = driver.find_element("id", "rota-now-1")
    covered = day < 5 and 8 <= hour < 20
    assert (names[0] in tier1_now.text) == covered
    assert "NOBODY" in driver.find_element("id", "rota-now-2").text
    assert names[0] in driver.find_element("id", "rota-shift-table").text
    assert driver.find_elements("css selector", "a.vw-nav-link[href='/rota']")
    driver.save_screenshot(str(tmp_path / "rota.png"))
