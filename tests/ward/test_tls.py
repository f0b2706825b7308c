"""The broker's TLS files (issue 10 item 5): ward.tls decides, pure, which
names the server certificate carries and when it is issued anew;
ward.tls_files makes the ward's own CA (key 0600) and server certificate on
first use, renews it, checks the operator's own files and gives a broker
its private copy.  docs/operating.md, "MQTT over TLS"."""

from __future__ import annotations

import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from ward import mosquitto, rabbitmq_config, tls, tls_files
from ward.errors import ConfigError, ServiceError
from ward.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _settings(home: Path, **kw) -> Settings:
    return Settings(home=home, **kw)


def _cert(names=("localhost", "127.0.0.1", "ward.example.org"), *, days=200, ca=True):
    return tls.Certificate(names=frozenset(names), not_after=NOW + timedelta(days=days),
                           issued_by_ca=ca)


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


# ---------------------------------------------------------------- pure


def test_server_names_are_loopback_the_mqtt_host_and_this_hosts_name_once_each():
    s = _settings(Path("/srv/w"), mqtt_host="Ward.Example.org.")
    assert tls.server_names(s, "box") == ("localhost", "127.0.0.1", "ward.example.org", "box")
    assert tls.server_names(_settings(Path("/srv/w")), "localhost") == ("localhost", "127.0.0.1")
    assert tls.server_names(_settings(Path("/srv/w"), mqtt_host="192.0.2.7"), "") == (
        "localhost", "127.0.0.1", "192.0.2.7")


def test_a_server_certificate_is_issued_anew_when_missing_foreign_renamed_or_ending():
    wanted = ("localhost", "127.0.0.1", "ward.example.org")
    assert tls.renewal_reason(None, wanted, NOW) == "none yet"
    assert tls.renewal_reason(_cert(), wanted, NOW) is None
    assert "not issued" in tls.renewal_reason(_cert(ca=False), wanted, NOW)
    assert "names" in tls.renewal_reason(_cert(), (*wanted, "new-host"), NOW)
    assert "names" in tls.renewal_reason(_cert((*wanted, "old-host")), wanted, NOW)
    assert tls.renewal_reason(_cert(days=31), wanted, NOW) is None
    assert "ends" in tls.renewal_reason(_cert(days=29), wanted, NOW)
    assert "ends" in tls.renewal_reason(_cert(days=-1), wanted, NOW)


def test_the_operator_hears_of_their_own_files_ending_or_not_naming_the_host():
    ca = _cert(days=3000)
    assert tls.operator_notes(_cert(), ca, "ward.example.org", NOW) == []
    assert tls.operator_notes(_cert(("*.example.org",)), ca, "ward.example.org", NOW) == []
    notes = tls.operator_notes(_cert(days=10, ca=False), _cert(days=-1), "mqtt.other.net", NOW)
    assert len(notes) == 4 and all(n.startswith("warning:") for n in notes)
    assert any("does not name mqtt.other.net" in n for n in notes)


def test_operator_tls_files_go_together():
    with pytest.raises(ConfigError, match="go together"):
        Settings(tls_cert_file="/x/cert.pem", tls_key_file="/x/key.pem")
    own = _settings(Path("/srv/w"))
    assert tls.layout(own).own and tls.ca_file(own) == Path("/srv/w/tls/ca.pem")
    theirs = Settings(tls_ca_file="/x/ca.pem", tls_cert_file="/x/c.pem", tls_key_file="/x/k")
    assert not tls.layout(theirs).own and tls.ca_file(theirs) == Path("/x/ca.pem")


def test_clients_connect_plain_on_loopback_or_with_tls_to_the_tls_port():
    s = _settings(Path("/srv/w"), mqtt_port=1, mqtt_tls_port=2)
    assert tls.mqtt_endpoint(s) == tls.Endpoint("127.0.0.1", 1, None)
    assert tls.mqtt_endpoint(s, use_tls=True) == tls.Endpoint("127.0.0.1", 2,
                                                              Path("/srv/w/tls/ca.pem"))
    assert tls.mqtt_endpoint(s.model_copy(update={"mqtt_tls": True})).port == 2


def test_every_rabbitmq_node_listens_with_tls_12_or_13_on_its_own_port_and_copy():
    s = _settings(Path("/srv/w"), mqtt_tls_port=18883)
    n = rabbitmq_config.node(s, 2)
    conf = dict(line.split(" = ", 1)
                for line in rabbitmq_config.node_config(n, s, admin_password="pw").splitlines()
                if " = " in line)
    assert conf["mqtt.listeners.ssl.default"] == "18903"  # every interface, + 10·i
    assert conf["mqtt.listeners.tcp.1"].startswith("127.0.0.1:")  # plain: loopback only
    assert conf["ssl_options.keyfile"] == "/srv/w/rabbitmq/node2/tls/server.key"
    assert conf["ssl_options.certfile"] == "/srv/w/rabbitmq/node2/tls/server.pem"
    assert {conf["ssl_options.versions.1"], conf["ssl_options.versions.2"]} == {
        "tlsv1.2", "tlsv1.3"}
    assert not any(k.startswith("ssl_options.versions.3") for k in conf)


def test_mosquitto_listens_with_tls_12_or_later_beside_its_loopback_port():
    s = _settings(Path("/srv/w"), mqtt_port=18830, mqtt_tls_port=18883)
    lines = mosquitto.config(s, mosquitto.Paths(s.home)).splitlines()
    assert "listener 18830 127.0.0.1" in lines
    tls_at = lines.index("listener 18883")  # no address: every interface
    assert lines[tls_at + 1:tls_at + 5] == [
        "cafile /srv/w/mosquitto/tls/ca.pem", "certfile /srv/w/mosquitto/tls/server.pem",
        "keyfile /srv/w/mosquitto/tls/server.key", "tls_version tlsv1.2"]


# ---------------------------------------------------------------- files


def test_first_start_makes_a_ca_with_a_private_key_and_a_server_certificate(tmp_path):
    s = _settings(tmp_path, mqtt_host="ward.example.org")
    done = tls_files.ensure(s, now=NOW, hostname="box")
    assert [line.split(":")[0].split(" (")[0] for line in done] == [
        "made the ward's TLS certificate authority",
        "issued the broker's TLS certificate for localhost, 127.0.0.1, ward.example.org, box"]
    files = tls.layout(s)
    assert stat.S_IMODE(files.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.server_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.ca_cert.stat().st_mode) == 0o644
    got = tls_files.read_certificate(files.server_cert, files.ca_cert)
    assert got.names == {"localhost", "127.0.0.1", "ward.example.org", "box"}
    assert got.issued_by_ca
    assert got.not_after.date() == (NOW + timedelta(days=tls.SERVER_DAYS)).date()
    # What a TLS client checks: the chain to the CA, and the name it dialled.
    ctx = tls_files.client_context(files.ca_cert)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2 and ctx.check_hostname
    assert tls_files.ensure(s, now=NOW, hostname="box") == []  # nothing to do


def test_the_server_certificate_is_renewed_near_its_end_or_for_new_names_the_ca_kept(tmp_path):
    s = _settings(tmp_path)
    tls_files.ensure(s, now=NOW, hostname="box")
    files = tls.layout(s)
    ca, first = files.ca_cert.read_bytes(), _serial(files.server_cert)
    assert tls_files.ensure(s, now=NOW + timedelta(days=300), hostname="box") == []
    later = NOW + timedelta(days=tls.SERVER_DAYS - 20)
    assert "(it ends" in tls_files.ensure(s, now=later, hostname="box")[0]
    second = _serial(files.server_cert)
    assert second != first
    assert "are not" in tls_files.ensure(s, now=later, hostname="renamed")[0]
    assert _serial(files.server_cert) != second
    assert files.ca_cert.read_bytes() == ca  # devices keep trusting the same CA
    assert tls_files.read_certificate(files.server_cert, files.ca_cert).issued_by_ca


def test_a_replaced_ca_gets_a_new_server_certificate(tmp_path):
    s = _settings(tmp_path)
    tls_files.ensure(s, now=NOW, hostname="box")
    files = tls.layout(s)
    files.ca_key.unlink()
    done = tls_files.ensure(s, now=NOW, hostname="box")
    assert done[0].startswith("made the ward's TLS certificate authority")
    assert "(not issued by the CA on file)" in done[1]


def test_the_operators_own_files_are_used_as_they_are_and_checked(tmp_path):
    theirs = _settings(tmp_path / "theirs", mqtt_host="ward.example.org")
    tls_files.ensure(theirs, now=NOW, hostname="box")
    made = tls.layout(theirs)
    s = _settings(tmp_path / "ward", mqtt_host="ward.example.org",
                  tls_ca_file=str(made.ca_cert), tls_cert_file=str(made.server_cert),
                  tls_key_file=str(made.server_key))
    assert tls_files.ensure(s, now=NOW) == []
    assert not (tmp_path / "ward" / "tls").exists()  # nothing of the ward's own
    other = _settings(tmp_path / "other", mqtt_host="elsewhere.example.net")
    assert any("does not name elsewhere.example.net" in n
               for n in tls_files.ensure(other.model_copy(update={
                   "tls_ca_file": str(made.ca_cert), "tls_cert_file": str(made.server_cert),
                   "tls_key_file": str(made.server_key)}), now=NOW))
    tls_files.ensure(other, now=NOW, hostname="box")
    wrong_key = s.model_copy(update={"tls_key_file": str(tls.layout(other).server_key)})
    with pytest.raises(ServiceError, match="is not the key of"):
        tls_files.ensure(wrong_key, now=NOW)
    missing = s.model_copy(update={"tls_cert_file": str(tmp_path / "nope.pem")})
    with pytest.raises(ServiceError, match=r"VWARD_TLS_CERT_FILE names .* not a file"):
        tls_files.ensure(missing, now=NOW)


def test_a_broker_gets_a_private_copy_and_hears_when_it_changed(tmp_path):
    s = _settings(tmp_path)
    dest = tmp_path / "broker" / "tls"
    assert tls_files.install(s, dest, None) is True
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert stat.S_IMODE((dest / tls.KEY_NAME).stat().st_mode) == 0o600
    assert (dest / tls.KEY_NAME).read_bytes() == tls.layout(s).server_key.read_bytes()
    assert tls_files.install(s, dest, None) is False
    tls.layout(s).server_cert.unlink()  # renewed at the next start
    assert tls_files.install(s, dest, None) is True
