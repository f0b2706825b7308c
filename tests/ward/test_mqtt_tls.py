"""MQTT over TLS against the real broker (issue 10 item 5): a device at home
publishes with the real `mosquitto_pub --cafile` on the TLS port and its
reading is stored; a client that does not trust the ward's CA is refused;
the plain port listens on loopback only; the broker reads its key, other
local users cannot; a renewed certificate is served without a restart.
The default broker (RabbitMQ, MQTT 3.1.1) and the MQTT v5 option
(Mosquitto).  docs/operating.md, "MQTT over TLS"; docs/security.md."""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Process, service_env, unique, wait_for
from cryptography import x509
from mqtt_option import mqtt_services, stored
from mqtt_option import register as register_mqtt

from ingest import mqtt_session
from simulators.device_client import DeviceClient, DeviceError
from ward import mosquitto, rabbitmq_config, services, tls, tls_files
from ward.broker_names import RABBITMQ, mqtt_protocol
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture(scope="module")
def mosquitto_ward(services_up: Settings) -> Iterator[Settings]:
    """The MQTT v5 option's own services, unless the run's already are."""
    if services_up.broker != RABBITMQ:
        yield services_up
        return
    with mqtt_services("vward-test-tls-") as s:
        yield s


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _mosquitto_pub(settings: Settings, device, ca: Path, message_id: str,
                   *, host: str = "127.0.0.1") -> subprocess.CompletedProcess:
    """One reading, QoS 1, sent as a device at home sends it: over TLS,
    client id = device id, the broker's MQTT version."""
    body = json.dumps({"id": message_id, "readings": [
        {"time": _iso(datetime.now(UTC) - timedelta(seconds=5)), "type": "heart_rate",
         "value": 71}]})
    version = "mqttv311" if settings.broker == RABBITMQ else "mqttv5"
    return subprocess.run(
        ["mosquitto_pub", "--cafile", str(ca), "-h", host, "-p", str(settings.mqtt_tls_port),
         "-V", version, "-i", device.device_id, "-u", device.device_id, "-P", device.password,
         "-q", "1", "-t", f"ward/v1/devices/{device.device_id}/readings", "-m", body],
        capture_output=True, text=True, timeout=30, check=False)


def _ingest(settings: Settings, tmp_path: Path) -> Process:
    p = Process(["ingest"], service_env(settings), tmp_path / "ingest.log").start()
    wait_for(lambda: "connected to" in p.output() or "subscribing" in p.output()
             or not p.running, timeout=30, what="ingest connected")
    assert p.running, p.output()
    return p


def _other_ca(tmp_path: Path) -> Path:
    """A CA that is not the ward's: one made for another home."""
    other = Settings(home=tmp_path / "other-ward")
    tls_files.ensure(other)
    return tls.ca_file(other)


@pytest.fixture(params=["default", "mosquitto"])
def ward(request, services_up: Settings) -> Settings:
    if request.param == "default":
        return services_up
    return request.getfixturevalue("mosquitto_ward")


def _register(ward: Settings, register):
    return register() if ward.broker == RABBITMQ else register_mqtt(ward)


def test_a_reading_sent_with_mosquitto_pub_over_tls_is_stored(ward, register, tmp_path):
    dev = _register(ward, register)
    worker = _ingest(ward, tmp_path)
    try:
        sent = _mosquitto_pub(ward, dev, tls.ca_file(ward), unique("tls"))
        assert sent.returncode == 0, sent.stdout + sent.stderr
        wait_for(lambda: stored(ward, dev.device_id) == 1, timeout=30,
                 what="the reading sent over TLS stored")
    finally:
        worker.terminate()
    # The ward's own device client over TLS too, checking the broker's name.
    with DeviceClient(host="localhost", port=ward.mqtt_tls_port, protocol=mqtt_protocol(ward),
                      device_id=dev.device_id, password=dev.password,
                      tls_ca=tls.ca_file(ward)) as d:
        rc = d.send_readings([{"time": _iso(datetime.now(UTC)), "type": "spo2", "value": 97}],
                             message_id=unique("tls"))
        assert rc is None or not rc.is_failure


def test_a_client_that_does_not_trust_the_wards_ca_is_refused(ward, register, tmp_path):
    dev = _register(ward, register)
    stranger = _other_ca(tmp_path)
    sent = _mosquitto_pub(ward, dev, stranger, unique("tls"))
    assert sent.returncode != 0
    assert "certificate verify failed" in sent.stderr or "TLS" in sent.stderr, sent.stderr
    with pytest.raises(DeviceError, match="CERTIFICATE_VERIFY_FAILED"):
        DeviceClient(host="127.0.0.1", port=ward.mqtt_tls_port, protocol=mqtt_protocol(ward),
                     device_id=dev.device_id, password=dev.password, tls_ca=stranger).connect()
    # Nor may a client skip TLS on the TLS port: the broker never reads MQTT in clear there.
    with socket.create_connection(("127.0.0.1", ward.mqtt_tls_port), timeout=5) as raw:
        raw.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")  # CONNECT, no TLS
        raw.settimeout(5)
        try:
            answer = raw.recv(4)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"\x20")  # never a CONNACK
    assert stored(ward, dev.device_id) == 0


def _listening(port: int) -> set[str]:
    """The addresses listening on TCP `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add("any" if set(address) == {"0"} else
                          "loopback" if address in ("0100007F",
                                                    "00000000000000000000000001000000")
                          else address[:width])
    return found


def test_the_plain_port_listens_on_loopback_only_and_tls_on_every_interface(ward):
    ports = [(ward.mqtt_port, ward.mqtt_tls_port)]
    if ward.broker == RABBITMQ:
        ports = [(n.mqtt_port, n.mqtt_tls_port) for n in rabbitmq_config.nodes(ward)]
    for plain, secure in ports:
        assert _listening(plain) == {"loopback"}
        assert _listening(secure) == {"any"}


def test_the_broker_reads_its_key_and_no_other_local_user_can(ward):
    files = tls.layout(ward)
    assert files.ca_key is not None and oct(files.ca_key.stat().st_mode & 0o777) == "0o600"
    if ward.broker == RABBITMQ:
        copies = [(n.tls_dir / tls.KEY_NAME, "rabbitmq") for n in rabbitmq_config.nodes(ward)]
    else:
        copies = [(mosquitto.Paths(ward.home).tls / tls.KEY_NAME, "mosquitto")]
    for key, broker_user in copies:
        assert oct(key.stat().st_mode & 0o777) == "0o600"
        if os.geteuid() == 0:
            assert pwd.getpwuid(key.stat().st_uid).pw_name == broker_user
    if os.geteuid() == 0:
        for path in (files.ca_key, files.server_key, *(k for k, _ in copies)):
            peek = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(path)],
                                  capture_output=True, text=True, check=False)
            assert peek.returncode != 0 and "Permission denied" in peek.stderr, path


def _served_serial(settings: Settings) -> int:
    ctx = tls_files.client_context(tls.ca_file(settings))
    with socket.create_connection(("127.0.0.1", settings.mqtt_tls_port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        der = s.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_vward_up_renews_the_certificate_and_the_running_broker_serves_it(ward):
    files = tls.layout(ward)
    before = _served_serial(ward)
    assert before == x509.load_pem_x509_certificate(files.server_cert.read_bytes()).serial_number
    files.server_cert.unlink()  # as if it had come near its end
    done = services.up(ward, ingest_session=mqtt_session.ensure)
    assert any(line.startswith("issued the broker's TLS certificate") for line in done), done
    renewed = x509.load_pem_x509_certificate(files.server_cert.read_bytes()).serial_number
    assert renewed != before
    wait_for(lambda: _served_serial(ward) == renewed, timeout=30,
             what="the running broker serving the renewed certificate")


_PATCHES = """
[ward]
id = "ward-tls"
patients = 2
[devices.interval_s]
patch = 30
[[groups]]
name = "stable"
course = "stable"
share = 1.0
devices = ["patch"]
"""


def test_vward_simulate_tls_sends_every_device_over_tls(spawn, conn, services_up,
                                                        tmp_path) -> None:
    """The simulator as a ward of devices at home: `--tls`, one TLS context."""
    seed = 950001
    scenario = tmp_path / "patches.toml"
    scenario.write_text(_PATCHES)
    worker = spawn("ingest")
    wait_for(lambda: "connected to" in worker.output() or "subscribing" in worker.output(),
             what="ingest connected")
    sim = spawn("simulate", "--tls", "--patients", "2", "--scenario", str(scenario),
                "--speed", "60", "--duration", "3s", "--seed", str(seed))
    assert sim.proc.wait(90) == 0, sim.output()
    out = sim.output()
    assert f":{services_up.mqtt_tls_port} over TLS" in out, out
    assert "devices 2/2 connected" in out, out
    wait_for(lambda: conn.execute(
        "SELECT count(DISTINCT device_id) FROM observations WHERE device_id LIKE %s",
        (f"sim-{seed}-%",)).fetchone()[0] == 2, timeout=30, what="both devices' readings")
