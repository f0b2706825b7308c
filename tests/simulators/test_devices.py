"""Devices: schedules, measurement noise and rounding, batteries, and messages
that keep the device contract (design.md, "Device contract (MQTT)")."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest import decode
from simulators import messages as m
from simulators import scenario
from simulators.devices import KIND_NAMES, KINDS, Batteries, Schedule, device_units, measure
from simulators.faults import FaultRates
from simulators.plan import Simulation
from ward.domain import TYPES, ReadingType

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TOPIC = re.compile(r"^ward/v1/devices/(?P<device>[^/]+)/(?P<what>readings|status)$")


def check_readings_message(payload: bytes, units: dict[str, str | None]) -> dict:
    """Assert a readings payload keeps the contract; return it parsed."""
    doc = json.loads(payload)
    assert set(doc) == {"id", "readings"} and isinstance(doc["id"], str) and doc["id"]
    assert [r["type"] for r in doc["readings"]] == list(units)
    for r in doc["readings"]:
        assert TIME.match(r["time"]), r
        datetime.fromisoformat(r["time"])
        value, unit = r["value"], units[r["type"]]
        if unit is None:
            assert "unit" not in r
        else:
            assert r["unit"] == unit
        if r["type"] == "consciousness":
            assert value in ("A", "C", "V", "P", "U")
        elif r["type"] == "on_oxygen":
            assert isinstance(value, bool)
        elif r["type"] == "temperature":
            assert isinstance(value, float) and round(value, 1) == value
        else:
            assert isinstance(value, int) and not isinstance(value, bool)
    return doc


def test_contract_types_and_units_match_the_ward_domain() -> None:
    assert set(m.TYPES) == {t.value for t in ReadingType}
    for name, unit in m.UNITS.items():
        if unit is not None:
            assert TYPES[ReadingType(name)].unit == unit


def test_schedule_returns_each_due_time_once_whatever_the_slicing() -> None:
    interval = np.array([10.0, 25.0, 60.0, 3600.0])
    one = Schedule(np.array([0.0, 5.0, 59.0, 100.0]), interval)
    many = Schedule(one.next_due.copy(), interval)
    d1, t1 = one.due(0.0, 7200.0)
    pieces = [many.due(a, a + 8.0) for a in np.arange(0.0, 7200.0, 8.0)]
    d2 = np.concatenate([p[0] for p in pieces])
    t2 = np.concatenate([p[1] for p in pieces])
    assert sorted(zip(d1.tolist(), t1.tolist(), strict=True)) == sorted(
        zip(d2.tolist(), t2.tolist(), strict=True)
    )
    assert np.bincount(d1).tolist() == [720, 288, 120, 2]
    assert np.all(np.diff(t1) >= 0) and t1.min() >= 0 and t1.max() < 7200
    np.testing.assert_array_equal(one.next_due, many.next_due)


def test_schedule_of_ten_thousand_devices_is_one_array_operation() -> None:
    sched = Schedule(np.random.default_rng(0).uniform(0, 10, 10_000), np.full(10_000, 10.0))
    for t in range(0, 60, 10):
        device, times = sched.due(float(t), t + 10.0)
        assert len(device) == 10_000 and len(np.unique(device)) == 10_000
        assert np.all((times >= t) & (times < t + 10))


def test_schedule_refuses_a_zero_interval() -> None:
    with pytest.raises(ValueError, match="> 0"):
        Schedule(np.zeros(2), np.array([10.0, 0.0]))


def constant_state(rows: int, **override: float) -> dict[str, np.ndarray]:
    state = {
        "respiratory_rate": 16.0,
        "spo2": 90.0,
        "systolic_bp": 130.0,
        "diastolic_bp": 80.0,
        "heart_rate": 75.0,
        "temperature": 37.0,
    } | override
    out: dict[str, np.ndarray] = {k: np.full(rows, v) for k, v in state.items()}
    out["consciousness"] = np.full(rows, "A")
    out["on_oxygen"] = np.zeros(rows, bool)
    return out


@pytest.mark.parametrize(
    ("kind", "type_", "sd"),
    [
        ("oximeter", "spo2", 2.0),
        ("bp_cuff", "systolic_bp", 5.0),
        ("thermometer", "temperature", 0.2),
        ("patch", "respiratory_rate", 2.0),
        ("patch", "heart_rate", 2.0),
    ],
)
def test_measurement_noise_has_the_device_s_size(kind: str, type_: str, sd: float) -> None:
    rows = 20_000
    values = measure(
        constant_state(rows),
        np.full(rows, KIND_NAMES.index(kind), np.int8),
        np.zeros(rows, bool),
        np.random.default_rng(1),
    )
    col = values[:, m.COLUMN[type_]]
    assert abs(col.std() - sd) < 0.15 * sd + 0.03  # rounding adds a little
    assert abs(col.mean() - constant_state(1)[type_][0]) < 0.1 * sd


def test_measure_fills_only_the_kind_s_types_rounded_like_a_device() -> None:
    rows = 500
    rng = np.random.default_rng(2)
    kind = rng.integers(0, len(KIND_NAMES), rows).astype(np.int8)
    values = measure(constant_state(rows, spo2=99.5), kind, np.zeros(rows, bool), rng)
    for i, k in enumerate(kind):
        measured = {t for t in m.TYPES if not np.isnan(values[i, m.COLUMN[t]])}
        assert measured == set(KINDS[KIND_NAMES[k]].types)
    spo2 = values[:, m.COLUMN["spo2"]]
    spo2 = spo2[~np.isnan(spo2)]
    assert spo2.max() <= 100 and np.all(spo2 == np.round(spo2))
    temp = values[:, m.COLUMN["temperature"]]
    temp = temp[~np.isnan(temp)]
    assert np.allclose(temp * 10, np.round(temp * 10))


def test_fahrenheit_thermometers_convert() -> None:
    rows = 5_000
    values = measure(
        constant_state(rows),
        np.full(rows, KIND_NAMES.index("thermometer"), np.int8),
        np.ones(rows, bool),
        np.random.default_rng(3),
    )
    assert abs(values[:, m.COLUMN["temperature"]].mean() - 98.6) < 0.05
    assert device_units("thermometer", fahrenheit=True) == {"temperature": "[degF]"}
    assert device_units("thermometer") == {"temperature": "Cel"}


def test_batteries_drain_by_kind_and_weak_ones_fall_below_20_percent() -> None:
    kind = np.repeat(np.arange(len(KIND_NAMES), dtype=np.int8), 50)
    weak = np.zeros(len(kind), bool)
    weak[::5] = True
    batteries = Batteries(kind, weak, np.random.default_rng(4))
    start = batteries.level.copy()
    batteries.drain(1.0, np.ones(len(kind), np.int64))
    assert np.all(batteries.level < start)
    for _ in range(48):
        batteries.drain(1.0, np.ones(len(kind), np.int64))
    assert np.all(batteries.level[weak] < 20) and np.all(batteries.level[weak] >= 2)
    assert np.all(batteries.level[~weak] >= Batteries.RECHARGE_BELOW - 5)


@given(
    values=st.lists(st.floats(0, 200), min_size=len(m.TYPES), max_size=len(m.TYPES)),
    kind=st.sampled_from(KIND_NAMES),
    fahrenheit=st.booleans(),
)
def test_encoded_readings_keep_the_contract(
    values: list[float], kind: str, fahrenheit: bool
) -> None:
    values[m.COLUMN["consciousness"]] = min(int(values[m.COLUMN["consciousness"]]) % 5, 4)
    values[m.COLUMN["on_oxygen"]] = float(values[m.COLUMN["on_oxygen"]] > 100)
    units = device_units(kind, fahrenheit)
    payload = m.encode_readings("abc-000001", "2026-11-23T08:00:00Z", values, units)
    check_readings_message(payload, units)


def test_simulated_messages_keep_the_contract() -> None:
    sim = Simulation(scenario.load("quiet"), seed=5)
    sim_units = {d.device_id: d.kind for d in sim.devices}
    out = [o for t in range(0, 86_400, 600) for o in sim.tick(float(t), t + 600.0)]
    ids: dict[str, set[str]] = {}
    readings = [o for o in out if o.kind == "readings"]
    assert len(readings) > 400
    for o in out:
        match = TOPIC.match(o.topic)
        assert match and match["device"] == o.device_id and ID.match(o.device_id)
        assert o.qos == 1
        if o.kind == "readings":
            assert not o.retain
            doc = check_readings_message(o.payload, device_units(sim_units[o.device_id]))
            assert doc["id"] not in ids.setdefault(o.device_id, set())
            ids[o.device_id].add(doc["id"])
        else:
            status = json.loads(o.payload)
            assert o.retain and status["online"] is True
            assert isinstance(status["battery"], int) and 0 <= status["battery"] <= 100
            assert isinstance(status["firmware"], str) and isinstance(status["signal"], int)


def test_the_ingest_decoder_accepts_every_simulated_reading() -> None:
    # The mixed ward without its faults: every course, [degF] thermometers.
    sim = Simulation(replace(scenario.load("mixed"), faults=FaultRates()), seed=6)
    now = sim.time(2 * 86_400)
    decoded = 0
    for t in range(0, 2 * 86_400, 900):
        for o in sim.tick(float(t), t + 900.0):
            if o.kind == "readings":
                result = decode.decode_message(o.payload, o.device_id, now=now)
                assert not result.refusals, (o.payload, result.refusals)
                assert len(result.readings) == len(json.loads(o.payload)["readings"])
                decoded += 1
    assert decoded > 5_000


def test_a_ten_thousand_device_tick_runs() -> None:
    sim = Simulation(scenario.load("load"), seed=1)
    assert len(sim.devices) == 10_000
    out = sim.tick(0.0, 10.0)
    assert sum(o.kind == "readings" for o in out) == 10_000
    assert sum(o.kind == "status" for o in out) == 10_000
