"""GET and POST /ack/{token}: acknowledging an alert from the link in its
notification (issue 13, item 3), through the real app and database."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from conftest import unique
from fastapi.testclient import TestClient

import alerts
from api import ack_links as store
from api.app import create_app
from dashboard import actions
from dashboard.deps import Database
from ward import ack_links, db

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician
WARD = "ward-ack"


def _key(settings) -> bytes:
    return ack_links.derive_key(settings.secret_key)


def _alert(conn, patient_id: str, *, severity: str = "urgent") -> int:
    now = datetime.now(UTC)
    alert_id = conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " condition_time, opened_at, updated_at, last_notified_severity)"
        " VALUES (%s, %s, 'news2', 'clinical', %s, 'open', 'NEWS2 6 (medium): RR 25 scores 3',"
        " %s, %s, %s, %s) RETURNING alert_id",
        (patient_id, WARD, severity, now, now, now, severity)).fetchone()[0]
    conn.execute("INSERT INTO alert_events (alert_id, time, event, severity, state, actor,"
                 " detail) VALUES (%s, %s, 'opened', %s, 'open', 'test', '{}')",
                 (alert_id, now, severity))
    return alert_id


def _sent(conn, alert_id: int, user: str, channel: str = "email") -> int:
    """The notification the link goes out in, as the notifier's outbox holds it."""
    event_id = conn.execute("SELECT max(event_id) FROM alert_events WHERE alert_id = %s",
                            (alert_id,)).fetchone()[0]
    return conn.execute(
        "INSERT INTO notifications (event_id, alert_id, ward_id, recipient, tier, channel,"
        " address, idempotency_key) VALUES (%s, %s, %s, %s, 1, %s, 'x@example.org', %s)"
        " RETURNING notification_id",
        (event_id, alert_id, WARD, user, channel, unique("idem"))).fetchone()[0]


def _link(settings, conn, alert_id: int, user: str, *, channel: str = "email",
          expires: datetime | None = None, notification_id: int | None = None,
          key: bytes | None = None) -> str:
    nid = notification_id or _sent(conn, alert_id, user, channel)
    token = ack_links.sign(key or _key(settings), notification_id=nid, alert_id=alert_id,
                           user=user, expires=expires or datetime.now(UTC) + timedelta(hours=1),
                           channel=channel)
    return f"/ack/{token}"


def _patient(web, admin, conn) -> str:
    patient_id = api_fixtures.admit(web, admin, ward_id=WARD)
    t = datetime.now(UTC) - timedelta(minutes=20)
    api_fixtures.add_score(conn, patient_id, t, 6, "medium", sub_scores=(3, 0, 0, 0, 1, 0, 2),
                           inputs=(25, 97, 0, 120, 95, 0, 38.6),
                           input_times=[t - timedelta(minutes=m) for m in (0, 0, 0, 5, 0, 0, 40)])
    return patient_id


def _nonce(page: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _row(conn, alert_id: int) -> tuple:
    return conn.execute("SELECT state, acknowledged_by, ack_via, ack_note FROM alerts"
                        " WHERE alert_id = %s", (alert_id,)).fetchone()


def _uses(conn, alert_id: int) -> int:
    return conn.execute("SELECT count(*) FROM ack_link_uses WHERE alert_id = %s",
                        (alert_id,)).fetchone()[0]


def _untouched(conn, alert_id: int) -> None:
    assert _row(conn, alert_id) == ("open", None, None, None)
    assert _uses(conn, alert_id) == 0


def test_the_link_shows_the_patients_state_then_acknowledges_once(web, admin, clinician, conn,
                                                                   services_up):
    patient_id = _patient(web, admin, conn)
    alert_id = _alert(conn, patient_id)
    url = _link(services_up, conn, alert_id, clinician.name)

    page = web.get(url)
    assert page.status_code == 200, page.text
    text = page.text
    for shown in ("Test Patient", patient_id, "URGENT", "NEWS2 6 (medium): RR 25 scores 3",
                  "Latest NEWS2", ">6<", "(medium)", "Respiratory rate", "25 /min",
                  "Body temperature", "38.6 °C", "20 min", "1 h",
                  f"acknowledge as {clinician.name}"):
        assert shown in text, shown
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert 'content="width=device-width' in text  # readable on a phone
    _untouched(conn, alert_id)  # looking changes nothing (a mail scanner fetches links)
    assert conn.execute("SELECT actor, via FROM patient_reads WHERE patient_id = %s",
                        (patient_id,)).fetchall() == [(clinician.name, "link")]

    done = web.post(url, data={"nonce": _nonce(text), "note": "phoned, ambulance called"})
    assert done.status_code == 200, done.text
    assert f"Acknowledged by {clinician.name}" in done.text and "email link" in done.text
    assert _row(conn, alert_id) == ("acknowledged", clinician.name, "link:email",
                                    "phoned, ambulance called")
    event = conn.execute("SELECT actor, detail FROM alert_events WHERE alert_id = %s"
                         " AND event = 'acknowledged'", (alert_id,)).fetchall()
    assert event == [(clinician.name, {"note": "phoned, ambulance called", "action": "",
                                       "changed_management": None, "via": "link:email"})]
    api = web.get(f"/api/v1/alerts/{alert_id}", headers=clinician.headers).json()
    assert api["ack_via"] == "link:email" and api["events"][-1]["detail"]["via"] == "link:email"

    again = web.post(url, data={"nonce": _nonce(text)})
    assert again.status_code == 409 and "already used" in again.text
    assert web.get(url).status_code == 409
    assert _uses(conn, alert_id) == 1


def test_the_via_is_the_notifications_channel(web, admin, clinician, conn, services_up):
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, clinician.name, channel="sms")
    r = web.post(url, data={"nonce": _nonce(web.get(url).text)})
    assert r.status_code == 200, r.text
    assert _row(conn, alert_id)[2] == "link:sms"


@pytest.mark.parametrize("case", ["expired", "tampered", "wrong_key", "cut_short"])
def test_a_link_that_is_not_good_is_refused_and_changes_nothing(web, admin, clinician, conn,
                                                                services_up, case):
    alert_id = _alert(conn, _patient(web, admin, conn))
    good = _link(services_up, conn, alert_id, clinician.name)
    nonce = _nonce(web.get(good).text)
    url = {
        "expired": lambda: _link(services_up, conn, alert_id, clinician.name,
                                 expires=datetime.now(UTC) - timedelta(seconds=1)),
        "tampered": lambda: good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "wrong_key": lambda: _link(services_up, conn, alert_id, clinician.name,
                                   key=ack_links.derive_key("another ward")),
        "cut_short": lambda: good[:30],
    }[case]()
    for r in (web.get(url), web.post(url, data={"nonce": nonce})):
        assert r.status_code == (410 if case == "expired" else 403), r.text
        assert "Nothing was changed" in r.text and "Test Patient" not in r.text
    _untouched(conn, alert_id)


def test_a_link_for_another_alert_is_refused_and_shows_no_other_patient(web, admin, clinician,
                                                                       conn, services_up):
    mine = _alert(conn, _patient(web, admin, conn))
    other_patient = api_fixtures.admit(web, admin, ward_id=WARD)
    other = _alert(conn, other_patient)
    nid = _sent(conn, mine, clinician.name)
    # Signed by the ward, but naming an alert its notification was not about.
    url = _link(services_up, conn, other, clinician.name, notification_id=nid)
    r = web.get(url)
    assert r.status_code == 403 and "does not match" in r.text
    assert other_patient not in r.text
    assert web.post(url, data={"nonce": "0.x"}).status_code == 403
    _untouched(conn, other)
    # ... and one naming another recipient than the notification's.
    url = _link(services_up, conn, mine, admin.name, notification_id=nid)
    assert web.get(url).status_code == 403
    _untouched(conn, mine)


def test_a_user_no_longer_allowed_is_refused(web, admin, conn, services_up):
    gone = api_fixtures.make_person(services_up, "clinician")
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, gone.name)
    nonce = _nonce(web.get(url).text)
    conn.execute("DELETE FROM users WHERE name = %s", (gone.name,))
    r = web.post(url, data={"nonce": nonce})
    assert r.status_code == 403 and "may no longer acknowledge" in r.text
    _untouched(conn, alert_id)


def test_already_acknowledged_by_someone_else_says_so(web, admin, clinician, conn, services_up):
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, clinician.name)
    nonce = _nonce(web.get(url).text)
    r = web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["ack_via"] == "api"

    page = web.get(url)
    assert page.status_code == 200
    assert f"Already acknowledged by {admin.name}" in page.text and "through the API" in page.text
    assert 'name="nonce"' not in page.text  # no button
    late = web.post(url, data={"nonce": nonce})
    assert late.status_code == 409 and "already acknowledged by" in late.text
    assert _row(conn, alert_id)[:3] == ("acknowledged", admin.name, "api")
    assert _uses(conn, alert_id) == 0  # the link was not spent


def test_the_button_needs_the_pages_own_recent_form(web, admin, clinician, conn, services_up):
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, clinician.name)
    token = url.removeprefix("/ack/")
    old = ack_links.form_nonce(_key(services_up), token,
                               datetime.now(UTC) - ack_links.FORM_MAX_AGE)
    for data in ({}, {"nonce": "garbage"}, {"nonce": old},
                 {"nonce": _nonce(web.get(_link(services_up, conn, alert_id,
                                                clinician.name)).text)}):
        r = web.post(url, data=data)
        assert r.status_code == 409 and "Not acknowledged yet" in r.text, data
        assert 'name="nonce"' in r.text  # the state again, with a fresh button
    _untouched(conn, alert_id)


def test_a_post_from_another_site_is_refused(web, admin, clinician, conn, services_up):
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, clinician.name)
    nonce = _nonce(web.get(url).text)
    r = web.post(url, data={"nonce": nonce}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "evil.example" in r.text
    _untouched(conn, alert_id)


def test_other_paths_and_methods_under_ack_never_reach_the_dashboard(web):
    for method, path in (("GET", "/ack/a/b"), ("PUT", "/ack/abc"), ("DELETE", "/ack/abc"),
                         ("GET", "/ack/")):
        r = web.request(method, path)
        assert r.status_code in (403, 404), (method, path, r.status_code)
        assert "text/html" in r.headers["content-type"] and '"path"' not in r.text


def test_guessing_links_is_slowed_per_address_like_sign_in(services_up, admin, clinician, conn):
    address = f"10.{time.time_ns() % 250}.{time.time_ns() // 7 % 250}.9"
    app = create_app(services_up, frontend=api_fixtures.echo_frontend)
    with TestClient(app, follow_redirects=False, client=(address, 4000)) as guesser:
        alert_id = _alert(conn, _patient(guesser, admin, conn))
        good = _link(services_up, conn, alert_id, clinician.name)
        try:
            statuses = [guesser.get(f"/ack/{unique('guess')}.AAAAAAAAAAAAAAAAAAAAAA").status_code
                        for _ in range(21)]
            assert statuses[:20] == [403] * 20 and statuses[20] == 429
            refused = guesser.get(good)  # while the address waits, even a genuine link
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
            assert conn.execute("SELECT count(*) FROM sign_in_failures WHERE address = %s"
                                " AND door = 'link'", (address,)).fetchone()[0] == 20
            _untouched(conn, alert_id)
        finally:
            conn.execute("DELETE FROM sign_in_failures WHERE address = %s", (address,))
        assert guesser.get(good).status_code == 200


def test_two_posts_of_one_link_at_once_one_wins(web, admin, clinician, conn, services_up):
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, clinician.name)
    nonce = _nonce(web.get(url).text)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: web.post(url, data={"nonce": nonce}), range(2)))
    assert sorted(r.status_code for r in results) == [200, 409]
    assert _uses(conn, alert_id) == 1
    assert conn.execute("SELECT count(*) FROM alert_events WHERE alert_id = %s"
                        " AND event = 'acknowledged'", (alert_id,)).fetchone()[0] == 1


def test_a_use_waiting_on_another_finds_it_used(web, admin, clinician, conn, services_up):
    """Deterministic race: the first use holds its transaction open while the
    second tries; the second waits on the key, then is refused."""
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, clinician.name)
    claim = ack_links.verify(_key(services_up), url.removeprefix("/ack/"), datetime.now(UTC))
    now = datetime.now(UTC)
    second: list[object] = []
    with (db.connect(services_up, autocommit=True) as first,
          db.connect(services_up, autocommit=True) as other):
        with first.transaction():
            won = store.use(first, claim, note="", address=None, now=now)
            assert won.state == "acknowledged"  # type: ignore[union-attr]
            pid = other.info.backend_pid
            t = threading.Thread(target=lambda: second.append(
                store.use(other, claim, note="", address=None, now=now)))
            t.start()
            deadline = time.monotonic() + 10
            while conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                               (pid,)).fetchone()[0] != "Lock":
                assert time.monotonic() < deadline, "the second use never waited"
                time.sleep(0.02)
        t.join(10)
    (refused,) = second
    assert isinstance(refused, ack_links.LinkRefused) and refused.reason == "used"
    assert _uses(conn, alert_id) == 1


def test_every_door_says_how_it_acknowledged(web, admin, clinician, conn, services_up):
    by_dashboard = _alert(conn, _patient(web, admin, conn))
    database = Database(services_up)
    try:
        feedback = actions.acknowledge(database, by_dashboard, user=clinician.name, note="",
                                       changed_management=None, now=datetime.now(UTC))
    finally:
        database.close()
    assert feedback.ok, feedback.message
    assert _row(conn, by_dashboard)[2] == "dashboard"
    unsaid = _alert(conn, _patient(web, admin, conn))
    with pytest.raises(alerts.ActionRefused, match="say how"):
        alerts.acknowledge(conn, unsaid, by="x", now=datetime.now(UTC), via="pager")
    assert _row(conn, unsaid)[0] == "open"


def test_an_earlier_links_page_shows_the_alert_as_it_is_now(web, admin, clinician, conn,
                                                            services_up):
    """A link sent while the alert was urgent, opened after it became an emergency."""
    alert_id = _alert(conn, _patient(web, admin, conn))
    url = _link(services_up, conn, alert_id, clinician.name)
    conn.execute("UPDATE alerts SET severity = 'emergency', reason = 'NEWS2 9 (high)'"
                 " WHERE alert_id = %s", (alert_id,))
    page = web.get(url).text
    assert "EMERGENCY" in page and "NEWS2 9 (high)" in page and "URGENT" not in page
