"""The banner "Alerting stopped since HH:MM" (dashboard/layout.py): as a pure
function, through Dash's callback endpoint, and in headless Chromium against
`vward web`, on a database of the tests' own whose heartbeats they set."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import on_ward, unique, wait_for
from own_database import env_of, own_database
from test_dash_callbacks import _call
from web_process import web_started

from dashboard import layout, sample
from dashboard.app import close_dash, create_dash
from ward import db, health
from ward.heartbeats import Heartbeat
from ward.records import HeartbeatRow

ZONE = "America/New_York"  # five hours behind UTC in November: HH:MM is not UTC's
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"


def _row(name="e1", *, tick: datetime | None, beat: datetime, wards=()) -> HeartbeatRow:
    return HeartbeatRow("alerts", name, 1, "h", list(wards), 5.0, NOW - timedelta(days=1), beat,
                        tick, None, None, None, None, None)


def _text(children) -> str:
    return json.dumps(children, default=lambda c: c.to_plotly_json())


def test_the_banner_says_since_when_in_the_wards_time():
    dead = NOW - timedelta(minutes=20)
    children, cls = layout.alerting_banner_content(
        health.judge_alerting([_row(tick=dead, beat=dead)], NOW), ZONE)
    assert "vw-hidden" not in cls and "vw-stopped" in cls
    assert "Alerting stopped since 09:40 EST (20 min ago)" in _text(children)


def test_the_banner_gives_the_date_and_the_wards_when_it_needs_them():
    dead = NOW - timedelta(days=1, minutes=20)
    rows = [_row("a", tick=dead, beat=dead, wards=["ward-a"]),
            _row("b", tick=NOW, beat=NOW, wards=["ward-b"])]
    children, _ = layout.alerting_banner_content(health.judge_alerting(rows, NOW), ZONE)
    assert "Alerting stopped since Sun 22 Nov 09:40 EST for wards ward-a" in _text(children)


def test_the_banner_hides_while_alerting_runs_and_says_when_none_ever_ran():
    _, cls = layout.alerting_banner_content(
        health.judge_alerting([_row(tick=NOW, beat=NOW)], NOW), ZONE)
    assert "vw-hidden" in cls
    children, cls = layout.alerting_banner_content(health.judge_alerting([], NOW), ZONE)
    assert "vw-hidden" not in cls and "no alerts engine is running" in _text(children)


# ---------------------------------------------------------------- the real thing

@pytest.fixture(scope="module")
def mine(services_up):
    with own_database(services_up, "vward_dash_alerting") as s:
        yield s


@pytest.fixture(scope="module")
def ward(mine):
    ward_id = unique("wz")
    with db.connect(mine, autocommit=True) as conn:
        ids = sample.build_ward(conn, now=datetime.now(UTC), ward_id=ward_id,
                                prefix=unique("z"), time_zone=ZONE)
    return ward_id, ids


@pytest.fixture
def conn(mine):
    with db.connect(mine, autocommit=True) as c:
        c.execute("DELETE FROM service_heartbeats")
        yield c


def _kill(conn, name: str, minutes: int) -> datetime:
    """The engine ``name`` last ticked ``minutes`` ago (and beat then)."""
    return conn.execute("UPDATE service_heartbeats SET last_tick_at = now() - %s * interval"
                        " '1 min', beat_at = now() - %s * interval '1 min'"
                        " WHERE instance_id = %s RETURNING last_tick_at",
                        (minutes, minutes, name)).fetchone()[0]


def _hhmm(t: datetime) -> str:
    from zoneinfo import ZoneInfo

    return t.astimezone(ZoneInfo(ZONE)).strftime("%H:%M %Z")


def test_the_shell_callback_shows_and_hides_the_banner(mine, ward, conn):
    ward_id, _ = ward
    app = create_dash(mine)
    try:
        name = unique("engine")
        heart = Heartbeat("alerts", name, interval=5)
        heart.beat(conn, ticked=True)
        out = _call(app, [("alerting-banner", "children"), ("alerting-banner", "className")],
                    [("shell-tick", "n_intervals", 1)], [("ward-choice", "data", ward_id)])
        assert "vw-hidden" in out["alerting-banner"]["className"]

        since = _kill(conn, name, 30)
        out = _call(app, [("alerting-banner", "children"), ("alerting-banner", "className")],
                    [("shell-tick", "n_intervals", 2)], [("ward-choice", "data", ward_id)])
        assert "vw-hidden" not in out["alerting-banner"]["className"]
        assert f"Alerting stopped since {_hhmm(since)}" in json.dumps(
            out["alerting-banner"]["children"])
    finally:
        close_dash(app)


def test_the_banner_is_on_every_page_while_alerting_is_stopped(mine, ward, conn, spawn,
                                                               tmp_path, browser):
    from api import accounts

    ward_id, ids = ward
    user = unique("nurse")
    with db.connect(mine, autocommit=True) as c:
        accounts.create_user(c, user, "clinician", PASSWORD)
        on_ward(c, ward_id, user)
    name = unique("engine")
    heart = Heartbeat("alerts", name, interval=1)
    heart.beat(conn, ticked=True)
    since = _kill(conn, name, 12)

    url = web_started(spawn, **env_of(mine))
    driver = browser(1400, 900)
    driver.get(f"{url}/?ward={ward_id}")
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="the sign-in page")
    driver.find_element("id", "name").send_keys(user)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("css selector", "form button[type=submit]").click()

    expected = f"Alerting stopped since {_hhmm(since)}"
    for path in (f"/?ward={ward_id}", f"/patient/{ids[0]}", "/outcomes"):
        driver.get(url + path)
        wait_for(lambda: _banner(driver) and expected in _banner(driver).text, timeout=15,
                 what=f"the banner on {path}")
        banner = _banner(driver)
        assert banner.is_displayed() and banner.location["y"] < 200  # at the top
    driver.save_screenshot(str(tmp_path / "alerting-stopped.png"))

    # The engine ticks again: the banner goes at the page's next refresh.
    heart.beat(conn, ticked=True)
    wait_for(lambda: not _banner(driver).is_displayed(), timeout=10,
             what="the banner to go once alerting runs")
    # ... and comes back when it stops again.
    _kill(conn, name, 5)
    wait_for(lambda: _banner(driver).is_displayed(), timeout=10,
             what="the banner to come back")


def _banner(driver):
    found = driver.find_elements("id", "alerting-banner")
    return found[0] if found else None
