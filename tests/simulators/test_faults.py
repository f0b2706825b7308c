"""Faults arrive at roughly their configured rates (fixed seeds, so the counts
are deterministic; the bounds are wide enough to survive a change of seed),
and no fault loses a message: a backlog or a delayed message is sent later."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest

from simulators import messages as m
from simulators import scenario
from simulators.devices import Schedule
from simulators.faults import IMPLAUSIBLE, FaultInjector, FaultRates
from simulators.plan import Simulation

HOUR = 3600.0


@dataclass
class Run:
    planned: m.Batch
    sent: m.Batch
    send_at: np.ndarray
    went_offline: np.ndarray
    offline_at: np.ndarray
    came_online: np.ndarray
    online_at: np.ndarray
    injector: FaultInjector
    online_device_hours: float


def run(
    rates: FaultRates,
    *,
    n: int = 100,
    interval: float = 60.0,
    hours: float = 12,
    tick: float = 300.0,
    seed: int = 0,
    drain_hours: float = 8,
) -> Run:
    """Oximeter-like messages for n devices through an injector, then
    `drain_hours` of empty ticks so that every backlog comes out."""
    rng = np.random.default_rng(seed)
    injector = FaultInjector(rates, np.full(n, interval), np.zeros(n, bool), rng)
    schedule = Schedule(
        np.random.default_rng(seed + 1).uniform(0, interval, n), np.full(n, interval)
    )
    sent = 0  # a global counter as the message id: it rises with time on every device
    planned, steps, online = [], [], 0.0
    for t0 in np.arange(0.0, (hours + drain_hours) * HOUR, tick):
        device, times = (
            schedule.due(t0, t0 + tick)
            if t0 < hours * HOUR
            else (np.empty(0, np.intp), np.empty(0))
        )
        seq = np.arange(sent + 1, sent + 1 + len(device))
        sent += len(device)
        values = np.full((len(device), len(m.TYPES)), np.nan)
        values[:, m.COLUMN["spo2"]], values[:, m.COLUMN["heart_rate"]] = 97, 70
        batch = m.Batch(device, seq, times, values, np.zeros(len(device), np.int8))
        planned.append(batch)
        online += np.sum(injector.offline_until <= t0) * tick / HOUR
        steps.append(injector.step(batch, t0, t0 + tick))
    cat = np.concatenate
    return Run(
        m.Batch.concat(planned),
        m.Batch.concat([s.batch for s in steps]),
        cat([s.send_at for s in steps]),
        cat([s.went_offline for s in steps]),
        cat([s.offline_at for s in steps]),
        cat([s.came_online for s in steps]),
        cat([s.online_at for s in steps]),
        injector,
        online,
    )


def keys(batch: m.Batch) -> list[tuple[int, int]]:
    return list(zip(batch.device.tolist(), batch.seq.tolist(), strict=True))


def test_without_faults_every_message_goes_out_as_planned() -> None:
    r = run(FaultRates(), hours=2)
    assert keys(r.sent) == keys(r.planned)
    np.testing.assert_array_equal(r.sent.time, r.planned.time)
    np.testing.assert_array_equal(r.send_at, r.planned.time)
    np.testing.assert_array_equal(r.sent.values, r.planned.values)
    assert not r.sent.flag.any() and len(r.went_offline) == 0


def test_duplicates_arrive_at_their_rate_with_the_same_id() -> None:
    r = run(FaultRates(duplicate=0.05))
    sent = keys(r.sent)
    extra = len(sent) - len(set(sent))
    assert set(sent) == set(keys(r.planned))
    assert 0.04 < extra / len(r.planned) < 0.06


def test_out_of_order_messages_arrive_after_a_later_one_at_their_rate() -> None:
    r = run(FaultRates(out_of_order=0.03))
    assert sorted(keys(r.sent)) == sorted(keys(r.planned))
    highest: dict[int, int] = {}
    late = 0
    for device, seq in keys(r.sent):
        late += seq < highest.get(device, 0)
        highest[device] = max(highest.get(device, 0), seq)
    assert 0.024 < late / len(r.planned) < 0.036


def test_each_step_sends_in_time_order() -> None:
    rates = FaultRates(duplicate=0.05, out_of_order=0.05, offline_per_hour=0.05)
    rng = np.random.default_rng(3)
    injector = FaultInjector(rates, np.full(10, 60.0), np.zeros(10, bool), rng)
    schedule = Schedule(np.zeros(10), np.full(10, 60.0))
    for t0 in np.arange(0.0, 20 * HOUR, 600.0):
        device, times = schedule.due(t0, t0 + 600)
        batch = m.Batch(
            device,
            np.arange(len(device)),
            times,
            np.zeros((len(device), len(m.TYPES))),
            np.zeros(len(device), np.int8),
        )
        step = injector.step(batch, t0, t0 + 600)
        assert np.all(np.diff(step.send_at) >= 0)


def test_malformed_messages_arrive_at_their_rate_and_do_not_parse_as_valid() -> None:
    r = run(FaultRates(malformed=0.02))
    bad = r.sent.flag != m.OK
    assert 0.016 < bad.mean() < 0.024
    assert set(np.unique(r.sent.flag[bad])) == set(m.MALFORMED_FLAGS)
    units = {"spo2": "%", "heart_rate": "/min"}
    for row in np.flatnonzero(bad)[:200]:
        payload = m.encode_readings(
            "x-1", "2026-11-23T08:00:00Z", r.sent.values[row].tolist(), units, int(r.sent.flag[row])
        )
        try:
            doc = json.loads(payload)
        except ValueError:
            continue
        assert "readings" not in doc or any("time" not in x for x in doc["readings"])


def test_implausible_values_arrive_at_their_rate() -> None:
    r = run(FaultRates(implausible=0.02))
    wild = np.isin(r.sent.values, list(IMPLAUSIBLE.values())).any(axis=1)
    assert 0.016 < wild.mean() < 0.024
    assert r.sent.values[wild, m.COLUMN["spo2"]].max() == 140
    assert r.sent.values[wild, m.COLUMN["heart_rate"]].max() == 900


def test_skewed_clocks_are_a_fixed_offset_on_a_share_of_devices() -> None:
    r = run(FaultRates(clock_skew=0.2, clock_skew_minutes=15), n=1000, hours=0.5, drain_hours=0)
    skew = r.injector.skew
    assert 0.16 < np.mean(skew != 0) < 0.24
    assert np.all((np.abs(skew[skew != 0]) >= 60) & (np.abs(skew[skew != 0]) <= 15 * 60))
    np.testing.assert_allclose(r.sent.time - r.planned.time, skew[r.sent.device])


def test_offline_devices_drop_off_at_their_rate_and_send_their_backlog() -> None:
    rates = FaultRates(offline_per_hour=0.02, offline_hours=(1.0, 2.0))
    r = run(rates, n=300, interval=600.0, hours=48, tick=300.0)
    expected = 0.02 * r.online_device_hours
    assert 0.8 * expected < len(r.went_offline) < 1.2 * expected
    assert sorted(keys(r.sent)) == sorted(keys(r.planned))  # nothing lost
    still_offline = np.sum(
        np.isfinite(r.injector.offline_until) & (r.injector.offline_until >= 56 * HOUR)
    )
    assert len(r.came_online) + still_offline == len(r.went_offline)
    # Messages measured during an outage go out when the device is back, with
    # their own measurement times and in their own order.
    late = r.send_at > r.sent.time + 1e-9
    assert late.sum() > len(r.went_offline) * 5  # an outage of 1-2 h holds 6-12 messages
    for device in np.unique(r.sent.device[late])[:20]:
        rows = np.flatnonzero(late & (r.sent.device == device))
        assert np.all(r.send_at[rows] >= r.sent.time[rows])
        assert set(r.send_at[rows]) <= set(r.online_at[r.came_online == device])
        assert np.all(np.diff(r.sent.seq[rows]) > 0)


def test_a_run_with_a_seed_is_repeatable() -> None:
    rates = FaultRates(
        offline_per_hour=0.05,
        duplicate=0.05,
        out_of_order=0.05,
        clock_skew=0.1,
        malformed=0.05,
        implausible=0.05,
    )
    a, b = (run(rates, hours=4, seed=11, drain_hours=3) for _ in range(2))
    assert keys(a.sent) == keys(b.sent)
    np.testing.assert_array_equal(a.sent.values, b.sent.values)
    np.testing.assert_array_equal(a.send_at, b.send_at)
    c = run(rates, hours=4, seed=12, drain_hours=3)
    assert keys(a.sent) != keys(c.sent)


def test_low_battery_devices_report_below_20_percent() -> None:
    sc = replace(scenario.load("quiet"), faults=FaultRates(low_battery=0.25))
    sim = Simulation(sc, n_patients=200, seed=2)
    last: dict[str, int] = {}
    for t in range(0, 24 * 3600, 900):
        for o in sim.tick(float(t), t + 900.0):
            if o.kind == "status":
                last[o.device_id] = json.loads(o.payload)["battery"]
    low = np.array([v < 20 for v in last.values()])
    assert len(last) == len(sim.devices) == 800
    assert 0.19 < low.mean() < 0.31
    weak = {sim.devices[i].device_id for i in np.flatnonzero(sim.faults.weak_battery)}
    assert {d for d, v in last.items() if v < 20} == weak


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"duplicate": -0.1}, "duplicate must be a finite number >= 0"),
        ({"malformed": 1.5}, "malformed is a probability"),
        ({"offline_per_hour": float("nan")}, "offline_per_hour"),
        ({"offline_hours": (3.0, 1.0)}, "offline_hours"),
        ({"clock_skew": 0.1, "clock_skew_minutes": 0.5}, "clock_skew_minutes"),
    ],
)
def test_fault_rates_are_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FaultRates(**kwargs)
