"""An acknowledge link pressed in a real browser (issue 13, item 3): headless
Chromium against a real `vward web`.  The TestClient tests of test_ack_links
send whatever headers they are given; a browser sends the ones the page's own
headers lead it to (under `Referrer-Policy: no-referrer` Chromium posts the
form with `Origin: null`, which the cross-site check refuses, so the button
never acknowledged anything in a browser until this test)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT, service_env, unique, wait_for
from selenium.common.exceptions import WebDriverException
from web_process import web_started

from ward import ack_links, db, devices

pytestmark = [pytest.mark.browser, pytest.mark.db]


def _body(driver) -> str:
    try:
        return driver.find_element("tag name", "body").text
    except WebDriverException:
        return ""


def test_a_clinician_acknowledges_from_the_link_in_a_browser(browser, services_up, spawn):
    ward_id, patient, nurse = unique("wack"), unique("pack"), unique("nurse")
    now = datetime.now(UTC)
    with db.connect(services_up, autocommit=True) as conn:
        devices.register_devices(conn, [devices.NewDevice(f"{patient}-ox", patient, ward_id,
                                                          "oximeter")],
                                 valid_from=now - timedelta(hours=1))
    # A clinician of this ward (item 6: an ack link of another ward's nurse is refused).
    made = subprocess.run([sys.executable, "-m", "ward.cli", "user", "add", nurse, "--role",
                           "clinician", "--ward", ward_id], cwd=ROOT, timeout=60,
                          capture_output=True, text=True, env=service_env(services_up))
    assert made.returncode == 0, made.stderr
    with db.connect(services_up, autocommit=True) as conn:
        alert_id = conn.execute(
            "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
            " condition_time, opened_at, updated_at, last_notified_severity)"
            " VALUES (%s, %s, 'news2', 'clinical', 'urgent', 'open', 'NEWS2 6 (medium)',"
            " %s, %s, %s, 'urgent') RETURNING alert_id",
            (patient, ward_id, now, now, now)).fetchone()[0]
        event_id = conn.execute(
            "INSERT INTO alert_events (alert_id, time, event, severity, state, actor, detail)"
            " VALUES (%s, %s, 'opened', 'urgent', 'open', 'test', '{}') RETURNING event_id",
            (alert_id, now)).fetchone()[0]
        notification_id = conn.execute(
            "INSERT INTO notifications (event_id, alert_id, ward_id, recipient, tier, channel,"
            " address, idempotency_key) VALUES (%s, %s, %s, %s, 1, 'email', 'x@example.org',"
            " %s) RETURNING notification_id",
            (event_id, alert_id, ward_id, nurse, unique("idem"))).fetchone()[0]
    token = ack_links.sign(ack_links.derive_key(services_up.secret_key),
                           notification_id=notification_id, alert_id=alert_id, user=nurse,
                           expires=now + timedelta(hours=1), channel="email")
    url = web_started(spawn)
    driver = browser(420, 900)
    driver.get(f"{url}/ack/{token}")
    wait_for(lambda: "acknowledge as" in _body(driver), timeout=15, what="the link's page")
    driver.find_element("css selector", "form button[type=submit]").click()
    wait_for(lambda: "Acknowledged by" in _body(driver), timeout=15,
             what="the acknowledgement's receipt")
    with db.connect(services_up, autocommit=True) as conn:
        state, by, via = conn.execute("SELECT state, acknowledged_by, ack_via FROM alerts"
                                      " WHERE alert_id = %s", (alert_id,)).fetchone()
    assert (state, by) == ("acknowledged", nurse)
    assert via is not None
