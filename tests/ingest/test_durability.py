"""Acknowledged means stored (issue 9): devices publish over MQTT, the broker is
killed mid-stream, and every reading whose PUBACK a device received is stored.
Each scenario runs on services of its own (benchmarks/durability.py, smaller)."""

from __future__ import annotations

import pytest

from benchmarks import durability
from ingest import mqtt_session
from ward import scratch

pytestmark = [pytest.mark.db, pytest.mark.broker]


def test_a_broker_killed_with_a_backlog_loses_no_acknowledged_reading() -> None:
    """SIGKILL of the (one-node) broker with half the readings queued and no worker
    consuming; `vward up` restarts it; the worker then stores every acknowledged one."""
    with scratch.running("vward-test-durability-broker-", ingest_session=mqtt_session.ensure) as s:
        r = durability.broker_kill(s, 5, 200)
    assert r.acknowledged == 5 * 200, r
    assert r.lost == 0 and r.stored == r.acknowledged, (r, r.log)


def test_killing_the_queue_leader_of_three_nodes_loses_no_acknowledged_reading() -> None:
    """Three nodes; the node leading the readings' quorum queue is SIGKILLed mid-stream;
    devices reconnect to another node; nothing acknowledged is lost."""
    with scratch.running("vward-test-durability-leader-", broker_nodes=3,
                         ingest_session=mqtt_session.ensure) as s:
        r = durability.leader_kill(s, 5, 200)
    assert r.acknowledged == 5 * 200, r
    assert r.lost == 0 and r.stored == r.acknowledged, (r, r.log)
