"""The re-measure gate in the engine against the real TimescaleDB, on an injected
clock: what never waits (emergency, a patch, a ward that does not ask, a set from
two devices), what an emergency does to a pending request, a discharge, and the
engine's tick opening the held alert at the deadline."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from conftest import ROOT, service_env
from engine_fixtures import admit, alerts_of, base_time, minutes, send, unique

from ward import devices

pytestmark = pytest.mark.db


def _ward(conn, *, allowed: bool = True) -> str:
    ward = unique("ward")
    conn.execute("INSERT INTO wards (ward_id, name, remeasure_allowed) VALUES (%s, %s, %s)",
                 (ward, ward, allowed))
    return ward


def _patient(services_up, conn, ward: str, kind: str) -> tuple[str, str, str]:
    """(patient, its tablet, its device of ``kind``), a normal set from the tablet an
    hour before base_time."""
    since = base_time() - timedelta(days=2)
    [(p, tablet)] = admit(services_up, ward, kind="tablet", admitted=since)
    device = unique("dev")
    devices.register_devices(conn, [devices.NewDevice(device, p, ward, kind)], valid_from=since)
    send(conn, p, tablet, base_time() - minutes(60))
    return p, tablet, device


def _spot(conn, p: str, device: str, t, **values: float) -> None:
    """Only ``values`` from ``device`` at ``t`` (a spot check's set)."""
    send(conn, p, device, t, **{k: None for k in ("respiratory_rate", "spo2", "on_oxygen",
                                                  "systolic_bp", "heart_rate",
                                                  "consciousness", "temperature")} | values)


def _requests(conn, p: str) -> list[tuple]:
    return conn.execute("SELECT outcome, device_id, types FROM remeasure_requests"
                        " WHERE patient_id = %s ORDER BY request_id", (p,)).fetchall()


def _opened(conn, p: str) -> int:
    return conn.execute("SELECT count(*) FROM alert_events e JOIN alerts a USING (alert_id)"
                        " WHERE a.patient_id = %s AND e.event = 'opened'", (p,)).fetchone()[0]


def _news2(conn, p: str) -> list[tuple]:
    return [a for a in alerts_of(conn, p) if a[1] == "news2"]


def test_a_ward_that_does_not_ask_opens_the_urgent_alert_at_once(services_up, conn,
                                                                 make_engine) -> None:
    ward = _ward(conn, allowed=False)
    p, _, ox = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), spo2=91, heart_rate=80)
    e.drain(base_time() + minutes(1))
    assert [a[2] for a in _news2(conn, p)] == ["urgent"]
    assert _requests(conn, p) == []


def test_an_emergency_never_waits(services_up, conn, make_engine) -> None:
    ward = _ward(conn)
    p, tablet, _ = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    # The tablet alone: RR 26 (3), responds to voice (3), on oxygen (2): 8, high.
    _spot(conn, p, tablet, base_time(), respiratory_rate=26, consciousness=2, on_oxygen=1)
    e.drain(base_time() + minutes(1))
    assert [a[2] for a in _news2(conn, p)] == ["emergency"]
    assert _requests(conn, p) == []


def test_a_continuous_device_never_waits(services_up, conn, make_engine) -> None:
    ward = _ward(conn)
    p, _, patch = _patient(services_up, conn, ward, "patch")
    e = make_engine(ward)
    _spot(conn, p, patch, base_time(), respiratory_rate=26, heart_rate=80)  # RR 26: red
    e.drain(base_time() + minutes(1))
    assert [a[2] for a in _news2(conn, p)] == ["urgent"]
    assert _requests(conn, p) == []


def test_a_set_from_two_devices_at_once_is_no_single_spot_check(services_up, conn,
                                                                 make_engine) -> None:
    ward = _ward(conn)
    p, tablet, ox = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), spo2=91)
    _spot(conn, p, tablet, base_time(), respiratory_rate=16)
    e.drain(base_time() + minutes(1))
    assert [a[2] for a in _news2(conn, p)] == ["urgent"]
    assert _requests(conn, p) == []


def test_an_emergency_while_waiting_opens_at_once(services_up, conn, make_engine) -> None:
    ward = _ward(conn)
    p, tablet, ox = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), spo2=91, heart_rate=80)
    e.drain(base_time() + minutes(1))
    assert _news2(conn, p) == [] and _requests(conn, p)[0][0] is None
    _spot(conn, p, tablet, base_time() + minutes(2), respiratory_rate=26, consciousness=1)
    e.drain(base_time() + minutes(3))
    [alert] = _news2(conn, p)
    assert alert[2] == "emergency"
    assert "the score reached emergency before any answer" in alert[4]
    assert _requests(conn, p)[0][0] == "superseded"


def test_at_the_deadline_the_tick_opens_the_held_alert(services_up, conn, make_engine) -> None:
    ward = _ward(conn)
    p, _, ox = _patient(services_up, conn, ward, "thermometer")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), temperature=34.9)  # 3: low-medium
    e.drain(base_time() + minutes(1))
    assert _requests(conn, p) == [(None, ox, ["temperature"])]
    e.tick(base_time() + minutes(10.9))
    assert _news2(conn, p) == []
    assert e.counts["event:opened"] == _opened(conn, p)  # its log counts what it wrote
    e.tick(base_time() + minutes(11))  # asked at 1 min, deadline 10 min
    [alert] = _news2(conn, p)
    assert alert[2] == "urgent" and "no answer by the deadline" in alert[4]
    assert e.counts["event:opened"] == _opened(conn, p)
    assert _requests(conn, p)[0][0] == "unanswered"


def test_a_second_urgent_score_within_the_hour_opens_at_once(services_up, conn,
                                                              make_engine) -> None:
    ward = _ward(conn)
    p, _, ox = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), spo2=91, heart_rate=80)
    e.drain(base_time() + minutes(1))
    _spot(conn, p, ox, base_time() + minutes(2), spo2=97, heart_rate=80)  # not confirmed
    e.drain(base_time() + minutes(3))
    assert _news2(conn, p) == [] and _requests(conn, p)[0][0] == "not_confirmed"
    _spot(conn, p, ox, base_time() + minutes(20), spo2=91, heart_rate=80)
    e.drain(base_time() + minutes(21))
    assert [a[2] for a in _news2(conn, p)] == ["urgent"]
    assert len(_requests(conn, p)) == 1


def test_a_patient_discharged_while_waiting_is_cancelled(services_up, conn, make_engine) -> None:
    ward = _ward(conn)
    p, _, ox = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), spo2=91, heart_rate=80)
    e.drain(base_time() + minutes(1))
    conn.execute("UPDATE patients SET discharged_at = %s WHERE patient_id = %s",
                 (base_time() + minutes(2), p))
    e.tick(base_time() + minutes(20))
    assert _news2(conn, p) == []
    assert _requests(conn, p)[0][0] == "cancelled"


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], env=service_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_vward_remeasure_sets_a_wards_protocol_and_lists_what_came_of_each(
        services_up, conn, make_engine) -> None:
    ward = _ward(conn, allowed=False)
    done = _vward(services_up, "remeasure", "set", ward, "--allowed", "yes", "--deadline", "5m")
    assert done.returncode == 0, done.stderr
    assert "waits up to 5 min" in done.stdout
    assert conn.execute("SELECT remeasure_allowed, remeasure_deadline FROM wards"
                        " WHERE ward_id = %s", (ward,)).fetchone() == (True, timedelta(minutes=5))
    too_long = _vward(services_up, "remeasure", "set", ward, "--allowed", "yes", "--deadline",
                      "20m")
    assert too_long.returncode == 2 and "at most 15 min" in too_long.stderr
    missing = _vward(services_up, "remeasure", "show", unique("ward"))
    assert missing.returncode == 2 and "no ward" in missing.stderr
    p, _, ox = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), spo2=91, heart_rate=80)
    e.drain(base_time() + minutes(1))
    listed = _vward(services_up, "remeasure", "list", "--patient", p)
    assert listed.returncode == 0
    assert f"{p} {ox} [heart_rate, spo2] NEWS2 3: waiting" in listed.stdout


def test_unanswered_opens_the_held_alert_even_when_other_readings_lowered_the_score(
        services_up, conn, make_engine) -> None:
    """The asked device never answers; the tablet's normal set meanwhile takes the
    score below urgent.  At the deadline the held alert opens as it would have (its
    score and words, saying nobody answered), then clears by the lifecycle's hold."""
    ward = _ward(conn)
    p, tablet, ox = _patient(services_up, conn, ward, "oximeter")
    e = make_engine(ward)
    _spot(conn, p, ox, base_time(), spo2=91, heart_rate=80)
    e.drain(base_time() + minutes(1))
    send(conn, p, tablet, base_time() + minutes(3), spo2=97)  # a complete, normal set
    e.drain(base_time() + minutes(4))
    assert _news2(conn, p) == [] and _requests(conn, p)[0][0] is None
    e.tick(base_time() + minutes(11))
    [alert] = _news2(conn, p)
    assert alert[2:4] == ("urgent", "open")
    assert alert[4].startswith("NEWS2 3 (low-medium)") and "no answer by the deadline" in alert[4]
    assert _requests(conn, p)[0][0] == "unanswered"
    assert conn.execute("SELECT alert_id FROM remeasure_requests WHERE patient_id = %s",
                        (p,)).fetchone()[0] == alert[0]
    e.tick(base_time() + minutes(12))
    e.tick(base_time() + minutes(45))  # clear since the 3-minute set, held 30 min
    assert _news2(conn, p) == []
