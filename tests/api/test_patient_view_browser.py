"""The patient's own page on a phone (issue 14, item 4): headless Chromium at
375 x 812 against a real `vward web`, the link made by `vward patient link` as
a clinician makes it.  The patient opens the link, reads their page (no
sideways scrolling, the call buttons on screen), answers the questions, and
the answers arrive as readings in the database.  Saves docs/patient-view.png."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT, screenshot, service_env, unique, wait_for
from selenium.common.exceptions import WebDriverException
from web_process import web_started

import ingest
from ward import db, devices, patient_access, patient_links

pytestmark = [pytest.mark.browser, pytest.mark.db]

WIDTH, HEIGHT = 375, 812


@pytest.fixture(scope="module")
def phone(browser):
    driver = browser(WIDTH, HEIGHT)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 2, "mobile": True})
    return driver


def _patient(settings) -> str:
    """A patient at home with a morning's readings and a ward phone number."""
    ward_id, patient = unique("wph"), unique("pp")
    now = datetime.now(UTC)
    with db.connect(settings, autocommit=True) as conn:
        ingest.prepare_connection(conn)
        devices.register_devices(conn, [devices.NewDevice(f"{patient}-ox", patient, ward_id,
                                                          "oximeter")],
                                 valid_from=now - timedelta(hours=6))
        conn.execute("UPDATE patients SET display_name = 'Margaret Jones' WHERE patient_id = %s",
                     (patient,))
        patient_access.set_ward_phone(conn, ward_id, "0161 555 0100")
        t = (now - timedelta(minutes=35)).isoformat()
        msg = {"id": unique("m"), "readings": [
            {"time": t, "type": "spo2", "value": 95}, {"time": t, "type": "heart_rate",
                                                       "value": 88},
            {"time": t, "type": "respiratory_rate", "value": 19},
            {"time": t, "type": "systolic_bp", "value": 132},
            {"time": t, "type": "diastolic_bp", "value": 81},
            {"time": t, "type": "temperature", "value": 37.4},
            {"time": t, "type": "on_oxygen", "value": False}]}
        done = ingest.DirectIngest(ingest.Limits()).readings(
            conn, f"{patient}-ox", json.dumps(msg).encode(), now, kept_as="test")
        assert done.accepted == 7, done
    return patient


def _body(driver) -> str:
    """The page's text, '' while a navigation has no body yet."""
    try:
        return driver.find_element("tag name", "body").text
    except WebDriverException:
        return ""


def _answers(settings, patient: str) -> dict[str, float]:
    with db.connect(settings, autocommit=True) as conn:
        return dict(conn.execute(
            "SELECT type, value FROM observations WHERE device_id = %s",
            (patient_links.self_report_device(patient),)).fetchall())


def test_a_patient_opens_their_page_on_a_phone_and_answers(phone, services_up, spawn,
                                                           tmp_path):
    patient = _patient(services_up)
    url = web_started(spawn)
    made = subprocess.run([sys.executable, "-m", "ward.cli", "patient", "link", patient,
                           "--by", "nurse-jo"], cwd=ROOT, timeout=60, capture_output=True,
                          text=True, env=service_env(services_up, VWARD_PUBLIC_URL=url))
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{url}/me/link/") and patient not in link

    phone.get(link)
    phone.find_element("css selector", "form button[type=submit]").click()
    wait_for(lambda: phone.current_url == f"{url}/me", timeout=10, what="the patient's page")
    body = wait_for(lambda: _body(phone), timeout=10, what="the page's text")
    assert "Hello, Margaret Jones" in body
    assert "95 %" in body and "132/81 mmHg" in body
    assert re.search(r"\b3[5-7] minutes ago", body), body  # a minute may turn meanwhile
    assert "0161 555 0100" in body and "999" in body
    assert "Your next readings are due by" in body
    # Readable on a phone: nothing wider than the screen, the help on the first screen.
    width = phone.execute_script("return document.documentElement.scrollWidth")
    assert width <= WIDTH, width
    help_box = phone.find_element("css selector", "section.help")
    assert help_box.rect["y"] + help_box.rect["height"] <= HEIGHT
    font = phone.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('td')).fontSize)")
    assert font >= 16

    phone.find_element("css selector", "input[name=breathless][value=yes]").click()
    phone.find_element("css selector", "input[name=confused][value=no]").click()
    phone.execute_script("window.scrollTo(0, 0)")
    phone.save_screenshot(str(screenshot("patient-view.png", tmp_path)))
    phone.find_element("css selector", "form[action='/me/answers'] button").click()
    wait_for(lambda: "sent to your team" in _body(phone), timeout=10,
             what="the answers' receipt")
    assert _answers(services_up, patient) == {"breathlessness": 1.0}
    assert "More breathless than usual" in _body(phone)
    # No alert is raised by that answer (no engine here either): the page must not say
    # the readings needed nobody's attention (H67).
    assert "You told us you are more breathless than usual" in _body(phone)
    assert "have not needed your team's attention" not in _body(phone)

    # The link is used: opened again (a second phone, a forwarded SMS), it opens nothing.
    phone.delete_all_cookies()
    phone.get(link)
    assert "already used" in wait_for(lambda: _body(phone), timeout=10, what="the page")
    phone.get(f"{url}/me")
    assert "not signed in" in wait_for(lambda: _body(phone), timeout=10, what="the page")
    assert "Margaret Jones" not in _body(phone)
