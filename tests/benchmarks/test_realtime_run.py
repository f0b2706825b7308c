"""`vward bench realtime` end to end, small: devices publish through the real
broker, a real `vward ingest` stores, a real `vward alerts` scores and publishes
alert events that a subscriber receives.  Asserts that every set was scored and
events arrived; never a timing (that is the bench's to print)."""

from __future__ import annotations

import pytest
from conftest import unique
from mqtt_option import mqtt_services

from benchmarks import realtime
from ward.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker]

PATIENTS, SECONDS = 20, 4


def _check(loads: list, lines: list[str]) -> None:
    assert len(loads) == 1
    f = loads[0]
    assert f.patients == PATIENTS
    assert f.published == PATIENTS * SECONDS, f
    assert f.scored == f.published, f  # every set's score stored
    assert f.alerts.count > 0, f  # the deteriorating patients' events reached the subscriber
    assert f.rate > 0 and f.score.p99_ms > 0
    assert any(line.startswith(f"{PATIENTS:>8}") for line in lines)


def _plan() -> realtime.Plan:
    return realtime.Plan(loads=(PATIENTS,), seconds=SECONDS, history_days=0.5,
                         ward_id=unique("rt-ward"), prefix=unique("rt")[-8:])


def test_every_set_published_is_scored_and_alerts_reach_a_subscriber(
        services_up: Settings) -> None:
    lines: list[str] = []
    loads = realtime.measure(services_up, _plan(), say=lines.append)
    _check(loads, lines)


def test_the_same_on_the_mqtt_v5_option() -> None:
    lines: list[str] = []
    with mqtt_services("vward-test-realtime-") as s:
        loads = realtime.measure(s, _plan(), say=lines.append)
    _check(loads, lines)
