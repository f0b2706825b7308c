"""The clinical-safety findings of issue 8, each reproduced through the real engine and
database with an injected clock (docs/safety/hazard-log.md names these tests)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from engine_fixtures import HIGH, admit, alerts_of, base_time, events_of, minutes, send, unique

from alerts import clinician, store
from ward import clinical

pytestmark = pytest.mark.db




def live(conn, patient: str) -> dict[str, tuple]:
    """kind -> (severity, state, reason) of the patient's live alerts."""
    return {a[1]: (a[2], a[3], a[4]) for a in alerts_of(conn, patient)}


def kind_events(conn, patient: str, kind: str) -> list[str]:
    return [e[1] for e in events_of(conn, patient) if e[0] == kind]


def spo2_only(conn, p: str, d: str, t, value: float = 97) -> None:
    send(conn, p, d, t, respiratory_rate=None, on_oxygen=None, systolic_bp=None,
         heart_rate=None, consciousness=None, temperature=None, spo2=value)


def test_a_red_score_never_remeasured_stays_alerted_for_a_day(
        services_up, conn, make_engine) -> None:
    """Hazard 1, the issue's example: a full set with RR 26 (3, low-medium) at 00:00,
    then only SpO2 every 15 min.  Before: complete until 12:00, RR aged out at 12:15,
    the alert resolved at 12:46 and the next overdue came on the zero band's 12 h.
    Now the alert holds (an aged-out value is no improvement) and overdue fires after
    the low-medium band's hour, as urgent."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time() - minutes(26 * 60)
    e = make_engine(ward)
    send(conn, p, d, t0, respiratory_rate=26)
    e.drain(t0)
    e.tick(t0)
    assert live(conn, p)["news2"][:2] == ("urgent", "open")
    overdue_at = None
    for k in range(1, 4 * 25):  # 25 hours of SpO2 every 15 min
        t = t0 + minutes(15 * k)
        spo2_only(conn, p, d, t)
        e.drain(t + timedelta(seconds=30))
        e.tick(t + timedelta(seconds=30))
        now = live(conn, p)
        assert now["news2"][0] == "urgent", f"news2 alert lost at +{15 * k} min: {now}"
        if overdue_at is None and "overdue" in now:
            overdue_at = 15 * k
            assert now["overdue"][0] == "urgent"
    assert overdue_at == 60  # its tick is 30 s past the hour: 1 h after the set's oldest value
    assert "resolved" not in kind_events(conn, p, "news2")
    assert live(conn, p)["news2"][2].startswith("NEWS2 3 (low-medium)")  # why it fired
    renotified = [e[4] for e in events_of(conn, p) if e[:2] == ("news2", "escalated")][-1]
    assert "the low-medium band since the last complete set stands until a complete set" \
        in renotified


def test_silence_after_a_high_score_is_an_emergency_overdue_after_15_min(
        services_up, conn, make_engine) -> None:
    """Hazard 1: the overdue interval and severity follow the highest band since the
    last complete set."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    e = make_engine(ward)
    send(conn, p, d, t0, **HIGH)
    e.drain(t0)
    e.tick(t0 + minutes(15))
    assert "overdue" not in live(conn, p)
    e.tick(t0 + minutes(15.5))
    assert live(conn, p)["overdue"][:2] == ("emergency", "open")
    assert "the high band" in live(conn, p)["overdue"][2]


def test_one_reassuring_partial_reading_after_a_high_score_resolves_nothing(
        services_up, conn, make_engine) -> None:
    """Hazard 1: a partial reading 20 min after a high set, then silence for 3 h."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time() - minutes(200)
    e = make_engine(ward)
    send(conn, p, d, t0, **HIGH)
    e.drain(t0)
    send(conn, p, d, t0 + minutes(20), spo2=98, on_oxygen=0, respiratory_rate=16,
         systolic_bp=None, heart_rate=None, consciousness=None, temperature=None)
    e.drain(t0 + minutes(21))
    for m in range(25, 200, 5):
        e.tick(t0 + minutes(m))
    now = live(conn, p)
    assert now["news2"][0] == "emergency" and now["overdue"][0] == "emergency"
    assert kind_events(conn, p, "news2").count("resolved") == 0


def test_a_complete_set_that_no_longer_scores_resolves_after_the_hold(
        services_up, conn, make_engine) -> None:
    """Hazard 1's way out: a measured complete set (every value within high's 15 min)
    that no longer scores clears the alert, held 30 min."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time() - minutes(60)
    e = make_engine(ward)
    send(conn, p, d, t0, **HIGH)
    e.drain(t0)
    send(conn, p, d, t0 + minutes(10))  # a full normal set
    e.drain(t0 + minutes(11))
    e.tick(t0 + minutes(11))
    e.tick(t0 + minutes(40))
    assert "news2" not in live(conn, p)
    assert kind_events(conn, p, "news2") == ["opened", "resolved"]


def test_an_accepted_range_cannot_silence_a_red_score(services_up, conn, make_engine) -> None:
    """Hazard 2: `accept P heart_rate 30 140` with HR 35 and SBP 85 (true NEWS2 6) gave 0."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    with pytest.raises(clinical.ActionRefused, match="score 3"):
        clinical.set_accepted_range(conn, p, "heart_rate", 30, 140, by="Dr A",
                                    reason="athlete", now=t0 - minutes(30))
    with pytest.raises(clinical.ActionRefused, match=r"scale 2 .* is the only"):
        clinical.set_accepted_range(conn, p, "spo2", 90, 95, by="Dr A", reason="x",
                                    now=t0 - minutes(30))
    clinical.set_accepted_range(conn, p, "heart_rate", 91, 110, by="Dr A",
                                reason="resting tachycardia, on review", now=t0 - minutes(30))
    e = make_engine(ward)
    send(conn, p, d, t0 - minutes(20), heart_rate=105, systolic_bp=85)  # 1 + 3 = 4
    send(conn, p, d, t0 - minutes(10), heart_rate=35, systolic_bp=85)  # 3 + 3 = 6
    e.drain(t0)
    rows = conn.execute(
        "SELECT total, band, adjusted_total, adjusted_band, overridden_parameters FROM scores"
        " WHERE patient_id = %s AND time >= %s ORDER BY time", (p, t0 - minutes(20))).fetchall()
    assert rows == [(4, "low-medium", 3, "low-medium", ["heart_rate"]),
                    (6, "medium", None, None, [])]
    assert live(conn, p)["news2"][0] == "urgent"


def test_settings_history_is_append_only_and_a_range_lapses_with_a_review_alert(
        services_up, conn, make_engine) -> None:
    """Hazard 2: every range has a review date at most 14 days ahead; at it the patient
    is rescored on the standard chart and a review_due alert asks for a review; the
    history cannot be edited."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    with pytest.raises(clinical.ActionRefused, match="at most 14 days"):
        clinical.set_accepted_range(conn, p, "heart_rate", 91, 110, by="Dr A", reason="x",
                                    now=t0 - minutes(60), until=t0 + timedelta(days=15))
    row = clinical.set_accepted_range(conn, p, "heart_rate", 91, 110, by="Dr A",
                                      reason="resting tachycardia", now=t0 - minutes(60),
                                      until=t0 - minutes(5))
    assert row.valid_to == t0 - minutes(5)
    for sql in ("UPDATE setting_records SET high = 200", "DELETE FROM setting_records",
                "UPDATE setting_ends SET ended_by = 'x'"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(sql + " WHERE patient_id = %s" if "records" in sql else sql, (p,)
                         if "records" in sql else None)
    e = make_engine(ward)
    send(conn, p, d, t0 - minutes(30), heart_rate=105)
    e.drain(t0 - minutes(29))
    assert "news2" not in live(conn, p)  # adjusted 0 while the range holds
    e.tick(t0)  # the range lapsed at t0 - 5: rescore from then, and ask for a review
    e.drain(t0)
    e.tick(t0 + timedelta(seconds=5))
    now = live(conn, p)
    assert now["review_due"][0] == "low" and "accepted range pulse 91–110" in now["review_due"][2]
    assert now["news2"][0] == "low"  # pulse 105 scores again: the low band's assessment
    [review] = [a for a in alerts_of(conn, p) if a[1] == "review_due"]
    clinician.resolve(conn, review[0], by="Dr A", now=t0 + minutes(1), note="reviewed, stop it")
    e.tick(t0 + minutes(2))
    assert "review_due" not in live(conn, p)  # reviewed: not raised again


def test_acknowledgement_lapses_and_every_rise_is_notified(services_up, conn, make_engine) -> None:
    """Hazard 3: an emergency acknowledged, falling to urgent and back notifies again; an
    acknowledged emergency that still holds is escalated after 30 min; a new red
    parameter on an acknowledged urgent alert is an event, not a rewritten reason."""
    ward = unique("ward")
    [(p, d), (q, d2)] = admit(services_up, ward, 2)
    t0 = base_time() - minutes(120)
    e = make_engine(ward)
    send(conn, p, d, t0, **HIGH)
    e.drain(t0)
    [(alert_id, *_)] = alerts_of(conn, p)
    clinician.acknowledge(conn, alert_id, by="Nurse B", now=t0 + minutes(2), via="cli")
    send(conn, p, d, t0 + minutes(10), respiratory_rate=26)  # complete, 3: urgent
    e.drain(t0 + minutes(10))
    send(conn, p, d, t0 + minutes(20), **HIGH)  # back to emergency
    e.drain(t0 + minutes(20))
    assert kind_events(conn, p, "news2") == ["opened", "acknowledged", "updated", "escalated"]
    assert live(conn, p)["news2"][:2] == ("emergency", "open")
    clinician.acknowledge(conn, alert_id, by="Nurse B", now=t0 + minutes(21), via="cli")
    send(conn, p, d, t0 + minutes(30), **HIGH)
    e.drain(t0 + minutes(30))
    e.tick(t0 + minutes(50.9))
    assert live(conn, p)["news2"][1] == "acknowledged"
    e.tick(t0 + minutes(51))
    assert live(conn, p)["news2"][1] == "open"
    # Lifted, the acknowledgement says neither who nor how any more (migration 015).
    assert conn.execute("SELECT acknowledged_by, ack_via FROM alerts WHERE alert_id = %s",
                        (alert_id,)).fetchone() == (None, None)
    lapsed = events_of(conn, p)[-1]
    assert lapsed[1] == "escalated" and "Acknowledged 30 min ago and still emergency" in lapsed[4]
    # An acknowledged urgent RR 26 that becomes NEWS2 6 with a second red parameter.
    send(conn, q, d2, t0, respiratory_rate=26)
    e.drain(t0)
    [other] = [a[0] for a in alerts_of(conn, q) if a[1] == "news2"]
    clinician.acknowledge(conn, other, by="Nurse B", now=t0 + minutes(1), via="cli")
    send(conn, q, d2, t0 + minutes(5), respiratory_rate=26, heart_rate=135)  # 3 + 3 = 6
    e.drain(t0 + minutes(5))
    last = [ev for ev in events_of(conn, q) if ev[0] == "news2"][-1]
    assert last[1] == "escalated" and "band rose from low-medium to medium" in last[4]
    assert live(conn, q)["news2"][1] == "open"


def test_an_episode_found_in_late_data_opens_a_retrospective_alert(
        services_up, conn, make_engine) -> None:
    """Hazard 4: an emergency at 02:00 that cleared at 03:00, uploaded at 05:00."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t5 = base_time()
    t2 = t5 - minutes(180)
    for k in range(5):  # 02:00 .. 03:00, the last normal
        send(conn, p, d, t2 + minutes(15 * k), **(HIGH if k < 4 else {}))
    e = make_engine(ward)
    e.drain(t5)
    now = live(conn, p)
    assert set(now) == {"retrospective"}
    severity, state, reason = now["retrospective"]
    assert (severity, state) == ("urgent", "open")
    assert f"from {t2:%Y-%m-%d %H:%M}Z" in reason and "NEWS2 7 (high)" in reason
    assert f"clear at {t2 + minutes(60):%Y-%m-%d %H:%M}Z" in reason
    e.tick(t5 + minutes(16))  # unacknowledged: escalated like any urgent alert
    assert kind_events(conn, p, "retrospective") == ["opened", "escalated"]
    e.tick(t5 + minutes(60 * 24))
    assert "retrospective" in live(conn, p)  # holds until a clinician reviews it
    [alert_id] = [a[0] for a in alerts_of(conn, p) if a[1] == "retrospective"]
    with pytest.raises(clinical.ActionRefused, match="give the reason"):
        clinician.resolve(conn, alert_id, by="Dr C", now=t5 + minutes(60 * 24))
    clinician.resolve(conn, alert_id, by="Dr C", now=t5 + minutes(60 * 24),
                     note="phoned: device fell off, patient well")
    e.tick(t5 + minutes(60 * 24 + 1))
    send(conn, p, d, t5 + minutes(60 * 24 + 2))
    e.drain(t5 + minutes(60 * 24 + 2))
    assert "retrospective" not in live(conn, p)  # reviewed episodes are not raised again


def test_an_alert_resolved_by_hand_while_its_condition_holds_is_back_within_a_tick(
        services_up, conn, make_engine) -> None:
    """Hazard 5."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time()
    e = make_engine(ward)
    send(conn, p, d, t0, **HIGH)
    e.drain(t0)
    [(alert_id, *_)] = alerts_of(conn, p)
    with pytest.raises(clinical.ActionRefused, match="give the reason"):
        clinician.resolve(conn, alert_id, by="Dr D", now=t0 + minutes(1), note="  ")
    clinician.resolve(conn, alert_id, by="Dr D", now=t0 + minutes(1), note="seen")
    assert "news2" not in live(conn, p)
    e.tick(t0 + minutes(1.1))  # no new reading: the clock alone brings it back
    assert live(conn, p)["news2"][:2] == ("emergency", "open")
    assert conn.execute("SELECT count(*) FROM alerts WHERE patient_id = %s AND kind = 'news2'",
                        (p,)).fetchone()[0] == 2


def test_rising_into_the_low_band_prompts_an_assessment_once(
        services_up, conn, make_engine) -> None:
    """Hazard 6: zero -> low opens a low alert; a steady low baseline does not re-alert,
    even after the alert was resolved by hand; back to zero and low again does."""
    ward = unique("ward")
    [(p, d)] = admit(services_up, ward)
    t0 = base_time() - minutes(24 * 60)
    e = make_engine(ward)
    send(conn, p, d, t0)
    e.drain(t0)
    assert "news2" not in live(conn, p)
    send(conn, p, d, t0 + minutes(60), heart_rate=95)  # 1: low
    e.drain(t0 + minutes(60))
    assert live(conn, p)["news2"][:2] == ("low", "open")
    assert "NEWS2 1 (low)" in live(conn, p)["news2"][2]
    [(alert_id, *_)] = alerts_of(conn, p)
    clinician.resolve(conn, alert_id, by="Nurse E", now=t0 + minutes(70))  # low: no reason needed
    for h in range(2, 10):  # a steady low baseline, complete sets every hour
        send(conn, p, d, t0 + minutes(60 * h), heart_rate=95)
        e.drain(t0 + minutes(60 * h))
        e.tick(t0 + minutes(60 * h + 1))
    assert "news2" not in live(conn, p)
    send(conn, p, d, t0 + minutes(600))  # zero on a complete set: the episode ends
    e.drain(t0 + minutes(600))
    send(conn, p, d, t0 + minutes(660), heart_rate=95)
    e.drain(t0 + minutes(660))
    assert live(conn, p)["news2"][:2] == ("low", "open")


def test_three_failures_in_a_row_raise_scoring_failed(services_up, conn, make_engine,
                                                      monkeypatch) -> None:
    """Hazard 7: a patient who cannot be scored is only logged no more."""
    ward = unique("ward")
    [(bad, d1), (good, d2)] = admit(services_up, ward, 2)
    t0 = base_time()
    from alerts import engine as engine_module

    real = engine_module.score_rows

    def failing(obs, settings, since, now, freshness, seed=None):
        if len(since) == 1 and locked == [bad]:
            raise RuntimeError("a bug that only this patient's data shows")
        if len(since) > 1:
            raise RuntimeError("the batch fails with it")
        return real(obs, settings, since, now, freshness, seed)

    locked: list[str] = []
    original = store.lock_patients

    def remember(c, ids):
        locked[:] = ids
        return original(c, ids)

    monkeypatch.setattr(engine_module, "score_rows", failing)
    monkeypatch.setattr(store, "lock_patients", remember)
    e = make_engine(ward)
    for k in range(3):
        send(conn, bad, d1, t0 + minutes(k))
        send(conn, good, d2, t0 + minutes(k))
        # The failed claim is retried when it expires (60 s in service): expire it now.
        conn.execute("UPDATE score_queue SET claimed_until = clock_timestamp()"
                     " - interval '1 s' WHERE patient_id = %s", (bad,))
        e.run_once(t0 + minutes(k))
        e.tick(t0 + minutes(k) + timedelta(seconds=1))
        assert ("scoring_failed" in live(conn, bad)) == (k == 2)
    assert live(conn, bad)["scoring_failed"][0] == "urgent"
    assert "3 times in a row" in live(conn, bad)["scoring_failed"][2]
    assert "scoring_failed" not in live(conn, good)
    monkeypatch.setattr(engine_module, "score_rows", real)
    send(conn, bad, d1, t0 + minutes(4))
    conn.execute("UPDATE score_queue SET claimed_until = clock_timestamp() - interval '1 s'"
                 " WHERE patient_id = %s", (bad,))
    e.drain(t0 + minutes(4))
    e.tick(t0 + minutes(4) + timedelta(seconds=1))
    assert "scoring_failed" not in live(conn, bad)
