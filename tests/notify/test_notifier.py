"""`vward notifier` end to end: the real broker, database, `vward ingest`, the alerts
engine (a `vward alerts` process, or an engine on a clock the test drives where
the escalation time must pass), a real local SMTP server and a real local webhook
receiver that checks each signature (hazard log H35-H39)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import unique, wait_for
from ingest_helpers import device_of, ingest_started, iso
from receivers import (
    WEBHOOK_KEY,
    SmtpServer,
    WebhookReceiver,
    add_person,
    alerts_of,
    caught_up,
    notifications_of,
    put_on_call,
    send_set,
)
from web_process import web_started

pytestmark = [pytest.mark.db, pytest.mark.broker]

URGENT = {"respiratory_rate": 25}  # RR 25 scores 3: a red parameter, urgent
EMERGENCY = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": 1}  # NEWS2 7: high


@pytest.fixture
def smtp():
    with SmtpServer() as s:
        yield s


@pytest.fixture
def hooks():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def notifier(spawn, smtp, hooks, conn):
    """start(**env): `vward notifier` on the test's SMTP server and webhook key, once it
    has planned every event already in the database (earlier tests' too)."""
    def start(**env: str):
        p = spawn("notifier", **{
            "VWARD_SMTP_HOST": "127.0.0.1", "VWARD_SMTP_PORT": str(smtp.port),
            "VWARD_WEBHOOK_KEY": WEBHOOK_KEY, "VWARD_NOTIFY_TIMEOUT_SECONDS": "3",
            "VWARD_NOTIFIER_ID": unique("notifier"), "VWARD_PUBLIC_URL": "http://ward.test",
            **env})
        wait_for(lambda: "planning from the watermark" in p.output() or not p.running,
                 what="the notifier connected")
        assert p.running, p.output()
        wait_for(lambda: caught_up(conn), timeout=60, what="the notifier caught up")
        return p

    return start


def _team(conn, ward: str, hooks: WebhookReceiver, tiers=(1, 2, 3)) -> dict[int, str]:
    """One person per tier, each with an email address and a webhook (path /NAME)."""
    people = {}
    for tier in tiers:
        name = unique(f"t{tier}")
        add_person(conn, name, email_address=f"{name}@ward.test", webhook=f"{hooks.url}/{name}")
        put_on_call(conn, ward, tier, name)
        people[tier] = name
    return people


def _alert_ids(conn, patient: str) -> list[int]:
    return [a[0] for a in alerts_of(conn, patient)]


def test_an_emergency_reaches_tiers_1_and_2_by_email_and_signed_webhook_within_5_s(
        services_up, register, spawn, conn, smtp, hooks, notifier) -> None:
    ward = unique("ward")
    reg = register(ward_id=ward)
    people = _team(conn, ward, hooks)
    notifier()
    ingest_started(spawn("ingest"))
    engine = spawn("alerts", VWARD_ALERTS_WARDS=ward, VWARD_ALERTS_ENGINE_ID=unique("engine"),
                   VWARD_ALERTS_TICK_SECONDS="1")
    wait_for(lambda: "catching up" in engine.output(), what="alerts engine connected")
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    values = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": True, "systolic_bp": 120,
              "heart_rate": 95, "consciousness": "A", "temperature": 37.5}
    with device_of(services_up, reg) as dev:
        assert not dev.send_readings([{"time": iso(t), "type": k, "value": v}
                                      for k, v in values.items()], message_id="n-1").is_failure
    scored = wait_for(lambda: conn.execute("SELECT scored_at FROM scores WHERE patient_id = %s",
                                           (reg.patient_id,)).fetchone(), what="the score")[0]
    tiers12 = [people[1], people[2]]
    wait_for(lambda: all(len([m for m in smtp.to(f"{n}@ward.test") if "news2" in m.subject])
                         and [h for h in hooks.to(f"/{n}") if h.body["kind"] == "news2"]
                         for n in tiers12),
             timeout=10, what="an email and a webhook to tiers 1 and 2")
    for name in tiers12:  # (tier 1 is also told the patient's sets are overdue: low)
        [mail] = [m for m in smtp.to(f"{name}@ward.test") if "news2" in m.subject]
        [hook] = [h for h in hooks.to(f"/{name}") if h.body["kind"] == "news2"]
        assert mail.at - scored.timestamp() <= 5 and hook.at - scored.timestamp() <= 5
        assert mail.subject.startswith("[EMERGENCY] news2 alert: patient " + reg.patient_id)
        assert "NEWS2 8 (high)" in mail.body and "http://ward.test/ack/" in mail.body
        assert f"http://ward.test/patient/{reg.patient_id}" in mail.body
        assert hook.valid, "the webhook's signature does not check"
        assert hook.body["severity"] == "emergency" and hook.body["recipient"] == name
        assert hook.key == hook.body["idempotency_key"] == mail.key[:-len("email")] + "webhook"
        assert mail.message_id == f"<{mail.key}@localhost>"  # VWARD_SMTP_FROM's domain
    assert not smtp.to(f"{people[3]}@ward.test") and not hooks.to(f"/{people[3]}")
    [alert_id] = [a[0] for a in alerts_of(conn, reg.patient_id) if a[1] == "news2"]
    # The receiver has the message a moment before the notifier records it as sent.
    wanted = {(n, tier, ch, "sent") for tier, n in ((1, people[1]), (2, people[2]))
              for ch in ("email", "webhook")}
    wait_for(lambda: {(r[0], r[1], r[2], r[3])
                      for r in notifications_of(conn, [alert_id])} == wanted,
             timeout=5, what="the four deliveries recorded as sent")
    assert conn.execute("SELECT count(*) FROM notification_attempts a JOIN notifications n"
                        " USING (notification_id) WHERE n.alert_id = %s AND outcome = 'sent'",
                        (alert_id,)).fetchone()[0] == 4


def test_an_unacknowledged_urgent_alert_reaches_tier_2_after_its_escalation_time(
        services_up, register, make_engine, conn, smtp, hooks, notifier) -> None:
    """The engine runs on a clock the test drives (tests/alerts do the same), so its
    15 min escalation time passes at once; the notifier is the real process."""
    ward = unique("ward")
    reg = register(ward_id=ward)
    patient, device = reg.patient_id, reg.device_id
    people = _team(conn, ward, hooks)
    notifier()
    e = make_engine(ward)
    t0 = datetime.now(UTC).replace(microsecond=0)
    send_set(conn, patient, device, t0 - timedelta(minutes=1), **URGENT)
    e.drain(t0)
    [alert_id] = _alert_ids(conn, patient)
    wait_for(lambda: smtp.to(f"{people[1]}@ward.test"), what="tier 1 told of the urgent alert")
    time.sleep(1.0)
    assert not smtp.to(f"{people[2]}@ward.test"), "tier 2 told before the escalation time"
    e.tick(t0 + timedelta(minutes=14))
    assert [r[6] for r in notifications_of(conn, [alert_id])] == ["opened"] * 2
    e.tick(t0 + timedelta(minutes=16))  # unacknowledged 16 min > 15 min: escalated
    wait_for(lambda: smtp.to(f"{people[2]}@ward.test") and hooks.to(f"/{people[2]}"),
             what="tier 2 told of the escalation")
    [mail] = smtp.to(f"{people[2]}@ward.test")
    assert mail.subject.startswith("[URGENT] news2 escalated") and "Not acknowledged" in mail.body
    got = {(r[0], r[1], r[6]) for r in notifications_of(conn, [alert_id])}
    assert got == {(people[1], 1, "opened"), (people[1], 1, "escalated"),
                   (people[2], 2, "escalated")}
    assert not smtp.to(f"{people[3]}@ward.test")


def test_a_rota_gap_sends_to_the_next_tier(services_up, register, make_engine, conn, smtp, hooks,
                                           notifier) -> None:
    ward = unique("ward")
    reg = register(ward_id=ward)
    patient, device = reg.patient_id, reg.device_id
    people = _team(conn, ward, hooks, tiers=(2,))
    nurse = unique("t1")
    add_person(conn, nurse, email_address=f"{nurse}@ward.test")
    today = datetime.now(UTC).weekday()  # London is UTC or UTC+1: today and tomorrow off
    off = (1 << today) | (1 << ((today + 1) % 7)) | (1 << ((today - 1) % 7))
    put_on_call(conn, ward, 1, nurse, days=127 & ~off)
    notifier()
    e = make_engine(ward)
    t0 = datetime.now(UTC).replace(microsecond=0)
    send_set(conn, patient, device, t0 - timedelta(minutes=1), **URGENT)
    e.drain(t0)
    wait_for(lambda: smtp.to(f"{people[2]}@ward.test"), what="tier 2 told in tier 1's gap")
    [alert_id] = _alert_ids(conn, patient)
    assert {(r[0], r[1]) for r in notifications_of(conn, [alert_id])} == {(people[2], 2)}
    assert not smtp.to(f"{nurse}@ward.test")
    why = conn.execute("SELECT audience FROM notify_decisions d JOIN alert_events e"
                       " USING (event_id) WHERE e.alert_id = %s", (alert_id,)).fetchone()[0]
    assert "urgent opened: tier 1" in why and f"{people[2]} (tier 2)" in why


def test_a_failing_channel_is_retried_then_raises_notification_failed(
        services_up, register, make_engine, conn, smtp, hooks, notifier) -> None:
    ward = unique("ward")
    reg = register(ward_id=ward)
    patient, device = reg.patient_id, reg.device_id
    people = _team(conn, ward, hooks, tiers=(1,))
    admin = unique("admin")
    add_person(conn, admin, role="admin", email_address=f"{admin}@ward.test")
    hooks.fail(f"/{people[1]}")
    notifier(VWARD_NOTIFY_RETRY_SECONDS="0.2,0.4", VWARD_NOTIFY_MAX_ATTEMPTS="3")
    e = make_engine(ward)
    t0 = datetime.now(UTC).replace(microsecond=0)
    send_set(conn, patient, device, t0 - timedelta(minutes=1), **URGENT)
    e.drain(t0)
    [alert_id] = _alert_ids(conn, patient)
    failed = wait_for(lambda: [a for a in alerts_of(conn, patient)
                               if a[1] == "notification_failed"], what="notification_failed")
    [(failed_id, _, severity, state, reason)] = failed
    assert (severity, state) == ("urgent", "open")
    assert f"to {people[1]} by webhook failed 3 times" in reason and "HTTP 500" in reason
    assert len(hooks.to(f"/{people[1]}")) == 3  # every attempt reached the receiver
    attempts = conn.execute(
        "SELECT a.attempt, a.outcome, a.error, a.at FROM notification_attempts a"
        " JOIN notifications n USING (notification_id) WHERE n.alert_id = %s"
        " AND n.channel = 'webhook' ORDER BY a.attempt", (alert_id,)).fetchall()
    assert [(a[0], a[1]) for a in attempts] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert all("HTTP 500" in a[2] for a in attempts)
    assert attempts[1][3] - attempts[0][3] >= timedelta(seconds=0.2)  # the backoff waited
    assert attempts[2][3] - attempts[1][3] >= timedelta(seconds=0.4)
    states = {r[2]: r[3] for r in notifications_of(conn, [alert_id])}
    assert states == {"email": "sent", "webhook": "failed"}  # the email went, alone

    def mine() -> list:  # an admin sees every ward: another test's failure may reach them
        return [m for m in smtp.to(f"{admin}@ward.test")
                if "notification_failed" in m.subject and patient in m.body]

    [mail, *_] = wait_for(mine, what="the admin told of this patient's failure")
    assert "technical" in mail.body and "HTTP 500" in mail.body
    assert [r[0] for r in notifications_of(conn, [failed_id]) if r[0] == people[1]] == []


def test_a_notifier_killed_mid_delivery_loses_nothing_and_repeats_only_under_the_same_key(
        services_up, register, make_engine, conn, smtp, hooks, notifier) -> None:
    """SIGKILL while the webhook receiver holds the requests: after a restart every
    notification is sent; what was recorded as sent is not sent again; the held ones
    go again under the same idempotency key, so a receiver that drops repeats by it
    gets each message once per recipient and event (docs/notifications.md)."""
    ward = unique("ward")
    reg = register(ward_id=ward)
    people = _team(conn, ward, hooks, tiers=(1, 2))
    held = hooks.hold()
    first = notifier()
    e = make_engine(ward)
    t0 = datetime.now(UTC).replace(microsecond=0)
    send_set(conn, reg.patient_id, reg.device_id, t0 - timedelta(minutes=1), **EMERGENCY)
    e.drain(t0)
    [alert_id] = _alert_ids(conn, reg.patient_id)
    assert held.wait(10), "no webhook reached the receiver"
    wait_for(lambda: len(hooks.hooks) == 2 and [r[3] for r in notifications_of(conn, [alert_id])
                                                if r[2] == "email"] == ["sent", "sent"],
             what="both emails sent and both webhooks held")
    first.kill()  # SIGKILL: no handler runs, the connections just drop
    hooks.release()
    before = {m.key for m in smtp.mails}
    assert [r[3] for r in notifications_of(conn, [alert_id]) if r[2] == "webhook"] == [
        "pending", "pending"]  # the held deliveries were never recorded as sent: not lost
    notifier()
    wait_for(lambda: all(r[3] == "sent" for r in notifications_of(conn, [alert_id])),
             timeout=30, what="every notification sent after the restart")
    rows = notifications_of(conn, [alert_id])
    keys = {r[5] for r in rows}
    assert len(rows) == len(keys) == 4  # one per recipient and channel: nothing lost
    mails = [m.key for m in smtp.mails if m.key in keys]
    assert sorted(mails) == sorted(before & keys)  # an email sent is never sent again
    assert len(mails) == len(set(mails)) == 2
    got = [h.key for h in hooks.hooks if h.key in keys]
    assert set(got) == {r[5] for r in rows if r[2] == "webhook"}
    assert all(got.count(k) == 2 for k in set(got))  # the held try and the retry, same key
    assert all(h.valid for h in hooks.hooks)
    assert {h.body["recipient"] for h in hooks.hooks} == {people[1], people[2]}
    attempts = conn.execute(
        "SELECT n.channel, a.attempt, a.outcome FROM notification_attempts a"
        " JOIN notifications n USING (notification_id) WHERE n.alert_id = %s"
        " ORDER BY n.notification_id, a.attempt", (alert_id,)).fetchall()
    assert sorted(attempts) == [("email", 1, "sent")] * 2 + [("webhook", 1, "sent")] * 2


def test_a_paused_kind_is_not_notified_but_an_emergency_is(
        services_up, register, make_engine, conn, smtp, hooks, notifier) -> None:
    from ward import pause_records

    ward = unique("ward")
    reg = register(ward_id=ward)
    people = _team(conn, ward, hooks, tiers=(1, 2))
    now = datetime.now(UTC).replace(microsecond=0)
    pause_records.set_pause(conn, reg.patient_id, "news2", timedelta(hours=8), by="Dr Bo",
                            reason="known raised RR overnight, reviewed", now=now)
    notifier()
    e = make_engine(ward)
    send_set(conn, reg.patient_id, reg.device_id, now - timedelta(minutes=2), **URGENT)
    e.drain(now)
    [alert_id] = _alert_ids(conn, reg.patient_id)
    wait_for(lambda: conn.execute("SELECT audience FROM notify_decisions d JOIN alert_events e"
                                  " USING (event_id) WHERE e.alert_id = %s",
                                  (alert_id,)).fetchone(), what="the decision")
    [(why,)] = conn.execute("SELECT audience FROM notify_decisions d JOIN alert_events e"
                            " USING (event_id) WHERE e.alert_id = %s", (alert_id,)).fetchall()
    assert "news2 paused until" in why
    assert notifications_of(conn, [alert_id]) == []  # the alert is open; nobody paged
    send_set(conn, reg.patient_id, reg.device_id, now - timedelta(minutes=1), **EMERGENCY)
    e.drain(now + timedelta(seconds=1))  # the severity rose: escalated, an emergency
    wait_for(lambda: len(notifications_of(conn, [alert_id])) == 4, what="the emergency notified")
    assert {(r[0], r[1], r[6]) for r in notifications_of(conn, [alert_id])} == {
        (people[1], 1, "escalated"), (people[2], 2, "escalated")}


def test_the_emails_link_acknowledges_the_alert_once_and_a_second_use_is_refused(
        services_up, register, make_engine, spawn, conn, smtp, hooks, notifier) -> None:
    """The link in the email, followed on the real `vward web`: the page shows the
    patient's state before the button, the post acknowledges as the recipient by
    'link:email', and the same link used again is refused."""
    ward = unique("ward")
    reg = register(ward_id=ward)
    people = _team(conn, ward, hooks, tiers=(1, 2))
    url = web_started(spawn)
    notifier(VWARD_PUBLIC_URL=url)
    e = make_engine(ward)
    t0 = datetime.now(UTC).replace(microsecond=0)
    send_set(conn, reg.patient_id, reg.device_id, t0 - timedelta(minutes=1), **EMERGENCY)
    e.drain(t0)
    [alert_id] = _alert_ids(conn, reg.patient_id)
    [mail] = wait_for(lambda: smtp.to(f"{people[1]}@ward.test"), what="tier 1's email")
    [link] = re.findall(rf"{re.escape(url)}/ack/\S+", mail.body)
    with httpx.Client(timeout=10) as web:
        page = web.get(link)
        assert page.status_code == 200, page.text
        assert reg.patient_id in page.text and "Latest NEWS2" in page.text
        assert f"acknowledge as {people[1]}" in page.text
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
        done = web.post(link, data={"nonce": nonce, "note": "phoned the patient"})
        assert done.status_code == 200, done.text
        assert conn.execute("SELECT state, acknowledged_by, ack_via FROM alerts"
                            " WHERE alert_id = %s", (alert_id,)).fetchone() == (
            "acknowledged", people[1], "link:email")
        again = web.post(link, data={"nonce": nonce})
        assert again.status_code == 409 and "already used" in again.text
    [other] = [m for m in smtp.to(f"{people[2]}@ward.test")]  # tier 2's link is its own
    assert link not in other.body
