"""The dashboard in headless Chromium against the real app (`vward web`:
the API with the dashboard mounted, behind its sign-in) on the real
database: sign in, see the ward ordered by acuity, keep one's place across
refreshes, open a patient, acknowledge an alert and see it change."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from conftest import on_ward, unique, wait_for
from web_process import web_started

from dashboard import sample
from dashboard.screenshot import wait_for_rows
from ward import db

pytestmark = [pytest.mark.browser, pytest.mark.db]

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def driver(browser):
    return browser(1600, 1000)


@pytest.fixture
def site(services_up, spawn):
    """A sample ward, a clinician and `vward web` serving them: (url, ward_id, ids, user)."""
    from api import accounts

    ward_id, prefix, user = unique("wb"), unique("b"), unique("nurse")
    with db.connect(services_up, autocommit=True) as conn:
        ids = sample.build_ward(conn, now=datetime.now(UTC), ward_id=ward_id, prefix=prefix)
        accounts.create_user(conn, user, "clinician", PASSWORD)
        on_ward(conn, ward_id, user)
    return web_started(spawn), ward_id, ids, user


def _css(driver, selector):
    return driver.find_elements("css selector", selector)


def _text(driver, element_id: str) -> str:
    found = _css(driver, f"#{element_id}")
    return found[0].text if found else ""


def _grid_order(driver, grid: str) -> list[str]:
    rows = _css(driver, f"#{grid} .ag-center-cols-container .ag-row")
    return [r.get_attribute("row-id") for r in
            sorted(rows, key=lambda r: int(r.get_attribute("row-index")))]


def _sign_in(driver, url: str, path: str, user: str) -> None:
    driver.get(url + path)
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="the sign-in page")
    driver.find_element("id", "name").send_keys(user)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("css selector", "form button[type=submit]").click()


def test_sign_in_see_the_ward_open_a_patient_and_acknowledge(driver, site, conn, tmp_path):
    url, ward_id, ids, user = site
    _sign_in(driver, url, f"/?ward={ward_id}", user)
    wait_for_rows(driver, at_least=len(ids))
    assert driver.find_element("id", "signed-in-user").text == user

    # Ordered by acuity: the three high scores first, the highest on top.
    wait_for(lambda: _grid_order(driver, "ward-grid")[:3] == ids[:3], timeout=10,
             what="the ward in order of acuity")
    first = _css(driver, f"#ward-grid .ag-row[row-id='{ids[0]}'] .band-high")
    assert first and first[0].text == "13 High"
    banner = driver.find_element("id", "emergency-banner")
    # The banner follows the chosen ward from its next refresh (within 5 s).
    wait_for(lambda: "vw-flash" in banner.get_attribute("class") and ids[0] in banner.text,
             timeout=10, what="the emergency banner naming the high patient")
    driver.save_screenshot(str(tmp_path / "ward.png"))

    # The refresh keeps the clinician's place: a selected row stays selected.
    row = f"#ward-grid .ag-center-cols-container .ag-row[row-id='{ids[12]}']"
    _css(driver, f"{row} .ag-cell[col-id='measured']")[0].click()
    wait_for(lambda: "ag-row-selected" in _css(driver, row)[0].get_attribute("class"),
             timeout=5, what="the row selected")
    status = _text(driver, "ward-status")
    wait_for(lambda: _text(driver, "ward-status") != status, timeout=10,
             what="a refresh")
    assert "ag-row-selected" in _css(driver, row)[0].get_attribute("class")

    # Open the sickest patient from the grid.
    _css(driver, f"#ward-grid .ag-row[row-id='{ids[1]}'] a.vw-patient-link")[0].click()
    wait_for(lambda: driver.current_url.endswith(f"/patient/{ids[1]}"), timeout=10,
             what="the patient page")
    wait_for(lambda: "Morgan Blake" in _text(driver, "pt-head"), timeout=15,
             what="the patient's header")
    assert "NEWS2 9 · High" in _text(driver, "pt-head")
    wait_for(lambda: _css(driver, "#pt-vitals .main-svg"), timeout=15, what="the chart")
    alerts = wait_for_rows(driver, "#pt-alerts .ag-center-cols-container .ag-row")
    alert_id = alerts[0].get_attribute("row-id")
    assert "NEW" in alerts[0].text

    # Acknowledge it with a note, and see it change.
    _css(driver, "#pt-alerts .ag-center-cols-container .ag-row .ag-cell[col-id='reason']")[0]\
        .click()
    ack = driver.find_element("id", "pt-alert-ack")
    wait_for(ack.is_enabled, timeout=5, what="Acknowledge enabled")
    driver.find_element("id", "pt-alert-note").send_keys("Phoned; ambulance called")
    ack.click()
    wait_for(lambda: "acknowledged by" in _text(driver, "pt-alert-feedback"),
             timeout=10, what="the acknowledgement")
    cell = f"#pt-alerts .ag-row[row-id='{alert_id}'] .ag-cell[col-id='alert']"
    wait_for(lambda: f"Ack. {user}" in _css(driver, cell)[0].text, timeout=10,
             what="the alert shown acknowledged")
    wait_for(lambda: "acknowledged" in _text(driver, "pt-audit"), timeout=10,
             what="the audit trail")
    state, by, note = conn.execute("SELECT state, acknowledged_by, ack_note FROM alerts"
                                   " WHERE alert_id = %s", (int(alert_id),)).fetchone()
    assert (state, by, note) == ("acknowledged", user, "Phoned; ambulance called")
    # The banner no longer asks for it.
    wait_for(lambda: ids[1] not in _text(driver, "emergency-banner"),
             timeout=10, what="the banner to drop the acknowledged alert")

    # Sign out.
    driver.find_element("css selector", ".vw-logout button").click()
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="signed out")
    time.sleep(0.2)


def test_in_the_browser_each_value_shows_its_age_and_stale_ones_are_grey(driver, site, tmp_path):
    """Finding 8 on screen: Drew Irving's oximeter sent SpO2 and pulse 55 min ago;
    respiration, blood pressure, consciousness and temperature are 11 h old.  Each
    cell says its own age, the old ones are greyed (striped, muted), and the patient
    is overdue on the last complete set, not on the latest score."""
    url, ward_id, ids, user = site
    _sign_in(driver, url, f"/?ward={ward_id}", user)
    wait_for_rows(driver, at_least=len(ids))
    row = f"#ward-grid .ag-center-cols-container .ag-row[row-id='{ids[8]}']"

    def cell(col: str):
        found = _css(driver, f"{row} .ag-cell[col-id='{col}']")
        return found[0] if found else None

    def shown(col: str) -> tuple[str, str]:
        """(value, age) as drawn: the value over its age."""
        c = cell(col)
        return (c.find_element("css selector", ".vw-vital-value").text,
                c.find_element("css selector", ".vw-vital-age").text)

    wait_for(lambda: cell("sbp") is not None and shown("sbp") == ("118", "11 h"), timeout=10,
             what="the blood pressure with its age")
    driver.save_screenshot(str(tmp_path / "ages.png"))
    for col in ("rr", "sbp", "acvpu", "temp"):
        c = cell(col)
        assert shown(col)[1] == "11 h", (col, c.text)
        assert "is-stale" in c.get_attribute("class"), col
        assert "repeating-linear-gradient" in c.value_of_css_property("background-image"), col
        assert c.value_of_css_property("font-style") == "italic"
    for col in ("spo2", "hr", "o2"):
        c = cell(col)
        assert shown(col)[1] == "55 min", (col, c.text)
        assert "is-stale" not in c.get_attribute("class"), col
        assert c.value_of_css_property("background-image") == "none"
    assert cell("measured").text.endswith("h ago") and "is-overdue" in \
        cell("measured").get_attribute("class")
    assert "stale RR, SBP, ACVPU, Temp" in cell("flags").text
    # The adjusted score is labelled beside the true NEWS2.
    emery = _css(driver, f"#ward-grid .ag-row[row-id='{ids[9]}'] .ag-cell[col-id='score']")
    assert emery[0].text == "5 (adj. 3) Low"

    # The patient page: the same ages, the stale values greyed.
    driver.get(f"{url}/patient/{ids[8]}")
    wait_for(lambda: _css(driver, "#pt-values .vw-value"), timeout=15, what="the values")
    stale = [e.text for e in _css(driver, "#pt-values .is-stale")]
    assert sorted(stale) == sorted(["RR 20 · 11 h (stale)", "SBP 118 · 11 h (stale)",
                                    "ACVPU A · 11 h (stale)", "Temp 37.2 · 11 h (stale)"])
    assert "last complete set" in _text(driver, "pt-measured")
