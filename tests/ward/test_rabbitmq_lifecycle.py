"""RabbitMQ nodes' lifecycle, on nodes of the tests' own in scratch homes:
`vward up` twice is idempotent, a killed node is found dead and started again
by `vward up`, three nodes form one cluster whose quorum queues have a member
on each, and `vward down` (or discarding scratch services) leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, service_env, wait_for
from ward import broker_names as names
from ward import broker_users, processes, rabbitmq, rabbitmq_admin, scratch
from ward import rabbitmq_config as cfg
from ward.errors import ServiceError
from ward.probes import probe_broker
from ward.settings import Settings

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(Settings().broker != names.RABBITMQ,
                       reason="VWARD_BROKER=mqtt: the RabbitMQ broker is not the one under test"),
]


def _vward(settings: Settings, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ward.cli", *args], env=service_env(settings),
                          capture_output=True, text=True, cwd=ROOT, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _left_behind(home: Path) -> list[str]:
    """Processes whose command line or environment names `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not processes.running(int(entry.name)):
            continue
        try:
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if str(home).encode() in seen:
            found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:120]!r}")
    return found


def _probe(settings: Settings, port: int):
    monitor = broker_users.credentials(settings, names.MONITOR)
    return probe_broker(settings.mqtt_host, port, username=monitor.username,
                        password=monitor.password)


def test_a_wards_broker_from_one_node_to_three_and_down():
    """One scratch ward through the operator's commands: `vward up` twice (the
    second reuses the node), a SIGKILLed node found dead and restarted with its
    data, `vward up --nodes 3` growing it into one cluster whose quorum queues
    have a member on every node, and `vward down` leaving nothing running.
    One test, so that RabbitMQ's slow starts are paid once."""
    s = scratch.new_settings("vward-life-")
    node = cfg.node(s, 0)
    try:
        first = _vward(s, "up")
        assert "starting RabbitMQ node vward0@localhost" in first  # progress, as it waits
        assert "RabbitMQ node vward0@localhost up after" in first
        pid = rabbitmq.node_pid(node)
        assert pid and _probe(s, s.mqtt_port).ok

        again = _vward(s, "up")
        assert "RabbitMQ vward0@localhost already running" in again
        assert "broker users: 0 created or updated, 0 removed" in again
        assert rabbitmq.node_pid(node) == pid

        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not processes.running(pid), what="the killed node to die")
        assert rabbitmq.node_pid(node) is None  # dead, though its pid file remains
        assert node.pid_file.exists()
        restarted = _vward(s, "up")
        assert "started RabbitMQ vward0@localhost" in restarted
        assert rabbitmq.node_pid(node) not in (None, pid)
        assert _probe(s, s.mqtt_port).ok  # the users survived the crash

        grown = _vward(s, "up", "--nodes", "3")
        assert "starting RabbitMQ node vward2@localhost" in grown
        assert "quorum queues given a member on vward1@localhost" in grown
        expected = {f"vward{i}@localhost" for i in range(3)}
        with rabbitmq_admin.client(s) as api:
            assert rabbitmq_admin.running_nodes(api) == expected
            queues = rabbitmq_admin.queues(api)
        for q in names.QUEUES:
            assert queues[q]["type"] == "quorum"
            assert set(queues[q]["members"]) == expected, q
        for n in cfg.nodes(s, 3):  # every node lets the service user in, on its own port
            assert _probe(s, n.mqtt_port).ok, n.name

        stopped = _vward(s, "down")
        assert "stopped RabbitMQ vward0@localhost, vward1@localhost, vward2@localhost" in stopped
        assert f"stopped epmd on port {s.broker_epmd_port}" in stopped
        assert _left_behind(s.home) == []
        ports = [s.broker_epmd_port, s.pg_port]
        for n in cfg.nodes(s, 3):
            ports += [n.mqtt_port, n.amqp_port, n.admin_port, n.dist_port]
        assert [p for p in ports if processes.port_open("127.0.0.1", p)] == []

        # After a stop (or a reboot) a plain `vward up` brings the whole cluster back:
        # each node waits at boot for the others it knew.
        back = _vward(s, "up")
        assert "started RabbitMQ vward0@localhost, vward1@localhost, vward2@localhost" in back
        assert "note: this ward's cluster has 3 nodes" in back
        with rabbitmq_admin.client(s) as api:
            assert rabbitmq_admin.running_nodes(api) == expected
        assert _probe(s, cfg.node(s, 2).mqtt_port).ok
    finally:
        scratch.discard(s)
    assert not s.home.exists()


def test_discarding_scratch_services_leaves_no_process_or_directory():
    s = scratch.new_settings("vward-discard-")
    rabbitmq.start(s)
    assert rabbitmq.running(s)
    scratch.discard(s)  # SIGKILL: its data goes anyway
    assert _left_behind(s.home) == [] and not s.home.exists()
    assert not processes.port_open("127.0.0.1", s.broker_epmd_port)


def test_up_refuses_ports_another_broker_holds(services_up, tmp_path):
    # The test run's own node plays "another program on our MQTT port".
    other = Settings(home=tmp_path / "other", pg_port=services_up.pg_port,
                     mqtt_port=services_up.mqtt_port, amqp_port=services_up.amqp_port + 1,
                     database_url="", demo=True)
    with pytest.raises(ServiceError, match=f"already listens on port {services_up.mqtt_port},"
                                           " which RabbitMQ node vward0@localhost needs"):
        rabbitmq.start(other)
    assert _left_behind(other.home) == []
