"""The engine on protocol wards, its clock driven by the test (the MQTT path:
test_protocol_wards.py): a protocol alert escalates at the tick like a NEWS2
one, a silent patient is overdue by the protocol's monitoring, and a reading
the rules refuse (corrupt data; ingest never stores one) stops only its own
patient, never the tick of the rest (hazard log H63)."""

from __future__ import annotations

import pytest
from engine_fixtures import admit, alerts_of, base_time, minutes, unique

from ward import protocol_store, score_queue

pytestmark = [pytest.mark.db]


def _store(conn, patient: str, device: str, readings: list[tuple]) -> None:
    """Readings as ingest stores them (a test writing past ingest's checks)."""
    with conn.transaction():
        conn.cursor().executemany(
            "INSERT INTO observations (time, patient_id, device_id, type, value)"
            " VALUES (%s, %s, %s, %s, %s)", [(t, patient, device, k, v) for t, k, v in readings])
        score_queue.enqueue(conn, [patient], [min(r[0] for r in readings)])


def test_protocol_alerts_escalate_overdue_follows_and_bad_data_stops_one(
        services_up, conn, make_engine) -> None:
    now = base_time()
    covid, hf = unique("wc"), unique("wh")
    protocol_store.add_ward(conn, covid, "covid-oximetry", by="test")
    protocol_store.add_ward(conn, hf, "heart-failure", by="test")
    (red, red_dev), (silent, _) = admit(services_up, covid, 2, admitted=now - minutes(60 * 20))
    (gain, gain_dev), (bad, bad_dev) = admit(services_up, hf, 2, admitted=now - minutes(60 * 72))
    _store(conn, red, red_dev, [(now - minutes(2), "spo2", 91.0)])
    _store(conn, gain, gain_dev, [(now - minutes(60 * 25), "body_weight", 80.0),
                                  (now - minutes(60), "body_weight", 81.2)])
    _store(conn, bad, bad_dev, [(now - minutes(60), "body_weight", 0.05)])  # not a weight

    for ward in (covid, hf):
        make_engine(ward).drain(now)
    kinds = {k: s for _, k, s, *_ in alerts_of(conn, red)}
    assert kinds == {"spo2_level": "emergency", "news2": "urgent"}  # SpO2 91 scores 3 too
    assert ("weight_gain", "urgent") in [(k, s) for _, k, s, *_ in alerts_of(conn, gain)]
    assert conn.execute("SELECT failures FROM scoring_failures WHERE patient_id = %s",
                        (bad,)).fetchone() == (1,)

    # Six minutes on, nobody has acknowledged the emergency: the tick notifies again.
    for ward in (covid, hf):
        assert make_engine(ward).tick(now + minutes(6)) >= 0
    (alert_id, *_), = [a for a in alerts_of(conn, red) if a[1] == "spo2_level"]
    events = [e for (e,) in conn.execute("SELECT event FROM alert_events WHERE alert_id = %s"
                                          " ORDER BY event_id", (alert_id,)).fetchall()]
    assert events == ["opened", "escalated"]
    # NEWS2 saw a red parameter (low-medium: hourly sets) and no complete set ever came:
    # overdue by NEWS2's rule, urgent, though the SpO2 itself is 8 min old.
    overdue = {k: (s, r) for _, k, s, _, r, _ in alerts_of(conn, red)}["overdue"]
    assert overdue[0] == "urgent" and "low-medium" in overdue[1]
    # Red and silent for more than 15 min: as urgent as red.
    make_engine(covid).tick(now + minutes(20))
    overdue = {k: (s, r) for _, k, s, _, r, _ in alerts_of(conn, red)}["overdue"]
    assert overdue[0] == "emergency" and "needed every 15 min at red" in overdue[1]
    # Never read since admission 20 h ago: overdue by green's 13 h, low.
    assert [(k, s) for _, k, s, *_ in alerts_of(conn, silent)] == [("overdue", "low")]
    # The weight of 0.05 kg stopped nobody else's tick; its own patient is judged by NEWS2.
    assert "weight_gain" not in [a[1] for a in alerts_of(conn, bad)]


def test_a_ward_changed_back_to_news2_lets_its_protocol_alerts_resolve(
        services_up, conn, make_engine) -> None:
    now = base_time()
    ward = unique("wc")
    protocol_store.add_ward(conn, ward, "covid-oximetry", by="test")
    ((patient, device),) = admit(services_up, ward, 1)
    _store(conn, patient, device, [(now - minutes(1), "spo2", 94.0)])
    e = make_engine(ward)
    e.drain(now)
    assert "spo2_level" in [a[1] for a in alerts_of(conn, patient)]
    protocol_store.set_protocol(conn, ward, "news2", by="test")
    e.tick(now + minutes(1))
    e.tick(now + minutes(32))  # clear for the 30 min hold
    assert "spo2_level" not in [a[1] for a in alerts_of(conn, patient)]
    assert "news2" in [a[1] for a in alerts_of(conn, patient)]  # SpO2 94 still scores 1
