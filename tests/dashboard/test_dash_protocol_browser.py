"""A COVID-19 oximetry ward in headless Chromium against `vward web`: the ward
page shows the SpO2 level column of the ward's protocol, red in the emergency
colour, beside NEWS2's columns (screenshot: docs/covid-ward.png)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import on_ward, screenshot, unique, wait_for
from web_process import web_started

import ingest
from dashboard.screenshot import wait_for_rows
from ward import db, protocol_store

pytestmark = [pytest.mark.browser, pytest.mark.db]

PASSWORD = "correct-horse-battery"


def test_a_covid_ward_shows_the_spo2_level_column(services_up, spawn, register, browser,
                                                    tmp_path):
    ward, user = unique("wcb"), unique("nurse")
    now = datetime.now(UTC).replace(microsecond=0)
    door = ingest.DirectIngest(ingest.limits(services_up))
    from api import accounts

    with db.connect(services_up, autocommit=True) as conn:
        protocol_store.add_ward(conn, ward, "covid-oximetry", name="COVID oximetry @home",
                                by="test")
        ingest.prepare_connection(conn)
        patients = {}
        for spo2 in (97, 94, 92):
            reg = register(ward_id=ward)
            body = {"id": unique("m"), "readings": [
                {"time": (now - timedelta(minutes=5)).isoformat(), "type": "spo2",
                 "value": spo2},
                {"time": (now - timedelta(minutes=5)).isoformat(), "type": "heart_rate",
                 "value": 88}]}
            assert not door.readings(conn, reg.device_id, json.dumps(body).encode(), now,
                                     kept_as="test").refused
            patients[spo2] = reg.patient_id
        accounts.create_user(conn, user, "clinician", PASSWORD)
        on_ward(conn, ward, user)
    url = web_started(spawn)
    driver = browser(1600, 700)
    driver.get(url + f"/?ward={ward}")
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="the sign-in page")
    driver.find_element("id", "name").send_keys(user)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("css selector", "form button[type=submit]").click()
    wait_for_rows(driver, at_least=3)
    headers = wait_for(lambda: "SpO₂ level" in [h.text for h in driver.find_elements(
        "css selector", "#ward-grid .ag-header-cell-text")] and driver.find_elements(
        "css selector", "#ward-grid .ag-header-cell-text"), timeout=15,
        what="the SpO2 level column")
    assert "NEWS2" in [h.text for h in headers]

    def cell(patient: str):
        found = driver.find_elements(
            "css selector", f"#ward-grid .ag-row[row-id='{patient}'] [col-id='spo2_level']")
        return found[0] if found and found[0].text else None

    red = wait_for(lambda: cell(patients[92]), timeout=15, what="the red patient's level")
    assert red.text == "Red 92" and "sev-emergency" in red.get_attribute("class")
    assert cell(patients[94]).text == "Amber 94"
    assert cell(patients[97]).text == "Green 97"
    driver.save_screenshot(str(screenshot("covid-ward.png", tmp_path)))
