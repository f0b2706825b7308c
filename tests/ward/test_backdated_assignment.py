"""`vward device add DEVICE --patient P --from TIME`: a device handed out
before it was registered is assigned from when it was handed out (clinical
safety finding 10).  The real CLI, the real `vward ingest`, the real broker
and database."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from conftest import ROOT, service_env, unique, wait_for

from simulators.device_client import DeviceClient, DeviceError
from ward import broker, db, devices
from ward.broker_names import mqtt_protocol
from ward.errors import Conflict
from ward.times import iso

pytestmark = [pytest.mark.db, pytest.mark.broker]


def vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], env=service_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _device(settings, device_id: str, password: str) -> DeviceClient:
    """Connected as the device; the broker rereads its password file on SIGHUP,
    so a password just issued may need a moment."""
    def attempt():
        try:
            return DeviceClient(host=settings.mqtt_host, port=settings.mqtt_port,
                                protocol=mqtt_protocol(settings), device_id=device_id,
                                password=password).connect()
        except DeviceError:
            return None
    return wait_for(attempt, timeout=10, interval=0.2, what=f"{device_id} connected")


def _reading(t: datetime, value: float = 72) -> dict:
    return {"time": iso(t), "type": "heart_rate", "value": value, "unit": "/min"}


def _assignments(conn, device_id: str) -> list[tuple]:
    return conn.execute(
        "SELECT patient_id, valid_from, valid_to FROM device_assignments WHERE device_id = %s"
        " ORDER BY valid_from", (device_id,)).fetchall()


def _refusals(conn, device_id: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT reason_code, reason FROM rejected_messages WHERE device_id = %s"
        " ORDER BY rejection_id", (device_id,)).fetchall()


@pytest.fixture
def ingest(spawn):
    p = spawn("ingest")
    wait_for(lambda: "connected to" in p.output(), what="ingest connected")
    return p


def test_backdated_assignment_accepts_readings_from_then(services_up, ingest, conn):
    ward, device, previous, patient = unique("ward"), unique("dev"), unique("pat"), unique("pat")
    now = _now()
    # The device went home with another patient, who was discharged 2 h ago:
    # it still has its credentials and no patient.
    with db.connect(services_up) as c:
        old_password = devices.register_devices(
            c, [devices.NewDevice(device, previous, ward)], valid_from=now - timedelta(hours=3)
        )[device]
        devices.unassign_device(c, device, at=now - timedelta(hours=2))
        broker.write_credentials(services_up, devices.password_hashes(c))
    handed_out = now - timedelta(hours=1)

    # Handed out to the new patient an hour ago, not registered yet: refused.
    with _device(services_up, device, old_password) as dev:
        dev.send_readings([_reading(handed_out + timedelta(minutes=10))], message_id="early-1")
    wait_for(lambda: _refusals(conn, device), what="the early reading refused")
    assert _refusals(conn, device)[0][0] == "unassigned_device"

    # Registered an hour late, from when it was handed out.
    done = vward(services_up, "device", "add", device, "--patient", patient, "--ward", ward,
                 "--from", iso(handed_out))
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == (f"device {device} assigned to patient {patient} on ward {ward}"
                      f" from {iso(handed_out)}")
    assert any(line.startswith(f"note: 1 message(s) it sent since {iso(handed_out)} were"
                               " refused") and "must send them again" in line for line in out)
    new_password = out[-1]
    assert conn.execute("SELECT admitted_at FROM patients WHERE patient_id = %s",
                        (patient,)).fetchone() == (handed_out,)
    assert _assignments(conn, device)[-1] == (patient, handed_out, None)

    # The device sends its backlog again, and one reading from before it was
    # handed out (still with the previous patient's discharge behind it).
    sent = {
        handed_out - timedelta(minutes=10): 60,  # before the assignment: refused
        handed_out: 70,  # the assignment's first instant: accepted
        handed_out + timedelta(minutes=10): 72,
        handed_out + timedelta(minutes=40): 74,
        now: 76,
    }
    with _device(services_up, device, new_password) as dev:
        for i, (t, v) in enumerate(sent.items()):
            assert not dev.send_readings([_reading(t, v)], message_id=f"again-{i}").is_failure

    def stored():
        return conn.execute("SELECT time, patient_id, value FROM observations"
                            " WHERE device_id = %s ORDER BY time", (device,)).fetchall()
    wait_for(lambda: len(stored()) == 4, what="4 readings stored")
    assert stored() == [(t, patient, float(v)) for t, v in sent.items() if t >= handed_out]
    wait_for(lambda: len(_refusals(conn, device)) == 2, what="the reading before refused")
    code, reason = _refusals(conn, device)[1]
    assert code == "unassigned_device" and iso(handed_out - timedelta(minutes=10))[:16] in reason
    assert conn.execute("SELECT since FROM score_queue WHERE patient_id = %s",
                        (patient,)).fetchone() == (handed_out,)


def test_a_device_added_late_to_its_patient_can_be_moved_back_to_when_it_was_handed_out(
        services_up, ingest, conn):
    """Registered without --from, then again with it: the assignment now begins
    back then, and the readings of that time are accepted."""
    ward, device, patient = unique("ward"), unique("dev"), unique("pat")
    now = _now()
    with db.connect(services_up) as c:
        devices.register_devices(c, [devices.NewDevice(device, patient, ward)],
                                 valid_from=now - timedelta(hours=2))
    # A second device of the same patient, registered late.
    late = unique("dev")
    assert vward(services_up, "device", "add", late, "--patient", patient,
                 "--ward", ward).returncode == 0
    registered = _assignments(conn, late)[0][1]
    done = vward(services_up, "device", "add", late, "--patient", patient, "--ward", ward,
                 "--from", "90m")
    assert done.returncode == 0, done.stderr
    [(who, start, until)] = _assignments(conn, late)
    assert who == patient and until is None
    assert abs(start - (now - timedelta(minutes=90))) < timedelta(seconds=30)
    assert start < registered
    with _device(services_up, late, done.stdout.splitlines()[-1]) as dev:
        dev.send_readings([_reading(now - timedelta(minutes=60))], message_id="m1")
    wait_for(lambda: conn.execute("SELECT patient_id FROM observations WHERE device_id = %s",
                                  (late,)).fetchall() == [(patient,)],
             what="the reading of an hour ago stored for the patient")


def test_a_new_patient_is_admitted_at_the_start_given(services_up, conn):
    device, patient = unique("dev"), unique("pat")
    start = _now() - timedelta(hours=5)
    done = vward(services_up, "device", "add", device, "--patient", patient, "--ward",
                 unique("ward"), "--from", start.strftime("%Y-%m-%dT%H:%M:%S"))  # naive: UTC
    assert done.returncode == 0, done.stderr
    assert conn.execute("SELECT admitted_at FROM patients WHERE patient_id = %s",
                        (patient,)).fetchone() == (start,)
    assert _assignments(conn, device) == [(patient, start, None)]


def test_an_assignment_cannot_begin_before_the_patients_admission(services_up, conn):
    ward, patient = unique("ward"), unique("pat")
    admitted = _now() - timedelta(hours=1)
    with db.connect(services_up) as c:
        devices.register_devices(c, [devices.NewDevice(unique("dev"), patient, ward)],
                                 valid_from=admitted)
    device = unique("dev")
    done = vward(services_up, "device", "add", device, "--patient", patient, "--ward", ward,
                 "--from", "2h")
    assert done.returncode == 2
    assert done.stderr.startswith(f"vward: patient {patient} was admitted at {iso(admitted)},")
    assert "an assignment cannot begin before the patient's admission" in done.stderr
    assert conn.execute("SELECT 1 FROM devices WHERE device_id = %s", (device,)).fetchone() is None


def test_a_backdated_assignment_overlapping_an_earlier_one_is_refused_naming_it(
        services_up, conn):
    ward, device, first, second = unique("ward"), unique("dev"), unique("pat"), unique("pat")
    now = _now()
    with db.connect(services_up) as c:
        devices.register_devices(c, [devices.NewDevice(device, first, ward)],
                                 valid_from=now - timedelta(hours=4))
        devices.unassign_device(c, device, at=now - timedelta(hours=1))
    before = _assignments(conn, device)
    done = vward(services_up, "device", "add", device, "--patient", second, "--ward", ward,
                 "--from", "2h")
    assert done.returncode == 2
    assert (f"device {device} was assigned to patient {first} from"
            f" {iso(now - timedelta(hours=4))} until {iso(now - timedelta(hours=1))}"
            in done.stderr)
    assert f"begin at {iso(now - timedelta(hours=1))} or later" in done.stderr
    assert _assignments(conn, device) == before
    # From the end of that assignment on, it is fine.
    done = vward(services_up, "device", "add", device, "--patient", second, "--ward", ward,
                 "--from", iso(now - timedelta(hours=1)))
    assert done.returncode == 0, done.stderr
    assert _assignments(conn, device)[-1] == (second, now - timedelta(hours=1), None)


def test_a_device_is_not_taken_from_its_current_patient_back_in_time(services_up, conn):
    """Its readings since then were stored for the patient who has it: moving it
    in the past would leave them with the wrong patient.  Moving it now is fine."""
    ward, device, holder, other = unique("ward"), unique("dev"), unique("pat"), unique("pat")
    now = _now()
    with db.connect(services_up) as c:
        devices.register_devices(c, [devices.NewDevice(device, holder, ward)],
                                 valid_from=now - timedelta(hours=3))
        devices.register_devices(c, [devices.NewDevice(unique("dev"), other, ward)],
                                 valid_from=now - timedelta(hours=3))
    done = vward(services_up, "device", "add", device, "--patient", other, "--ward", ward,
                 "--from", "1h")
    assert done.returncode == 2
    assert (f"device {device} is assigned to patient {holder} since"
            f" {iso(now - timedelta(hours=3))}" in done.stderr)
    assert "move it from now on instead" in done.stderr
    assert _assignments(conn, device) == [(holder, now - timedelta(hours=3), None)]
    done = vward(services_up, "device", "add", device, "--patient", other, "--ward", ward)
    assert done.returncode == 0, done.stderr
    assert [a[0] for a in _assignments(conn, device)] == [holder, other]


@pytest.mark.parametrize(("start", "why"), [
    ("2099-01-01T00:00Z", "is in the future"),
    ("31d", "more than 30 days ago (VWARD_MAX_AGE_DAYS)"),
    ("last tuesday", "not a time: 'last tuesday'"),
])
def test_a_start_in_the_future_or_too_old_is_refused_and_nothing_is_stored(services_up, conn,
                                                                           start, why):
    device, patient = unique("dev"), unique("pat")
    done = vward(services_up, "device", "add", device, "--patient", patient, "--from", start)
    assert done.returncode == 2 and why in done.stderr, done.stderr
    assert done.stdout == ""
    assert conn.execute("SELECT 1 FROM patients WHERE patient_id = %s",
                        (patient,)).fetchone() is None


def test_an_overlap_made_by_a_concurrent_registration_is_refused_by_the_table(services_up):
    """The check names an overlap it can see; one committed meanwhile by
    another transaction is caught by the table's exclusion constraint, and
    the database's error becomes a Conflict."""
    ward, device, first, second = unique("ward"), unique("dev"), unique("pat"), unique("pat")
    now = _now()
    with db.connect(services_up) as c:
        devices.register_devices(c, [devices.NewDevice(device, first, ward),
                                     devices.NewDevice(unique("dev"), second, ward)],
                                 valid_from=now - timedelta(hours=3))
        devices.unassign_device(c, device, at=now - timedelta(hours=2))
    other = psycopg.connect(services_up.dsn)
    other.execute("INSERT INTO device_assignments (device_id, patient_id, valid_from, valid_to)"
                  " VALUES (%s, %s, %s, %s)",
                  (device, first, now - timedelta(minutes=50), now - timedelta(minutes=40)))
    threading.Thread(target=lambda: (time.sleep(0.5), other.commit(), other.close())).start()
    with db.connect(services_up) as c, pytest.raises(Conflict) as err:
        devices.assign(c, [(device, second)], valid_from=now - timedelta(hours=1), now=now)
    assert "overlaps another one of the same device, made meanwhile" in str(err.value)
    assert device in str(err.value)
