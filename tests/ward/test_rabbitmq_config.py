"""ward.rabbitmq_config, pure: each node's ports, names, directories and
environment; its configuration; the topology; each user's rights and what a
sync imports or deletes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ward import broker_names as names
from ward import mqtt_auth
from ward import rabbitmq_config as cfg
from ward.settings import Settings


def _settings(**kw) -> Settings:
    return Settings(home=Path("/srv/ward"), **kw)


def test_node_i_uses_each_port_plus_ten_i_and_its_own_directories():
    n0, n1, n2 = cfg.nodes(_settings(), 3)
    assert [n.name for n in (n0, n1, n2)] == [
        "vward0@localhost", "vward1@localhost", "vward2@localhost"]
    assert (n2.mqtt_port, n2.amqp_port, n2.admin_port, n2.dist_port) == (18850, 18692, 18691,
                                                                         18699)
    assert n1.mnesia_base == Path("/srv/ward/rabbitmq/node1/mnesia")
    assert n1.log_dir == Path("/srv/ward/logs/rabbitmq/node1")
    assert len({n.dir for n in (n0, n1, n2)}) == 3
    assert len(cfg.nodes(_settings(broker_nodes=2))) == 2


def test_node_environment_is_the_nodes_own_and_drops_the_callers_rabbitmq_variables():
    s = _settings(broker_epmd_port=18669)
    n = cfg.node(s, 1)
    env = cfg.node_env(n, s, {"PATH": "/usr/bin", "RABBITMQ_NODENAME": "rabbit@x",
                               "RABBITMQ_MNESIA_BASE": "/var/lib/rabbitmq", "ERL_FLAGS": "-x"})
    assert env["PATH"] == "/usr/bin"
    assert "ERL_FLAGS" not in env
    assert env["RABBITMQ_NODENAME"] == "vward1@localhost"
    assert env["RABBITMQ_MNESIA_BASE"] == str(n.mnesia_base)
    assert env["RABBITMQ_NODE_PORT"] == "18682" and env["RABBITMQ_DIST_PORT"] == "18689"
    assert env["ERL_EPMD_PORT"] == "18669"
    assert env["HOME"] == str(cfg.cookie_home(s.home))
    system, ours = env["RABBITMQ_PLUGINS_DIR"].split(":")
    assert ours == str(cfg.plugins_dir(s.home)) and system.endswith("/plugins")
    for key in ("RABBITMQ_CONFIG_FILE", "RABBITMQ_ENABLED_PLUGINS_FILE", "RABBITMQ_CONF_ENV_FILE",
                "RABBITMQ_ADVANCED_CONFIG_FILE", "RABBITMQ_PID_FILE", "RABBITMQ_LOG_BASE"):
        assert env[key].startswith("/srv/ward/"), key
    assert cfg.ctl_env(s, {"RABBITMQ_NODENAME": "x"}) == {
        "HOME": str(cfg.cookie_home(s.home)), "ERL_EPMD_PORT": "18669"}


def test_node_config_mqtt_into_ward_exchange_no_anonymous_admin_on_loopback_only():
    s = _settings()
    text = cfg.node_config(cfg.node(s, 2), s, admin_password="pw")
    conf = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    assert conf["mqtt.exchange"] == names.MQTT_EXCHANGE
    assert conf["mqtt.allow_anonymous"] == "false"
    assert conf["mqtt.listeners.tcp.1"] == "127.0.0.1:18850"
    assert conf["listeners.tcp.1"] == "127.0.0.1:18692"
    assert conf["management.tcp.ip"] == "127.0.0.1"
    assert conf["management.tcp.port"] == "18691"
    assert conf["default_user"] == cfg.ADMIN_USER
    assert conf[f"loopback_users.{cfg.ADMIN_USER}"] == "true"
    assert conf["cluster_formation.classic_config.nodes.1"] == "vward0@localhost"
    assert cfg.enabled_plugins() == "[rabbitmq_management,rabbitmq_mqtt,vward_auth].\n"
    # The client id is checked first, then the internal database (issue 10).
    assert conf["auth_backends.1.authn"] == cfg.AUTH_BACKEND == "vward_auth_backend"
    assert conf["auth_backends.1.authz"] == "internal"


def test_amqp_urls_are_the_setting_or_our_nodes():
    assert cfg.amqp_urls(_settings(broker_nodes=2)) == [
        "amqp://127.0.0.1:18672", "amqp://127.0.0.1:18682"]
    assert cfg.amqp_urls(_settings(amqp_urls=" amqp://a:1, amqp://b:2 ,")) == [
        "amqp://a:1", "amqp://b:2"]


def test_topology_quorum_queues_bound_and_an_alternate_exchange_for_the_rest():
    topo = cfg.topology()
    exchanges = {e["name"]: e for e in topo["exchanges"]}
    assert exchanges[names.MQTT_EXCHANGE]["type"] == "topic"
    assert exchanges[names.MQTT_EXCHANGE]["arguments"] == {
        "alternate-exchange": names.UNROUTED_EXCHANGE}
    assert exchanges[names.UNROUTED_EXCHANGE]["type"] == "fanout"
    assert all(e["durable"] for e in exchanges.values())
    assert {q["name"]: q["arguments"]["x-queue-type"] for q in topo["queues"]} == dict.fromkeys(
        names.QUEUES, "quorum")
    bound = {(b["source"], b["destination"], b["routing_key"]) for b in topo["bindings"]}
    assert bound == {
        (names.MQTT_EXCHANGE, names.READINGS_QUEUE, "ward.v1.devices.*.readings"),
        (names.MQTT_EXCHANGE, names.STATUS_QUEUE, "ward.v1.devices.*.status"),
        (names.UNROUTED_EXCHANGE, names.UNROUTED_QUEUE, ""),
    }


@pytest.mark.parametrize("device", ["dev-1", "a.b", "x_y.z-9"])
def test_a_device_may_publish_and_read_only_its_own_topics(device):
    rights = cfg.device_rights(device)
    key = names.routing_key

    def allowed(pattern, topic):
        return re.fullmatch(pattern, key(topic)) is not None

    for kind in ("readings", "status"):
        assert allowed(rights.topic_write, f"ward/v1/devices/{device}/{kind}")
        assert not allowed(rights.topic_write, f"ward/v1/devices/{device}x/{kind}")
        assert not allowed(rights.topic_write, f"ward/v1/devices/other/{kind}")
    assert not allowed(rights.topic_write, f"ward/v1/devices/{device}/rejections")
    for kind in ("rejections", "commands"):
        assert allowed(rights.topic_read, f"ward/v1/devices/{device}/{kind}")
        assert not allowed(rights.topic_read, f"ward/v1/devices/other/{kind}")
    assert not allowed(rights.topic_read, "ward/v1/wards/ward-1/alerts")
    own_queue = f"mqtt-subscription-{device}qos1"
    assert re.fullmatch(rights.configure, own_queue)
    assert re.fullmatch(rights.read, own_queue) and re.fullmatch(rights.write, own_queue)
    assert re.fullmatch(rights.write, names.MQTT_EXCHANGE)
    assert not re.fullmatch(rights.configure, "mqtt-subscription-otherqos1")
    assert not re.fullmatch(rights.read, names.READINGS_QUEUE)
    if "." in device:  # a `.` is any character in a regex: escaped
        assert not re.fullmatch(rights.configure, own_queue.replace(".", "Q"))


def test_ingest_reads_the_queues_and_publishes_rejections_only():
    rights = cfg.service_rights(names.INGEST)
    for queue in names.QUEUES:
        assert re.fullmatch(rights.read, queue)
        assert not re.fullmatch(rights.configure, queue)
        assert not re.fullmatch(rights.write, queue)
    assert re.fullmatch(rights.write, names.MQTT_EXCHANGE)
    assert not re.fullmatch(rights.write, names.UNROUTED_EXCHANGE)
    assert rights.topic_write and rights.topic_read
    assert re.fullmatch(rights.topic_write, "ward.v1.devices.d/1.rejections")
    for key in ("ward.v1.devices.d1.readings", "ward.v1.wards.w.alerts", "x", "#"):
        assert not re.fullmatch(rights.topic_write, key)
    # Its MQTT subscription queues are its own client ids' (ingest@vward-...).
    assert re.fullmatch(rights.configure, "mqtt-subscription-ingest@vward-t1qos1")
    assert not re.fullmatch(rights.configure, "mqtt-subscription-dev-1qos1")


def test_alerts_publishes_ward_alerts_only_and_monitor_nothing():
    alerts = cfg.service_rights(names.ALERTS)
    assert alerts.topic_write and re.fullmatch(alerts.topic_write, "ward.v1.wards.w-1.alerts")
    assert not re.fullmatch(alerts.topic_write, "ward.v1.devices.d.rejections")
    for queue in names.QUEUES:
        assert not re.fullmatch(alerts.read, queue)
    monitor = cfg.service_rights(names.MONITOR)
    assert (monitor.configure, monitor.write, monitor.read) == ("", "", "")  # "" grants nothing


def test_device_users_skip_devices_without_a_hash_and_reserved_names():
    users = cfg.device_users([("a", "h1"), ("b", None), (cfg.ADMIN_USER, "h"),
                              ("ward-service", "h"), ("ingest@vward", "h"), ("x@y", "h")])
    assert [u.name for u in users] == ["a"]


def test_a_service_user_keeps_a_hash_that_matches_and_replaces_one_that_does_not():
    old = mqtt_auth.rabbitmq_hash("pw")
    assert cfg.service_user(names.INGEST, "pw", old).password_hash == old
    assert cfg.service_user(names.INGEST, "pw", old).name == "ingest@vward"
    new = cfg.service_user(names.INGEST, "changed", old).password_hash
    assert new != old and mqtt_auth.rabbitmq_verify("changed", new)
    assert mqtt_auth.rabbitmq_verify(
        "pw", cfg.service_user(names.INGEST, "pw", None).password_hash)


def _listed(users: list[cfg.BrokerUser]):
    doc = cfg.definitions(users)
    return ([{**u, "tags": []} for u in doc["users"]], doc["permissions"],
            doc["topic_permissions"])


def test_a_sync_imports_only_what_differs_and_deletes_what_the_database_does_not_know():
    wanted = cfg.device_users([(f"d{i}", mqtt_auth.rabbitmq_hash("x")) for i in range(5)])
    assert cfg.user_changes(wanted, *_listed(wanted)).empty

    listed_users, perms, topics = _listed(wanted)
    listed_users.append({"name": "gone", "password_hash": "h", "tags": []})
    listed_users.append({"name": cfg.ADMIN_USER, "password_hash": "h", "tags": ["administrator"]})
    listed_users[0]["password_hash"] = "changed"          # d0: new password
    perms = [p for p in perms if p["user"] != "d1"]       # d1: lost its permissions
    topics[2]["write"] = ".*"                              # d2: topic rights widened
    changes = cfg.user_changes(wanted, listed_users, perms, topics)
    imported = [u["name"] for doc in changes.imports for u in doc["users"]]
    assert imported == ["d0", "d1", "d2"]
    assert changes.delete == ["gone"]


def test_a_large_sync_is_imported_in_chunks_each_complete():
    wanted = cfg.device_users([(f"d{i}", "h") for i in range(5)])
    changes = cfg.user_changes(wanted, [], [], [], chunk=2)
    assert [len(doc["users"]) for doc in changes.imports] == [2, 2, 1]
    for doc in changes.imports:
        names_ = [u["name"] for u in doc["users"]]
        assert [p["user"] for p in doc["permissions"]] == names_
        assert [p["user"] for p in doc["topic_permissions"]] == names_
        assert all(u["hashing_algorithm"] == mqtt_auth.RABBITMQ_HASHING for u in doc["users"])


def _names(phases):
    return [[n.name for n in phase] for phase in phases]


def test_a_new_cluster_starts_node_0_first_then_the_new_nodes_together():
    n0, n1, n2 = cfg.nodes(_settings(), 3)
    names_ = {n0.name, n1.name, n2.name}
    assert _names(cfg.boot_phases([n2, n0, n1], running=set(), virgin=names_,
                                  peers_at_shutdown={})) == [
        ["vward0@localhost"], ["vward1@localhost", "vward2@localhost"]]


def test_the_node_that_stopped_last_starts_first_and_alone():
    n0, n1, n2 = cfg.nodes(_settings(), 3)
    every = {n0.name, n1.name, n2.name}
    peers = {n0.name: {n0.name}, n1.name: every, n2.name: every}
    assert _names(cfg.boot_phases([n0, n1, n2], running=set(), virgin=set(),
                                  peers_at_shutdown=peers)) == [
        ["vward0@localhost"], ["vward1@localhost", "vward2@localhost"]]
    # A node stopped while the others ran, which run now: it needs no wait.
    assert _names(cfg.boot_phases([n1], running={n0.name, n2.name}, virgin=set(),
                                  peers_at_shutdown=peers)) == [["vward1@localhost"]]


def test_after_a_crash_of_all_the_nodes_start_together():
    n0, n1, n2 = cfg.nodes(_settings(), 3)
    every = {n0.name, n1.name, n2.name}
    for peers in ({}, dict.fromkeys(every, every)):
        assert _names(cfg.boot_phases([n0, n1, n2], running=set(), virgin=set(),
                                      peers_at_shutdown=peers)) == [
            ["vward0@localhost", "vward1@localhost", "vward2@localhost"]]


def test_a_grown_cluster_starts_its_old_nodes_then_the_new_one():
    n0, n1, n2 = cfg.nodes(_settings(), 3)
    assert _names(cfg.boot_phases([n1, n2], running={n0.name}, virgin={n2.name},
                                  peers_at_shutdown={n1.name: {n0.name, n1.name}})) == [
        ["vward1@localhost"], ["vward2@localhost"]]


def test_node_0_stops_last_and_client_id_tracking_is_reset_only_for_a_whole_cluster():
    n0, n1, n2 = cfg.nodes(_settings(), 3)
    assert _names(cfg.stop_order([n2, n0, n1])) == [
        ["vward1@localhost", "vward2@localhost"], ["vward0@localhost"]]
    assert _names(cfg.stop_order([n0])) == [["vward0@localhost"]]
    assert cfg.reset_client_id_tracking([n0, n1, n2], running=set(), virgin=set()) == [
        n0, n1, n2]
    assert cfg.reset_client_id_tracking([n1, n2], running={n0.name}, virgin=set()) == []
    assert cfg.reset_client_id_tracking([n0], running=set(), virgin=set()) == []
    assert cfg.reset_client_id_tracking([n0, n1], running=set(), virgin={n1.name}) == []


def test_nodes_are_sealed_after_queues_are_created_or_grown_onto_them_only():
    n0, n1, n2 = cfg.nodes(_settings(), 3)
    assert cfg.nodes_to_seal([n0, n1, n2], created={"ward.readings"}, grown=set()) == [
        n0, n1, n2]
    assert cfg.nodes_to_seal([n0, n1, n2], created=set(), grown={n2.name}) == [n2]
    assert cfg.nodes_to_seal([n0, n1, n2], created=set(), grown=set()) == []
