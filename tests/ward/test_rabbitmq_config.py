"""ward.rabbitmq_config, pure: each node's ports, names, directories and
environment; its configuration; the topology; the order nodes start and stop in."""

from __future__ import annotations

from pathlib import Path

from ward import broker_names as names
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
