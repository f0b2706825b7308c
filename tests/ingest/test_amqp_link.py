"""Connection parameters of ingest's AMQP links (ingest/amqp_link.py): pure."""

from __future__ import annotations

import pytest

from ingest.amqp_link import parameters
from ward.errors import ConfigError


def _params(url: str):
    return parameters(url, username="ward-service", password="s3cret", name="w-1 consumer")


def test_the_service_user_unless_the_url_names_its_own():
    p = _params("amqp://127.0.0.1:18672")
    assert (p.host, p.port, p.virtual_host) == ("127.0.0.1", 18672, "/")
    assert (p.credentials.username, p.credentials.password) == ("ward-service", "s3cret")
    own = _params("amqp://other:pw@10.0.0.5:5672/%2F")
    assert (own.credentials.username, own.credentials.password) == ("other", "pw")


def test_a_dead_peer_is_noticed_and_the_connection_named():
    p = _params("amqp://127.0.0.1:18672")
    assert p.heartbeat == 10 and p.connection_attempts == 1
    assert p.client_properties == {"connection_name": "w-1 consumer"}


@pytest.mark.parametrize("url", ["127.0.0.1:18672", "http://h:1", "amqp://h:port", "x"])
def test_a_bad_url_is_refused_by_name(url):
    with pytest.raises(ConfigError, match="VWARD_AMQP_URLS"):
        _params(url)


def test_a_refused_url_never_shows_its_password():
    with pytest.raises(ConfigError) as err:
        _params("amqp://u:hunter2@h:port")
    assert "hunter2" not in str(err.value)
