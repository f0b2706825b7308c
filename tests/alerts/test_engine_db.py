"""The alerts engine against the real TimescaleDB, driven in-process with an injected clock."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from engine_fixtures import (
    HIGH,
    admit,
    alerts_of,
    base_time,
    events_of,
    minutes,
    scores_of,
    send,
    unique,
)

from alerts import clinician, store
from alerts.rescore import rescore
from ward import clinical

pytestmark = pytest.mark.db




def queued(conn, patient: str):
    return conn.execute("SELECT since, claimed_by FROM score_queue WHERE patient_id = %s",
                        (patient,)).fetchone()


def news2_events(conn, patient: str) -> list[str]:
    return [ev[1] for ev in events_of(conn, patient) if ev[0] == "news2"]


def news2_alerts(conn, patient: str) -> list[tuple]:
    return [a for a in alerts_of(conn, patient) if a[1] == "news2"]


def test_readings_become_a_score_and_an_alert_with_its_reason(
        services_up, conn, make_engine) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    send(conn, p, d, t0 - minutes(1), **HIGH)
    e = make_engine(ward)
    assert e.drain(t0) == 1
    [score] = scores_of(conn, p)
    assert score[1:6] == (7, "high", True, [], [3, 2, 2, 0, 0, 0, 0])
    [alert] = alerts_of(conn, p)
    assert alert[1:4] == ("news2", "emergency", "open")
    assert alert[4].startswith("NEWS2 7 (high) at ") and "RR 26 scores 3" in alert[4]
    assert "SpO2 93 on oxygen scores 2+2" in alert[4]
    assert [ev[:4] for ev in events_of(conn, p)] == [("news2", "opened", "emergency", e.engine_id)]
    assert queued(conn, p) is None  # the watermark moved in the same transaction
    send(conn, p, d, t0, respiratory_rate=25, spo2=93, on_oxygen=1)
    e.drain(t0)
    assert len(alerts_of(conn, p)) == 1 and len(events_of(conn, p)) == 1  # no duplicate


def test_escalation_and_resolution_by_the_clock(services_up, conn, make_engine) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    send(conn, p, d, t0, **HIGH)
    e = make_engine(ward)
    e.drain(t0)
    e.tick(t0 + minutes(4.9))
    assert news2_events(conn, p) == ["opened"]
    e.tick(t0 + minutes(5))
    assert news2_events(conn, p) == ["opened", "escalated"]
    [(alert_id, *_)] = alerts_of(conn, p)
    clinician.acknowledge(conn, alert_id, by="Dr Test", now=t0 + minutes(6), via="cli")
    e.tick(t0 + minutes(20))  # acknowledged: no more escalation
    send(conn, p, d, t0 + minutes(21))  # all normal: the hold starts at 21 (measurement time)
    e.drain(t0 + minutes(22))
    e.tick(t0 + minutes(50.9))
    assert news2_alerts(conn, p)[0][3] == "acknowledged"
    e.tick(t0 + minutes(51))
    assert news2_alerts(conn, p) == []
    assert news2_events(conn, p) == ["opened", "escalated", "acknowledged", "resolved"]
    resolved = next(ev for ev in events_of(conn, p) if ev[:2] == ("news2", "resolved"))
    assert "clear since" in resolved[4] and resolved[3] == e.engine_id


def test_backlog_a_cleared_high_episode_is_retrospective_and_one_that_holds_is_live(
        services_up, conn, make_engine) -> None:
    ward = unique("ward")
    [(cleared, d1), (holding, d2)] = admit(services_up, ward, 2)
    t0 = base_time()
    for k in range(12):  # a device back after 3 hours offline uploads its backlog
        t = t0 - minutes(180 - 15 * k)
        send(conn, cleared, d1, t, **(HIGH if k < 4 else {}))
        send(conn, holding, d2, t, **(HIGH if k >= 10 else {}))
    make_engine(ward).drain(t0)
    # Hazard 4: the high episode that had cleared before anyone heard of it is not
    # dropped: a retrospective alert (urgent) names its times and values for review.
    [(_, kind, severity, state, reason, _)] = alerts_of(conn, cleared)
    assert (kind, severity, state) == ("retrospective", "urgent", "open")
    first, last = t0 - minutes(180), t0 - minutes(135)
    assert f"from {first:%Y-%m-%d %H:%M}Z to {last:%Y-%m-%d %H:%M}Z" in reason
    assert "NEWS2 7 (high)" in reason and "RR 26 scores 3" in reason
    # High for the last 30 min: the band, the rise from 0 and SpO2 97 -> 93 all hold.
    assert [a[1:3] for a in alerts_of(conn, holding)] == [
        ("news2", "emergency"), ("score_rising", "low"), ("spo2_falling", "low")]
    assert len(scores_of(conn, cleared)) == 12


def test_late_reading_rewrites_the_basis_and_is_reconciled(services_up, conn, make_engine) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    send(conn, p, d, t0 - minutes(60), temperature=39.5)  # scores 2
    send(conn, p, d, t0 - minutes(10), temperature=None, respiratory_rate=22,
         heart_rate=95)  # 2 + 1 + the stale 39.5's 2 = 5: medium
    e = make_engine(ward)
    e.drain(t0)
    assert [a[1:3] for a in news2_alerts(conn, p)] == [("news2", "urgent")]
    send(conn, p, d, t0 - minutes(20), temperature=37.0)  # late: the fever had passed
    e.drain(t0 + minutes(1))
    # The set that raised it is rescored to 3 (low) on a complete set: the alert falls
    # to low (the band asks a nurse's assessment), recorded, nobody paged.
    assert news2_events(conn, p) == ["opened", "reconciled", "updated"]
    reconciled = next(ev for ev in events_of(conn, p) if ev[1] == "reconciled")[4]
    assert "was 5 (medium), now 3 (low)" in reconciled
    assert [a[2:4] for a in news2_alerts(conn, p)] == [("low", "open")]


def test_requeued_while_scoring_is_kept_and_claims_survive_a_crash(
        services_up, conn, make_engine) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    send(conn, p, d, t0 - minutes(5))
    a = make_engine(ward, claim_for=timedelta(seconds=60))
    [c] = store.claim(a.conn, a.engine_id, 10, a.claim_for, a.wards)
    assert queued(conn, p)[1] == a.engine_id
    send(conn, p, d, t0 - minutes(2))  # arrives while the engine scores
    with a.conn.transaction():
        a.score([c.patient_id], [c.since], t0)
        assert store.finish(a.conn, a.engine_id, [c]) == 0
    assert queued(conn, p) == (t0 - minutes(2), None)  # only what came after the claim
    # Claimed, then the engine dies: a successor with another id waits for the claim to
    # expire; the same engine restarted takes its own claims back at once.
    b = make_engine(ward)
    store.claim(a.conn, a.engine_id, 10, a.claim_for, a.wards)
    assert b.drain(t0) == 0
    restarted = make_engine(ward, engine_id=a.engine_id)
    assert restarted.drain(t0) == 1
    assert queued(conn, p) is None and len(scores_of(conn, p)) == 2


def test_two_engines_never_handle_one_patient_twice(services_up, conn, make_engine) -> None:
    ward = unique("ward")
    patients = admit(services_up, ward, 40)
    t0 = base_time()
    for p, d in patients:
        send(conn, p, d, t0 - minutes(1), **HIGH)
    engines = [make_engine(ward, batch=3) for _ in range(2)]
    claimed: Counter = Counter()
    original = store.claim

    def counting(*args, **kw):
        got = original(*args, **kw)
        claimed.update(c.patient_id for c in got)
        return got

    store.claim = counting
    try:
        threads = [threading.Thread(target=e.drain, args=(t0,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        store.claim = original
    assert sum(e.counts["patients"] for e in engines) == 40
    assert all(e.counts["patients"] > 0 for e in engines)
    assert set(claimed.values()) == {1}
    opened = conn.execute(
        "SELECT count(*) FROM alert_events JOIN alerts USING (alert_id) WHERE ward_id = %s"
        " AND event = 'opened'", (ward,)).fetchone()[0]
    assert opened == 40


def test_tick_raises_overdue_device_offline_and_battery_low(services_up, conn, make_engine) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward, kind="oximeter")
    t0 = base_time()
    send(conn, p, d, t0 - minutes(31), respiratory_rate=21, heart_rate=95, spo2=95)  # 2+1+1=4
    conn.execute("INSERT INTO device_status (time, device_id, online, battery, raw)"
                 " VALUES (%s, %s, true, 12, '{}')", (t0 - minutes(31), d))
    e = make_engine(ward)
    e.drain(t0)
    e.tick(t0)
    assert {a[1] for a in alerts_of(conn, p)} == {"news2", "device_offline", "battery_low"}
    e.tick(t0 + minutes(4 * 60 - 30))  # band low: a complete set every 4 h
    kinds = {a[1]: a for a in alerts_of(conn, p)}
    assert set(kinds) == {"news2", "device_offline", "battery_low", "overdue"}
    assert kinds["overdue"][4].endswith("needs one every 4 h") and "the low band" in \
        kinds["overdue"][4]
    assert kinds["device_offline"][5] == d and "silent since" in kinds["device_offline"][4]
    send(conn, p, d, t0 + minutes(4 * 60 - 28))
    e.drain(t0 + minutes(4 * 60 - 27))
    e.tick(t0 + minutes(4 * 60 - 27))
    e.tick(t0 + minutes(4 * 60 - 26))  # no hold for overdue
    assert "overdue" not in {a[1] for a in alerts_of(conn, p)}


def test_a_device_assigned_back_in_time_is_silent_only_from_its_registration(
        services_up, conn, make_engine) -> None:
    ward = unique("ward")
    # Registered now, assigned from 5 h ago (a simulated ward, a backlog to come).
    [(p, _)] = admit(services_up, ward, kind="oximeter",
                     admitted=datetime.now(UTC) - timedelta(hours=5))
    e = make_engine(ward)
    e.tick(datetime.now(UTC) + minutes(5))
    assert "device_offline" not in {a[1] for a in alerts_of(conn, p)}
    e.tick(datetime.now(UTC) + minutes(31))  # two missed 15-min reports since registration
    assert "device_offline" in {a[1] for a in alerts_of(conn, p)}


def test_spo2_scale_setting_rescored_from_the_change(services_up, conn, make_engine) -> None:
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    send(conn, p, d, t0 - minutes(10), spo2=89)  # scale 1: 3 -> low-medium
    e = make_engine(ward)
    e.drain(t0)
    assert [a[1:3] for a in news2_alerts(conn, p)] == [("news2", "urgent")]
    clinical.set_spo2_scale(conn, p, 2, by="Dr Test", reason="COPD, target 88-92 %",
                            now=t0 - minutes(5))
    e.drain(t0)
    totals = [(s[1], s[7]) for s in scores_of(conn, p)]
    assert totals == [(3, 1), (0, 2)]  # a score at the change, on scale 2
    e.tick(t0 + minutes(30))
    assert news2_alerts(conn, p) == []


def test_a_patient_that_cannot_be_scored_does_not_stop_the_others(services_up, conn, make_engine,
                                                                  monkeypatch, caplog) -> None:
    ward = unique("ward")
    [(bad, d1), (good, d2)] = admit(services_up, ward, 2)
    t0 = base_time()
    send(conn, bad, d1, t0 - minutes(1))
    send(conn, good, d2, t0 - minutes(1))
    from alerts import engine as engine_module

    real = engine_module.score_rows

    def failing(obs, settings, since, now, freshness, seed=None):
        if len(since) > 1 or bad in failing.ids:
            raise RuntimeError("a bug that only this patient's data shows")
        return real(obs, settings, since, now, freshness, seed)

    failing.ids = set()
    monkeypatch.setattr(engine_module, "score_rows", failing)
    e = make_engine(ward)
    original = store.lock_patients

    def remember(c, ids):
        failing.ids = set(ids)
        return original(c, ids)

    monkeypatch.setattr(store, "lock_patients", remember)
    assert e.drain(t0) == 2  # and returns: the failed claim is not retried at once
    assert e.counts["failed"] == 1 and "could not be scored" in caplog.text
    assert len(scores_of(conn, good)) == 1 and queued(conn, good) is None
    assert queued(conn, bad)[1] == e.engine_id  # kept, retried when the claim expires


def test_rescore_goes_on_past_a_patient_that_cannot_be_scored(services_up, conn, make_engine,
                                                              monkeypatch, caplog) -> None:
    ward = unique("ward")
    [(bad, d1), (good, d2)] = admit(services_up, ward, 2)
    t0 = base_time()
    send(conn, bad, d1, t0 - minutes(1))
    send(conn, good, d2, t0 - minutes(1))
    from alerts import engine as engine_module

    real = engine_module.score_rows
    locked: list[str] = []

    def failing(obs, settings, since, now, freshness, seed=None):
        if bad in locked:
            raise RuntimeError("a bug that only this patient's data shows")
        return real(obs, settings, since, now, freshness, seed)

    def remember(c, ids):
        locked[:] = ids
        return original(c, ids)

    original = store.lock_patients
    monkeypatch.setattr(engine_module, "score_rows", failing)
    monkeypatch.setattr(store, "lock_patients", remember)
    e = make_engine(ward)
    failed = rescore(e, [bad, good], t0 - minutes(60), t0, chunk=10,
                                   progress=False)
    assert failed == [bad] and e.counts["failed"] == 1 and "could not be scored" in caplog.text
    assert len(scores_of(conn, good)) == 1 and scores_of(conn, bad) == []
