"""Reading-to-alert times on the ward figures page count from the time the ward
RECEIVED the reading (observations.received_at), not from the device's stamp
(issue 13, item 6): a device whose clock runs ahead gave negative minutes.  Real
ingest, the real engine, the real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import unique

import ingest
from alerts.engine import Engine
from dashboard import queries
from ward import db

HIGH = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": True, "systolic_bp": 120,
        "heart_rate": 70, "consciousness": "A", "temperature": 37.0}  # NEWS2 7: high


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_a_device_clock_ahead_gives_a_true_reading_to_alert_time(services_up, register):
    """The oximeter's clock runs 4 min ahead (ingest accepts up to 5 min): its set is
    stamped 4 min after the ward received it.  The engine opens the alert 20 s after
    receipt; the figure says 20 s, where the device's stamp would say minus 3 min 40 s."""
    ward_id = unique("wskew")
    dev = register(ward_id=ward_id)
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    stamped = received + timedelta(minutes=4)
    payload = json.dumps({"id": unique("m"), "readings": [
        {"time": _iso(stamped), "type": k, "value": v} for k, v in HIGH.items()]}).encode()
    with db.connect(services_up, autocommit=True) as conn:
        ingest.prepare_connection(conn)
        done = ingest.DirectIngest(ingest.Limits()).readings(conn, dev.device_id, payload,
                                                             received, kept_as="test")
        assert done.stored == len(HIGH) and not done.refused
        engine = Engine(conn, wards=[ward_id], engine_id=unique("engine"),
                        freshness=timedelta(hours=12))
        engine.drain(received + timedelta(seconds=20))
        opened, condition = conn.execute(
            "SELECT opened_at, condition_time FROM alerts WHERE patient_id = %s"
            " AND kind = 'news2'", (dev.patient_id,)).fetchone()
        assert condition == stamped and opened - condition < timedelta(0)  # the old figure
        o = queries.outcomes(conn, ward_id, received - timedelta(days=1),
                             received + timedelta(hours=1))
    [news2] = [s for s in o.reading_to_alert if s.group == "news2"]
    assert news2.n == 1 and news2.p50 == pytest.approx(20) and news2.p5 >= 0


def test_the_sample_wards_figure_counts_from_receipt(services_up):
    """The demo's ward (dashboard/sample.py) shows the figure: its devices' readings
    reach the ward 10 s after the last set, and its live alerts open after that."""
    from dashboard import sample

    now = datetime.now(UTC)
    ward_id = unique("wsample")
    with db.connect(services_up, autocommit=True) as conn:
        sample.build_ward(conn, now=now, ward_id=ward_id, prefix=unique("s"))
        o = queries.outcomes(conn, ward_id, now - timedelta(days=7), now + timedelta(hours=1))
    assert o.reading_to_alert and all(s.p5 >= 0 for s in o.reading_to_alert)
    assert sum(s.n for s in o.reading_to_alert) >= 5
