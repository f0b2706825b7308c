"""`vward mail-sink` and the dashboard's Notifications page: a message sent by the
notifier's email channel to the real sink lands in VWARD_HOME/mail and an admin
reads it on the page; a clinician is not shown it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from conftest import unique, wait_for
from receivers import free_port
from web_process import web_started

from dashboard.app import close_dash, create_dash
from dashboard.deps import ROLE_HEADER, USER_HEADER
from notify import mail_sink
from notify.channels import SmtpChannel
from notify.message import Facts, Links


@pytest.fixture
def sink(services_up):
    port, stop = free_port(), threading.Event()
    t = threading.Thread(target=mail_sink.serve, args=(services_up,),
                         kwargs={"host": "127.0.0.1", "port": port, "stop": stop}, daemon=True)
    t.start()
    yield port
    stop.set()
    t.join(10)


def _page(app, role: str) -> dict:
    body = {"output": "..inbox-sent.children...inbox-mail.children..",
            "outputs": [{"id": "inbox-sent", "property": "children"},
                        {"id": "inbox-mail", "property": "children"}],
            "inputs": [{"id": "inbox-tick", "property": "n_intervals", "value": None}],
            "changedPropIds": ["inbox-tick.n_intervals"]}
    r = app.server.test_client().post("/_dash-update-component", json=body,
                                      headers={USER_HEADER: "someone", ROLE_HEADER: role})
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    return json.loads(r.get_data(as_text=True))["response"]


def test_a_message_sent_to_the_sink_is_read_on_the_admins_page(services_up, sink) -> None:
    patient = unique("pat")
    t = datetime.now(UTC)
    facts = Facts(1, f"vward-1-{patient}-email", "ada", 1, "email", 1, "opened", t, "urgent",
                  "NEWS2 5 (medium)", 1, "news2", "clinical", "ward-x", patient, None, "", t)
    channel = SmtpChannel(host="127.0.0.1", port=sink, sender="vward@localhost")
    wait_for(lambda: _sent(channel, facts), what="the sink listening")
    [kept] = [m for m in mail_sink.latest(services_up) if patient in m.subject]
    assert kept.to == "ada@ward.test" and "NEWS2 5 (medium)" in kept.body
    app = create_dash(services_up)
    try:
        admin = json.dumps(_page(app, "admin"))
        assert f"[URGENT] news2 alert: patient {patient}" in admin
        clinician = json.dumps(_page(app, "clinician"))
        assert patient not in clinician and "shown to admins" in clinician
    finally:
        close_dash(app)


def _sent(channel: SmtpChannel, facts: Facts) -> bool:
    from notify.errors import DeliveryError

    try:
        channel.send(facts, Links("http://w/patient/p", "http://w/ack/t"), "ada@ward.test")
    except DeliveryError:
        return False
    return True


def test_the_notifications_page_in_the_browser(browser, services_up, spawn, sink,
                                               tmp_path) -> None:
    from api import accounts
    from ward import db

    password = "notify-page-password"
    admin = unique("admin")
    with db.connect(services_up, autocommit=True) as conn:
        accounts.create_user(conn, admin, "admin", password)
    patient = unique("pat")
    t = datetime.now(UTC)
    facts = Facts(1, f"vward-1-{patient}-email", "ada", 1, "email", 1, "opened", t, "emergency",
                  "NEWS2 8 (high): RR 26 scores 3", 1, "news2", "clinical", "ward-x", patient,
                  None, "", t)
    channel = SmtpChannel(host="127.0.0.1", port=sink, sender="vward@localhost")
    wait_for(lambda: _sent(channel, facts), what="the sink listening")
    url = web_started(spawn)
    driver = browser(1400, 1000)
    driver.get(f"{url}/notifications")
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="the sign-in page")
    driver.find_element("id", "name").send_keys(admin)
    driver.find_element("id", "password").send_keys(password)
    driver.find_element("css selector", "form button[type=submit]").click()

    def inbox() -> str:
        found = driver.find_elements("id", "inbox-mail")
        return found[0].text if found else ""

    wait_for(lambda: f"[EMERGENCY] news2 alert: patient {patient}" in inbox(), timeout=20,
             what="the sink's message on the page")
    assert driver.find_elements("css selector", "a.vw-nav-link[href='/notifications']")
    driver.save_screenshot(str(tmp_path / "notifications.png"))
