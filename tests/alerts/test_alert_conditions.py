"""Conditions from data (alerts/conditions.py, alerts/news2_conditions.py) and the reasons
a clinician reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.conditions import device_conditions, overdue_conditions, trend_conditions
from alerts.lifecycle import BATTERY_LOW, DEVICE_OFFLINE, NEWS2, OVERDUE, SCORE_RISING, SPO2_FALLING
from alerts.news2 import PARAMETERS
from alerts.news2_conditions import news2_conditions
from alerts.reasons import news2_reason
from alerts.rules import Severity
from alerts.scoring import Observations, Settings, score_rows

T0 = np.datetime64("2026-11-23T08:00:00", "us")
NOW0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NORMAL = {"respiratory_rate": 16, "spo2": 97, "on_oxygen": 0, "systolic_bp": 120,
          "heart_rate": 70, "consciousness": 0, "temperature": 37.0}


def at(minutes: float) -> np.datetime64:
    return T0 + np.timedelta64(int(minutes * 60_000_000), "us")


def now(minutes: float) -> datetime:
    return NOW0 + timedelta(minutes=minutes)


def history(*sets: tuple[int, float, dict]):
    """Score rows for (patient, minutes, changes-to-normal) sets."""
    rows = [(p, m, name, v) for p, m, changes in sets for name, v in {**NORMAL, **changes}.items()]
    obs = Observations(np.array([r[0] for r in rows]), np.array([at(r[1]) for r in rows]),
                       np.array([PARAMETERS.index(r[2]) for r in rows]),
                       np.array([r[3] for r in rows], float))
    n = max(r[0] for r in rows) + 1
    table = score_rows(obs, Settings.empty(), np.array([at(-1000)] * n), at(10_000),
                       np.timedelta64(12, "h"))
    return table, obs


HIGH = {"respiratory_rate": 26, "spo2": 93, "on_oxygen": 1}  # 3 + 2 + 2 = 7
IDS, WARDS = ["p0", "p1"], ["w", "w"]


def test_latest_score_decides_while_it_holds() -> None:
    table, _ = history((0, 0, {}), (0, 10, HIGH), (1, 0, {"respiratory_rate": 26}))
    found = {c.patient_id: c for c in news2_conditions(table, IDS, WARDS, set())}
    assert found["p0"].severity == Severity.EMERGENCY and found["p0"].cleared_at is None
    assert found["p0"].condition_time == now(10)
    assert found["p0"].reason == ("NEWS2 7 (high) at 08:10: RR 26 scores 3,"
                                  " SpO2 93 on oxygen scores 2+2")
    assert found["p1"].severity == Severity.URGENT  # a single 3: low-medium


def test_cleared_history_carries_the_raising_score_and_when_it_cleared() -> None:
    table, _ = history((0, 0, HIGH), (0, 5, HIGH), (0, 12, {}), (0, 20, {}))
    [c] = news2_conditions(table, IDS, WARDS, set())
    assert c.severity == Severity.EMERGENCY
    assert (c.condition_time, c.cleared_at) == (now(5), now(12))
    assert c.latest.startswith("now NEWS2 0 (zero)")


def test_quiet_patients_get_no_condition_unless_alerted() -> None:
    table, _ = history((0, 0, {}), (1, 0, {}))
    assert news2_conditions(table, IDS, WARDS, set()) == []
    [c] = news2_conditions(table, IDS, WARDS, {("p1", NEWS2, "")})
    assert c.patient_id == "p1" and c.severity is None


def test_trends_at_now() -> None:
    table, obs = history((0, 0, {}), (0, 60, {"respiratory_rate": 22, "heart_rate": 95}),  # 0 -> 3
                         (1, 20, {"spo2": 98}), (1, 50, {"spo2": 95}))  # fell 3 in 30 min
    spo2 = obs.param == PARAMETERS.index("spo2")
    found = {(c.patient_id, c.kind): c for c in trend_conditions(
        table, obs.patient[spo2], obs.time[spo2], obs.value[spo2], now(61), IDS, WARDS, set())}
    assert set(found) == {("p0", SCORE_RISING), ("p1", SPO2_FALLING)}
    assert found["p0", SCORE_RISING].reason == "NEWS2 rose from 0 to 3 within 6 h"
    assert found["p1", SPO2_FALLING].reason == "SpO2 fell from 98 % to 95 % within 1 h"
    assert found["p1", SPO2_FALLING].severity == Severity.LOW
    later = trend_conditions(table, obs.patient[spo2], obs.time[spo2], obs.value[spo2],
                             now(120), IDS, WARDS, {("p1", SPO2_FALLING, "")})
    assert [(c.patient_id, c.kind, c.severity) for c in later] == [
        ("p0", SCORE_RISING, Severity.LOW), ("p1", SPO2_FALLING, None)]


def test_overdue_by_band_and_from_admission() -> None:
    nat = np.datetime64("NaT", "us")
    found = overdue_conditions(
        ["a", "b", "c", "d"], ["w"] * 4,
        admitted_at=np.array([at(-2000), at(-2000), at(-100), at(-2000)]),
        last_complete=np.array([at(-61), at(-59), nat, nat]),
        monitoring_band=["medium", "medium", None, "zero"], now=now(0),
        live={("b", OVERDUE, "")})
    by = {c.patient_id: c for c in found}
    assert by["a"].severity == Severity.URGENT  # a missed hourly set after medium
    assert "the medium band" in by["a"].reason and "every 1 h" in by["a"].reason
    assert by["b"].severity is None  # live alert: judged, clear
    assert "c" not in by  # admitted 100 min ago, 12 h allowed
    assert by["d"].severity == Severity.LOW and "since admission" in by["d"].reason


@pytest.mark.parametrize(("band", "minutes", "severity"), [
    ("high", 15, Severity.EMERGENCY), ("medium", 60, Severity.URGENT),
    ("low-medium", 60, Severity.URGENT), ("low", 240, Severity.LOW),
    ("zero", 720, Severity.LOW)])
def test_overdue_interval_and_severity_follow_the_monitoring_band(
        band: str, minutes: int, severity: Severity) -> None:
    """Hazard 1: silent after a high score is an emergency after 15 min, not a low
    alert after 12 h.  The band's interval, boundary included, is not yet overdue."""
    def judge(age: float):
        return overdue_conditions(["a"], ["w"], admitted_at=np.array([at(-5000)]),
                                  last_complete=np.array([at(-age)]), monitoring_band=[band],
                                  now=now(0), live=set())
    assert judge(minutes) == []
    [c] = judge(minutes + 0.5)
    assert c.severity == severity and c.band == band


def test_devices_offline_by_will_or_silence_and_battery() -> None:
    nat = np.datetime64("NaT", "us")
    found = device_conditions(
        ["d1", "d2", "d3", "d4"], ["oximeter"] * 4, ["p"] * 4, ["w"] * 4,
        last_seen=np.array([at(-5), at(-31), at(-1), nat]),
        assigned_from=np.array([at(-1000), at(-1000), at(-1000), at(-10)]),
        said_offline=[False, False, True, False], battery=[50, 15, np.nan, 20.0], now=now(0),
        expected_interval=timedelta(minutes=15), live=set())
    got = {(c.device_id, c.kind): c for c in found}
    assert set(got) == {("d2", DEVICE_OFFLINE), ("d2", BATTERY_LOW), ("d3", DEVICE_OFFLINE),
                        ("d4", BATTERY_LOW)}
    assert "silent since" in got["d2", DEVICE_OFFLINE].reason
    assert "went offline" in got["d3", DEVICE_OFFLINE].reason
    assert got["d2", BATTERY_LOW].severity == Severity.INFO
    assert got["d2", BATTERY_LOW].reason == "Device d2 (oximeter) battery 15 % (at or below 20 %)"


def test_a_device_never_seen_counts_from_its_registration() -> None:
    nat = np.datetime64("NaT", "us")
    args = dict(last_seen=np.array([nat, nat]), assigned_from=np.array([at(-300), at(-300)]),
                said_offline=[False, False], battery=[np.nan, np.nan], now=now(0),
                expected_interval=timedelta(minutes=15), live=set())
    ids = (["d1", "d2"], ["oximeter"] * 2, ["p"] * 2, ["w"] * 2)
    found = device_conditions(*ids, **args, registered_at=np.array([at(-30), at(-31)]))
    assert [c.device_id for c in found] == ["d2"]  # 30 min exactly is not yet two missed
    assert len(device_conditions(*ids, **args)) == 2  # assigned 5 h ago, never registered


def test_reason_wording() -> None:
    scores = [3, 2, 2, 1, 0, 3, 1]
    inputs = [26, 93, 1, 105, 80, 1, 38.5]
    text = news2_reason(12, "high", scores, inputs)
    assert text == ("NEWS2 12 (high): RR 26 scores 3, SpO2 93 on oxygen scores 2+2,"
                    " systolic BP 105 scores 1, new confusion (C) scores 3,"
                    " temperature 38.5 °C scores 1")
    missing = news2_reason(2, "low", [-1, -1, 2, -1, 0, 0, -1], [np.nan, np.nan, 1, np.nan, 70,
                                                                  0, np.nan], spo2_scale=2)
    assert missing == ("NEWS2 2 (low): on oxygen scores 2; incomplete, missing RR, SpO2,"
                       " systolic BP, temperature (a lower bound)")
    zeroed = news2_reason(0, "zero", [0, 0, 0, 0, 0, 0, 0], [16, 97, 0, 120, 105, 0, 37],
                          overridden=[False, False, False, False, True, False, False])
    assert zeroed == "NEWS2 0 (zero): pulse 105 scores 0 (within the patient's accepted range)"


def test_a_score_that_rises_as_missing_parameters_arrive_is_no_trend() -> None:
    # p0 sends heart rate and SpO2 first (score 0, incomplete), then the rest of
    # the set with a temperature of 38.5 and a systolic of 105: 1 + 1 + ... = 3.
    partial = [(0, 0, "heart_rate", 70.0), (0, 0, "spo2", 97.0)]
    rest = [(0, 30, k, float(v)) for k, v in
            {**NORMAL, "temperature": 38.5, "systolic_bp": 105, "heart_rate": 95}.items()]
    rows = partial + rest
    obs = Observations(np.array([r[0] for r in rows]), np.array([at(r[1]) for r in rows]),
                       np.array([PARAMETERS.index(r[2]) for r in rows]),
                       np.array([r[3] for r in rows], float))
    table = score_rows(obs, Settings.empty(), np.array([at(-1000)]), at(10_000),
                       np.timedelta64(12, "h"))
    assert table.total.tolist() == [0, 3] and table.complete.tolist() == [False, True]
    found = trend_conditions(table, obs.patient[:0], obs.time[:0], obs.value[:0], now(31),
                             ["p0"], ["w"], set())
    assert found == []
