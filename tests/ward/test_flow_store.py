"""Capacity and flow on the real database (migration 018, ward/flow_store.py):
capacity kept as a history with who and when, the source recorded at
admission and the outcome at discharge through the doors that admit and
discharge today, readmissions refused outside the 30 days, and a month read
back in the ward's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from conftest import unique

from api import admission
from ward import devices, flow, flow_store
from ward.errors import Conflict, NotFound, WardError

pytestmark = [pytest.mark.db]


def _ward(conn, zone="Europe/London") -> str:
    ward_id = unique("wf")
    devices.ensure_ward(conn, ward_id, time_zone=zone)
    return ward_id


def test_capacity_is_a_history_with_who_and_when(conn):
    ward_id = _ward(conn)
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    flow_store.set_capacity(conn, ward_id, 20, valid_from=date(2026, 11, 1), by="ann",
                            reason="opening", now=now - timedelta(days=19))
    flow_store.set_capacity(conn, ward_id, 30, valid_from=date(2026, 11, 16), by="bob",
                            reason="winter", now=now)
    got = flow_store.capacity_changes(conn, ward_id)
    assert [(c.valid_from.day, c.beds, c.set_by, c.reason) for c in got] == [
        (1, 20, "ann", "opening"), (16, 30, "bob", "winter")]
    assert flow_store.current_capacity(conn, ward_id, now) == 30
    assert flow_store.current_capacity(conn, ward_id, datetime(2026, 11, 10, tzinfo=UTC)) == 20
    with pytest.raises(WardError, match="between 0 and"):
        flow_store.set_capacity(conn, ward_id, -1, valid_from=date(2026, 11, 1), by="ann",
                                reason="", now=now)
    with pytest.raises(NotFound, match="no ward"):
        flow_store.set_capacity(conn, unique("nowhere"), 5, valid_from=date(2026, 11, 1),
                                by="ann", reason="", now=now)
    with pytest.raises(psycopg.errors.CheckViolation):  # the table's own guard
        conn.execute("INSERT INTO ward_capacity (ward_id, valid_from, beds, set_by)"
                     " VALUES (%s, '2026-11-01', 5, ' ')", (ward_id,))


def test_a_month_from_admissions_and_discharges_with_sources_and_outcomes(conn):
    ward_id = _ward(conn)
    # 10:00 UTC: the three admissions fall on one day of London's calendar.
    t0 = (datetime.now(UTC) - timedelta(days=40)).replace(hour=10, minute=0, second=0,
                                                           microsecond=0)
    month_text = f"{t0:%Y-%m}"
    a, b, c = unique("pa"), unique("pb"), unique("pc")
    admission.admit(conn, a, ward_id, None, now=t0, source="step-up")
    admission.admit(conn, b, ward_id, None, now=t0 + timedelta(hours=1), source="step-down")
    admission.admit(conn, c, ward_id, None, now=t0 + timedelta(hours=2))
    admission.discharge(conn, a, by="ann", note="", now=t0 + timedelta(hours=3), outcome="home")
    admission.discharge(conn, b, by="ann", note="", now=t0 + timedelta(days=2),
                        outcome="hospital")
    # A patient admitted by `vward device add` gets their source afterwards, once.
    flow_store.record_source(conn, c, "step-down")
    flow_store.record_source(conn, c, "step-down")
    with pytest.raises(Conflict, match="admitted step-down"):
        flow_store.record_source(conn, c, "step-up")
    with pytest.raises(WardError, match="step-up or step-down"):
        flow_store.record_source(conn, c, "ambulance")
    m = flow_store.load_month(conn, ward_id, month_text, now=datetime.now(UTC))
    assert {s.patient_id: (s.source, s.outcome) for s in m.admitted} == {
        a: ("step-up", "home"), b: ("step-down", "hospital"), c: ("step-down", None)}
    day = next(d for d in m.days if d.day == flow.local_day(t0, flow_store.load_zone(
        conn, ward_id)))
    assert (day.admissions, day.patients) == (3, 3)
    assert flow.sources(m)[:2] == [("step-up", 1), ("step-down", 2)]


def test_readmissions_within_30_days_only_after_a_discharge_home(conn):
    ward_id = _ward(conn)
    now = datetime.now(UTC)
    gone = now - timedelta(days=35)
    home, dead, still = unique("ph"), unique("pd"), unique("ps")
    for p in (home, dead, still):
        admission.admit(conn, p, ward_id, None, now=gone - timedelta(days=3))
    admission.discharge(conn, home, by="ann", note="", now=gone, outcome="home")
    admission.discharge(conn, dead, by="ann", note="", now=gone, outcome="died")
    out = flow.local_day(gone, flow_store.load_zone(conn, ward_id))
    with pytest.raises(WardError, match="31 days after"):
        flow_store.record_readmission(conn, home, out + timedelta(days=31), by="cat", now=now)
    with pytest.raises(WardError, match="died"):
        flow_store.record_readmission(conn, dead, out, by="cat", now=now)
    with pytest.raises(Conflict, match="still on the ward"):
        flow_store.record_readmission(conn, still, out, by="cat", now=now)
    with pytest.raises(NotFound):
        flow_store.record_readmission(conn, unique("nobody"), out, by="cat", now=now)
    flow_store.record_readmission(conn, home, out + timedelta(days=30), by="cat", now=now)
    with pytest.raises(Conflict, match="recorded already"):
        flow_store.record_readmission(conn, home, out + timedelta(days=2), by="cat", now=now)
    m = flow_store.load_month(conn, ward_id, f"{out:%Y-%m}", now=now)
    assert flow.readmissions(m, flow_store.load_zone(conn, ward_id)) == 1
