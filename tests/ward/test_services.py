"""`vward up` never takes over somebody else's server on its ports."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from ward import services
from ward.errors import ServiceError
from ward.settings import Settings


@pytest.fixture
def other_home():
    home = Path(tempfile.mkdtemp(prefix="vward-other-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_up_refuses_a_postgres_of_another_data_directory(services_up, other_home):
    # The test run's own PostgreSQL plays "another server on our port".
    other = Settings(
        home=other_home,
        pg_port=services_up.pg_port,
        mqtt_port=services_up.mqtt_port,
        database_url="",
        demo=True,
    )
    with pytest.raises(ServiceError, match=f"already listens on port {services_up.pg_port}"):
        services.start_postgres(other)


def test_up_refuses_a_port_taken_by_another_broker(services_up, other_home):
    other = Settings(
        home=other_home,
        pg_port=services_up.pg_port,
        mqtt_port=services_up.mqtt_port,
        database_url="",
        demo=True,
    )
    with pytest.raises(ServiceError, match=f"already listens on port {services_up.mqtt_port}"):
        services.start_broker(other, {})


def test_up_accepts_its_own_running_server(services_up):
    services.start_postgres(services_up)  # already running, and ours: nothing to do
    assert services.pg_running(services_up)


def test_scratch_ports_leave_room_for_three_nodes_outside_the_ephemeral_range():
    """CI once failed when node 1's port (node 0's + 10) had meanwhile gone to
    an outgoing connection: scratch ports are drawn below the kernel's
    ephemeral range, with every node's offset free when picked."""
    import socket

    from ward.rabbitmq_config import nodes

    low, high = services._ephemeral_range()
    settings = services.scratch_settings("vward-ports-")
    try:
        grown = settings.model_copy(update={"broker_nodes": services.SCRATCH_NODES})
        ports = {settings.pg_port, settings.broker_epmd_port}
        for n in nodes(grown):
            ports |= {n.mqtt_port, n.amqp_port, n.admin_port, n.dist_port}
        assert len(ports) == 2 + 4 * services.SCRATCH_NODES  # no two alike
        assert all(not low <= p <= high for p in ports)
        for p in ports:  # and each one free now
            with socket.socket() as s:
                s.bind(("0.0.0.0", p))
    finally:
        shutil.rmtree(settings.home, ignore_errors=True)
