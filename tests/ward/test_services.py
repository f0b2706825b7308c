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
