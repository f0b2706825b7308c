"""The simulation as the runner sees it: a device table, last wills, and per
slice of simulated time the publications in order, repeatable from a seed."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from simulators import scenario
from simulators.faults import FaultRates
from simulators.plan import DEFAULT_START, Simulation

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def run(sim: Simulation, hours: float, step: float = 60.0) -> list:
    return [o for t in np.arange(0.0, hours * 3600, step) for o in sim.tick(float(t), t + step)]


def readings(out: list, device_id: str) -> list[dict]:
    found = []
    for o in out:
        if o.kind == "readings" and o.device_id == device_id:
            try:
                found.extend(r for r in json.loads(o.payload)["readings"] if "time" in r)
            except (ValueError, KeyError):
                continue  # a malformed message, on purpose
    return found


def test_a_seeded_run_is_byte_identical() -> None:
    a = run(Simulation(scenario.load("mixed"), seed=3), hours=6)
    b = run(Simulation(scenario.load("mixed"), seed=3), hours=6)
    assert len(a) > 1000 and a == b
    c = run(Simulation(scenario.load("mixed"), seed=4), hours=6)
    assert [o.payload for o in a] != [o.payload for o in c]


def test_device_and_patient_tables() -> None:
    sc = scenario.load("mixed")
    sim = Simulation(sc, seed=12)
    ids = [d.device_id for d in sim.devices]
    assert len(set(ids)) == len(ids) and all(ID.match(i) for i in ids)
    assert ids[0] == f"sim-12-00000-{sim.devices[0].kind}"
    assert {d.ward_id for d in sim.devices} == {sc.ward_id}
    patients = {p.patient_id: p for p in sim.patients}
    assert len(patients) == len(sim.patients) == sc.patients
    assert {d.patient_id for d in sim.devices} == set(patients)
    assert sim.patients[0].patient_id == "sim-p12-00000"
    for p in sim.patients:
        assert ID.match(p.patient_id)
        assert p.spo2_scale == (2 if "COPD" in p.group else 1)
    hypoxia = next(p for p in sim.patients if p.course == "sudden_hypoxia")
    kinds = {d.kind for d in sim.devices if d.patient_id == hypoxia.patient_id}
    assert kinds == {"oximeter", "tablet", "patch"}


def test_speed_and_start_come_from_the_scenario_unless_given() -> None:
    sc = scenario.load("mixed")
    assert Simulation(sc).speed == 60 and Simulation(sc, speed=5).speed == 5
    assert Simulation(sc).start == DEFAULT_START
    start = datetime(2027, 1, 1, 12, 30, 15, 999, tzinfo=UTC)
    sim = Simulation(sc, start=start)
    assert sim.time(60) == datetime(2027, 1, 1, 12, 31, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        Simulation(sc, start=datetime(2027, 1, 1))
    assert len(Simulation(sc, n_patients=100).patients) == 100


def test_ticks_must_follow_each_other() -> None:
    sim = Simulation(scenario.load("quiet"))
    sim.tick(0.0, 10.0)
    with pytest.raises(ValueError, match=r"expected t0 = 10\.0"):
        sim.tick(20.0, 30.0)
    with pytest.raises(ValueError):
        sim.tick(10.0, 10.0)


def test_a_device_due_several_times_in_a_slice_numbers_its_messages_in_order() -> None:
    sim = Simulation(scenario.load("load"), n_patients=5)
    out = sim.tick(0.0, 100.0)
    for device in sim.devices:
        docs = [
            json.loads(o.payload)
            for o in out
            if o.kind == "readings" and o.device_id == device.device_id
        ]
        assert [d["id"].rsplit("-", 1)[1] for d in docs] == [f"{i:06d}" for i in range(1, 11)]
        times = [d["readings"][0]["time"] for d in docs]
        assert times == sorted(times) and len(set(times)) == 10


def test_publications_are_in_time_order_within_their_slice() -> None:
    sim = Simulation(scenario.load("mixed"), seed=2)
    for t in np.arange(0.0, 12 * 3600, 300.0):
        out = sim.tick(float(t), t + 300.0)
        at = [o.at for o in out]
        assert at == sorted(at) and all(t <= a < t + 300 for a in at)


def test_last_wills() -> None:
    sim = Simulation(scenario.load("quiet"))
    will = sim.last_will(3)
    assert will.topic == f"ward/v1/devices/{sim.devices[3].device_id}/status"
    assert json.loads(will.payload) == {"online": False}
    assert will.retain and will.qos == 1 and will.kind == "will"


def test_an_offline_device_goes_quiet_then_comes_back_with_its_backlog() -> None:
    faults = FaultRates(offline_per_hour=0.05, offline_hours=(1.0, 2.0))
    sc = replace(
        scenario.load("quiet"),
        faults=faults,
        interval_s={**scenario.load("quiet").interval_s, "oximeter": 600.0},
    )
    out = run(Simulation(sc, seed=9), hours=24, step=300.0)
    wills = [o for o in out if o.kind == "will"]
    assert len(wills) > 20
    checked = 0
    for will in wills:
        later = [o for o in out if o.device_id == will.device_id and o.at > will.at]
        if not later or "oximeter" not in will.device_id:
            continue
        back = later[0]
        assert back.kind == "status" and json.loads(back.payload)["online"] is True
        backlog = [o for o in later[1:] if o.kind == "readings" and o.at == back.at]
        assert len(backlog) >= 5  # 1-2 h of readings every 10 min
        offline_from = DEFAULT_START + timedelta(seconds=will.at)
        for o in backlog:
            time = datetime.fromisoformat(json.loads(o.payload)["readings"][0]["time"])
            assert (
                offline_from - timedelta(seconds=1)
                <= time
                <= DEFAULT_START + timedelta(seconds=back.at)
            )
        checked += 1
    assert checked > 3


def test_the_demo_ward_deteriorates_within_the_first_simulated_hours() -> None:
    sim = Simulation(scenario.load("mixed"), seed=1)
    out = run(sim, hours=4)
    sepsis = next(p for p in sim.patients if p.course == "sepsis")
    hypoxia = next(p for p in sim.patients if p.course == "sudden_hypoxia")
    patch = readings(out, sepsis.patient_id.replace("sim-p1", "sim-1") + "-patch")
    hr = [(r["time"], r["value"]) for r in patch if r["type"] == "heart_rate"]
    first = np.median([v for t, v in hr if t < "2026-11-23T08:30"])
    late = np.median([v for t, v in hr if "2026-11-23T10:30" <= t < "2026-11-23T11:00"])
    assert late > first + 20  # medians: a fault may have put a 900 among them
    oximeter = readings(out, hypoxia.patient_id.replace("sim-p1", "sim-1") + "-oximeter")
    spo2 = [
        r["value"]
        for r in oximeter
        if r["type"] == "spo2" and "2026-11-23T08:20" <= r["time"] < "2026-11-23T08:40"
    ]
    assert len(spo2) >= 15 and np.median(spo2) < 88


def test_nothing_is_published_for_a_device_between_its_will_and_its_return() -> None:
    faults = FaultRates(offline_per_hour=0.05, out_of_order=0.1, duplicate=0.1)
    sim = Simulation(replace(scenario.load("mixed"), faults=faults), seed=8)
    offline: set[str] = set()
    wills = 0
    for o in run(sim, hours=24, step=600.0):
        if o.kind == "will":
            assert o.device_id not in offline
            offline.add(o.device_id)
            wills += 1
        elif o.kind == "status" and o.device_id in offline:
            assert json.loads(o.payload)["online"] is True
            offline.discard(o.device_id)
        else:
            assert o.device_id not in offline, o
    assert wills > 50
