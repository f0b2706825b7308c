"""`vward up` never takes over somebody else's server on its ports."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from ward import mosquitto, postgres, scratch, services
from ward.errors import ServiceError
from ward.settings import Settings


@pytest.fixture
def other_home():
    home = Path(tempfile.mkdtemp(prefix="vward-other-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def other(services_up, other_home) -> Settings:
    """Another ward's settings, of another home, on the test run's own ports."""
    return Settings(
        home=other_home,
        pg_port=services_up.pg_port,
        mqtt_port=services_up.mqtt_port,
        database_url="",
        demo=True,
    )


def test_up_refuses_a_postgres_of_another_data_directory(services_up, other):
    # The test run's own PostgreSQL plays "another server on our port".
    with pytest.raises(ServiceError, match=f"already listens on port {services_up.pg_port}"):
        postgres.start(other)


def test_up_refuses_a_port_taken_by_another_broker(services_up, other):
    with pytest.raises(ServiceError, match=f"already listens on port {services_up.mqtt_port}"):
        mosquitto.start(other, {})


def test_up_accepts_its_own_running_server(services_up):
    postgres.start(services_up)  # already running, and ours: nothing to do
    assert postgres.running(services_up)


def test_scratch_ports_leave_room_for_three_nodes_outside_the_ephemeral_range():
    """CI once failed when node 1's port (node 0's + 10) had meanwhile gone to
    an outgoing connection: scratch ports are drawn below the kernel's
    ephemeral range, with every node's offset free when picked."""
    import socket

    from ward.rabbitmq_config import nodes

    low, high = scratch._ephemeral_range()
    settings = scratch.new_settings("vward-ports-")
    try:
        grown = settings.model_copy(update={"broker_nodes": scratch.MAX_NODES})
        ports = {settings.pg_port, settings.broker_epmd_port}
        for n in nodes(grown):
            ports |= {n.mqtt_port, n.amqp_port, n.admin_port, n.dist_port}
        assert len(ports) == 2 + 4 * scratch.MAX_NODES  # no two alike
        assert all(not low <= p <= high for p in ports)
        for p in ports:  # and each one free now
            with socket.socket() as s:
                s.bind(("0.0.0.0", p))
    finally:
        shutil.rmtree(settings.home, ignore_errors=True)


def test_up_with_mosquitto_needs_ingests_session_before_starting_anything(other_home):
    """ward imports no stage: the caller passes ingest's session maker, and
    forgetting it fails at once, with nothing started."""
    settings = Settings(home=other_home, broker="mqtt", database_url="", demo=True)
    with pytest.raises(ServiceError, match="ingest_session"):
        services.up(settings)
    assert not postgres.Paths(other_home).data.exists()
