"""notify/outbox.py on the real database, without the process: an event that cannot be
planned is recorded and raised as notification_failed, and the events behind it are
planned all the same (H38, H39)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import unique
from receivers import add_person, alerts_of, caught_up, notifications_of, put_on_call, send_set

from notify import outbox

URGENT = {"respiratory_rate": 25}


def _drain_planner(conn) -> None:
    for _ in range(1000):
        if caught_up(conn):
            return
        outbox.plan_pending(conn, now=datetime.now(UTC), sms=False, actor="test-notifier")
    raise AssertionError("the planner did not catch up")


def test_an_event_that_cannot_be_planned_holds_back_no_other(services_up, register,
                                                            make_engine, conn) -> None:
    bad, good = unique("ward"), unique("ward")
    regs = {w: register(ward_id=w) for w in (bad, good)}
    for w in (bad, good):
        name = unique("t1")
        add_person(conn, name, email_address=f"{name}@ward.test")
        put_on_call(conn, w, 1, name)
    conn.execute("UPDATE wards SET time_zone = 'Mars/Olympus_Mons' WHERE ward_id = %s", (bad,))
    _drain_planner(conn)  # what earlier tests left
    t0 = datetime.now(UTC).replace(microsecond=0)
    for w in (bad, good):  # the bad ward's event first
        send_set(conn, regs[w].patient_id, regs[w].device_id, t0 - timedelta(minutes=1), **URGENT)
        make_engine(w).drain(t0)
    _drain_planner(conn)
    [(bad_alert, *_)] = [a for a in alerts_of(conn, regs[bad].patient_id) if a[1] == "news2"]
    [(good_alert, *_)] = [a for a in alerts_of(conn, regs[good].patient_id) if a[1] == "news2"]
    assert notifications_of(conn, [bad_alert]) == []
    assert [r[2] for r in notifications_of(conn, [good_alert])] == ["email"]
    [failed] = [a for a in alerts_of(conn, regs[bad].patient_id)
                if a[1] == "notification_failed"]
    assert failed[2:4] == ("urgent", "open")
    assert f"Alert {bad_alert} (urgent news2 opened) was not notified: could not plan" in failed[4]
    assert "unknown timezone 'Mars/Olympus_Mons'" in failed[4]
    why = conn.execute("SELECT audience FROM notify_decisions d JOIN alert_events e"
                       " USING (event_id) WHERE e.alert_id = %s", (bad_alert,)).fetchone()[0]
    assert "could not plan" in why
