"""The ward figures about reaching people (issue 13, item 6) on the real database,
built from the notifier's outbox (migration 014), the alerts' ack_via (015) and
the re-measurements asked (016); and the page that shows them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import on_ward, unique
from test_dash_callbacks import _call

from dashboard import notify_figures, notify_queries
from dashboard.app import close_dash, create_dash
from dashboard.pages import outcomes
from ward import db


def _alert(conn, pid, ward_id, severity, opened, *, ack_after=None, by=None, via=None):
    row = conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " condition_time, opened_at, updated_at, last_notified_severity, acknowledged_at,"
        " acknowledged_by, ack_via) VALUES (%s, %s, %s, 'clinical', %s, %s, 'test', %s, %s,"
        " %s, %s, %s, %s, %s) RETURNING alert_id",
        (pid, ward_id, unique("kind"), severity,
         "open" if ack_after is None else "acknowledged", opened, opened, opened, severity,
         None if ack_after is None else opened + ack_after, by, via)).fetchone()
    return row[0]


def _event(conn, alert_id, event, severity, at):
    return conn.execute(
        "INSERT INTO alert_events (alert_id, time, event, severity, state, actor)"
        " VALUES (%s, %s, %s, %s, 'open', 'engine') RETURNING event_id",
        (alert_id, at, event, severity)).fetchone()[0]


def _sent(conn, event_id, alert_id, ward_id, who, tier, channel, state, created, sent_after,
          failed_attempts=0):
    nid = conn.execute(
        "INSERT INTO notifications (event_id, alert_id, ward_id, recipient, tier, channel,"
        " address, idempotency_key, state, attempts, created_at, sent_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'x', %s, %s, %s, %s, %s) RETURNING notification_id",
        (event_id, alert_id, ward_id, who, tier, channel, unique("key"), state,
         failed_attempts + (state == "sent"), created,
         created + sent_after if state == "sent" else None)).fetchone()[0]
    for i in range(failed_attempts):
        conn.execute("INSERT INTO notification_attempts (notification_id, attempt, at, outcome,"
                     " error) VALUES (%s, %s, %s, 'failed', 'refused')", (nid, i + 1, created))


@pytest.fixture(scope="module")
def reached(services_up):
    """A ward with three alerts told to people and four re-measurements asked:
    (ward_id, now)."""
    from conftest import unique as u

    from ward import devices

    ward_id, now = u("wn"), datetime.now(UTC)
    pid, dev = u("pat"), u("dev")
    with db.connect(services_up, autocommit=True) as conn:
        devices.register_devices(conn, [devices.NewDevice(dev, pid, ward_id, "oximeter")],
                                 valid_from=now - timedelta(days=3))
        on_ward(conn, ward_id, "ana.clinician")  # whom test_dash_callbacks._call acts as
        t = now - timedelta(days=1)
        # An emergency: tiers 1 and 2 at once, by email; tier 1 acknowledged from the link.
        e = _alert(conn, pid, ward_id, "emergency", t, ack_after=timedelta(minutes=4),
                   by="nurse", via="link:email")
        ev = _event(conn, e, "opened", "emergency", t)
        _sent(conn, ev, e, ward_id, "nurse", 1, "email", "sent", t, timedelta(seconds=3))
        _sent(conn, ev, e, ward_id, "senior", 2, "email", "sent", t, timedelta(seconds=5))
        # An urgent alert nobody acknowledged in 15 min: tier 2 by webhook on escalation,
        # who acknowledged it on the dashboard; the first webhook attempt failed.
        t2 = now - timedelta(hours=5)
        a = _alert(conn, pid, ward_id, "urgent", t2, ack_after=timedelta(minutes=20),
                   by="senior", via="dashboard")
        ev = _event(conn, a, "opened", "urgent", t2)
        _sent(conn, ev, a, ward_id, "nurse", 1, "email", "sent", t2, timedelta(seconds=2))
        esc = _event(conn, a, "escalated", "urgent", t2 + timedelta(minutes=15))
        _sent(conn, esc, a, ward_id, "senior", 2, "webhook", "sent",
              t2 + timedelta(minutes=15), timedelta(seconds=40), failed_attempts=1)
        # A low alert whose SMS never got through.
        t3 = now - timedelta(hours=2)
        low = _alert(conn, pid, ward_id, "low", t3)
        ev = _event(conn, low, "opened", "low", t3)
        _sent(conn, ev, low, ward_id, "nurse", 1, "sms", "failed", t3, None, failed_attempts=5)
        for outcome in ("confirmed", "not_confirmed", "not_confirmed", "unanswered", None):
            conn.execute(
                "INSERT INTO remeasure_requests (patient_id, ward_id, device_id, types,"
                " asked_at, deadline, score_time, score_before, band, reason, outcome,"
                " decided_at) VALUES (%s, %s, %s, '{spo2}', %s, %s, %s, 5, 'medium', 'test',"
                " %s, %s)",
                (pid, ward_id, dev, t, t + timedelta(minutes=10), t, outcome,
                 None if outcome is None else t + timedelta(minutes=3)))
            t += timedelta(hours=1)  # one pending per patient at most
    return ward_id, now


def test_the_figures_about_reaching_people(conn, reached):
    ward_id, now = reached
    f = notify_queries.notify_figures(conn, ward_id, now - timedelta(days=7), now)
    delivered = {(channel, s.group): (s.n, s.p50) for channel, s in f.to_delivered}
    assert delivered[("", "anyone")] == (2, pytest.approx(2.5))  # 3 s and 2 s
    assert delivered[("email", "tier 1")] == (2, pytest.approx(2.5))
    assert delivered[("email", "tier 2")] == (1, pytest.approx(5))
    assert delivered[("webhook", "tier 2")] == (1, pytest.approx(15 * 60 + 40))
    assert ("sms", "tier 1") not in delivered  # never delivered
    acked = {(via, s.group): (s.n, s.p50) for via, s in f.to_ack}
    assert acked == {("link:email", "tier 1"): (1, pytest.approx(240)),
                     ("dashboard", "tier 2"): (1, pytest.approx(1200))}
    assert f.remeasures == notify_queries.Remeasures(5, 1, 2, 1, 0, 0, 1)
    assert f.escalations == [(2, 1, 1)]  # one escalated, one (the emergency) at once
    assert f.deliveries == [notify_queries.Delivery("email", 3, 0, 0, 0),
                            notify_queries.Delivery("sms", 0, 1, 0, 5),
                            notify_queries.Delivery("webhook", 1, 0, 0, 1)]
    ack = notify_figures.ack_figure(f.to_ack)
    assert [t.y[0] for t in ack.data][::-1] == ["Tier 1 · from the email link (n=1)",
                                                "Tier 2 · on the dashboard (n=1)"]  # top down
    remeasure = notify_figures.remeasure_figure(f.remeasures)
    assert list(remeasure.data[0].text[:4]) == ["5", "1 (20%)", "2 (40%)", "1 (20%)"]


def test_empty_figures_say_so():
    empty = notify_queries.NotifyFigures([], [], notify_queries.Remeasures(0, 0, 0, 0, 0, 0, 0),
                                         [], [])
    for fig in (notify_figures.delivered_figure(empty.to_delivered),
                notify_figures.ack_figure(empty.to_ack),
                notify_figures.remeasure_figure(empty.remeasures),
                notify_figures.escalation_figure(empty.escalations),
                notify_figures.delivery_figure(empty.deliveries)):
        assert fig.layout.annotations and not fig.data


@pytest.fixture(scope="module")
def app(services_up):
    dash_app = create_dash(services_up)
    yield dash_app
    close_dash(dash_app)


def test_the_page_shows_them(app, reached):
    ward_id, _ = reached
    names = outcomes.NOTIFY_FIGURES
    out = _call(app, [*((f"outcomes-{n}", "figure") for n in names),
                      ("outcomes-notify-summary", "children")],
                [("outcomes-ward", "value", ward_id), ("outcomes-period", "value", "7 days")])
    assert out["outcomes-notified"]["figure"]["data"][0]["type"] == "box"
    assert out["outcomes-deliveries"]["figure"]["data"][0]["type"] == "bar"
    chips = json.dumps(out["outcomes-notify-summary"]["children"])
    assert "5 notifications, 1 failed (20%)" in chips and "escalated to tier 2: 1" in chips
    assert "re-measurements: 5 asked, 2 resolved by re-measurement (no alert)" in chips
