"""Score rows from observation rows (alerts/scoring.py): instants, settings in force, merging."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from alerts.news2 import PARAMETERS
from alerts.scoring import Observations, ScoreTable, Settings, score_rows
from benchmarks.news2_core import score_row_python

T0 = np.datetime64("2026-11-23T08:00:00", "us")
FRESH = np.timedelta64(12 * 3600, "s")
COL = {p: i for i, p in enumerate(PARAMETERS)}
NORMAL = {"respiratory_rate": 16, "spo2": 97, "on_oxygen": 0, "systolic_bp": 120,
          "heart_rate": 70, "consciousness": 0, "temperature": 37.0}


def at(minutes: float) -> np.datetime64:
    return T0 + np.timedelta64(int(minutes * 60_000_000), "us")


def observations(*rows: tuple[int, float, str, float]) -> Observations:
    """(patient, minutes, parameter, value) rows."""
    p, m, name, v = zip(*rows, strict=True)
    return Observations(np.array(p, np.int64), np.array([at(x) for x in m]),
                        np.array([COL[n] for n in name], np.int64), np.array(v, float))


def full_set(patient: int, minutes: float, **changes: float) -> list[tuple]:
    values = {**NORMAL, **changes}
    return [(patient, minutes, name, value) for name, value in values.items()]


def settings(*rows: dict) -> Settings:
    def col(key, default, dtype):
        return np.array([r.get(key, default) for r in rows], dtype=dtype)
    return Settings(
        patient=col("patient", 0, np.int64), kind=col("kind", "spo2_scale", str),
        parameter=col("parameter", "", str), spo2_scale=col("spo2_scale", np.nan, float),
        low=col("low", np.nan, float), high=col("high", np.nan, float),
        valid_from=np.array([at(r["from"]) for r in rows], "datetime64[us]"),
        valid_to=np.array([at(r["to"]) if "to" in r else np.datetime64("NaT") for r in rows],
                          "datetime64[us]"))


def since(*minutes: float) -> np.ndarray:
    return np.array([at(m) for m in minutes], "datetime64[us]")


def test_one_row_per_instant_at_or_after_since_per_patient() -> None:
    obs = observations(*full_set(0, 0), *full_set(0, 10, respiratory_rate=26),
                       *full_set(1, 5), (1, 6, "heart_rate", 135))
    table = score_rows(obs, Settings.empty(), since(10, 0), at(60), FRESH)
    assert list(zip(table.patient.tolist(), table.time.tolist(), strict=True)) == [
        (0, at(10).item()), (1, at(5).item()), (1, at(6).item())]
    assert table.total.tolist() == [3, 0, 3]
    assert table.band.tolist() == ["low-medium", "zero", "low-medium"]
    assert table.complete.all()
    assert table.inputs[2, COL["heart_rate"]] == 135 and table.inputs[2, COL["spo2"]] == 97


def test_each_instant_scores_the_latest_values_then() -> None:
    obs = observations(*full_set(0, 0), (0, 3, "spo2", 91), (0, 7, "temperature", 39.5),
                       (1, 2, "heart_rate", 45))
    table = score_rows(obs, Settings.empty(), since(0, 0), at(60), FRESH)
    latest = [NORMAL, {**NORMAL, "spo2": 91}, {**NORMAL, "spo2": 91, "temperature": 39.5},
              {"heart_rate": 45}]
    assert table.patient.tolist() == [0, 0, 0, 1]
    for row, values in enumerate(latest):
        columns = [values.get(p, np.nan) for p in PARAMETERS]
        assert tuple(table.sub_scores[row].tolist()) == score_row_python(*columns, 1)
    # SpO2 91 on scale 1 scores 3; 39.5 Cel scores 2; a pulse of 45 scores 1.
    assert table.total.tolist() == [0, 3, 5, 1]
    assert table.missing_names(3) == ["respiratory_rate", "spo2", "on_oxygen", "systolic_bp",
                                      "consciousness", "temperature"]


def test_spo2_scale_from_its_valid_from_and_a_setting_change_is_an_instant() -> None:
    obs = observations(*full_set(0, 0, spo2=97, on_oxygen=1), *full_set(0, 30, spo2=97,
                                                                         on_oxygen=1))
    table = score_rows(obs, settings({"spo2_scale": 2, "from": 20}), since(0), at(60), FRESH)
    assert table.time.tolist() == [at(0).item(), at(20).item(), at(30).item()]
    assert table.spo2_scale.tolist() == [1, 2, 2]
    # Scale 1: SpO2 97 scores 0 + 2 for oxygen; scale 2 on oxygen: 97 scores 3, + 2.
    assert table.total.tolist() == [2, 5, 5]


def test_a_setting_that_ends_returns_to_the_chart() -> None:
    obs = observations(*full_set(0, 0, heart_rate=105), *full_set(0, 40, heart_rate=105))
    accepted = {"kind": "accepted_range", "parameter": "heart_rate", "low": 95, "high": 110,
                "from": 0, "to": 30}
    table = score_rows(obs, settings(accepted), since(0), at(60), FRESH)
    assert table.time.tolist() == [at(0).item(), at(30).item(), at(40).item()]
    assert table.total.tolist() == [1, 1, 1]  # the true NEWS2, always
    assert table.adjusted_total.tolist() == [0, 1, 1]
    assert table.adjusted_band.tolist() == ["zero", "low", "low"]
    assert table.overridden[:, COL["heart_rate"]].tolist() == [True, False, False]


def test_a_setting_after_now_adds_no_instant_and_a_bare_instant_is_skipped() -> None:
    obs = observations(*full_set(0, 0))
    later = settings({"spo2_scale": 2, "from": 90}, {"patient": 1, "spo2_scale": 2, "from": 5})
    table = score_rows(obs, later, since(0, 0), at(60), FRESH)
    assert table.time.tolist() == [at(0).item()]  # patient 1 has nothing fresh at 5


def test_merged_prefers_the_newer_row() -> None:
    obs = observations(*full_set(0, 0), *full_set(0, 10, respiratory_rate=26))
    old = score_rows(obs, Settings.empty(), since(0), at(60), FRESH)
    newer = score_rows(observations(*full_set(0, 10)), Settings.empty(), since(10), at(60),
                       FRESH)
    merged = old.merged(newer)
    assert merged.time.tolist() == [at(0).item(), at(10).item()]
    assert merged.total.tolist() == [0, 0]
    assert len(ScoreTable.empty().merged(newer)) == 1


values = st.fixed_dictionaries({
    "respiratory_rate": st.sampled_from([np.nan, 5, 8, 9, 12, 20, 21, 24, 25]),
    "spo2": st.sampled_from([np.nan, 83, 86, 88, 91, 92, 93, 94, 95, 96, 97]),
    "on_oxygen": st.sampled_from([np.nan, 0, 1]),
    "systolic_bp": st.sampled_from([np.nan, 90, 90.5, 101, 111, 219, 220]),
    "heart_rate": st.sampled_from([np.nan, 40, 41, 51, 91, 111, 131]),
    "consciousness": st.sampled_from([np.nan, 0, 1, 4]),
    "temperature": st.sampled_from([np.nan, 35.0, 35.05, 36.1, 38.1, 39.05]),
})


@hsettings(max_examples=150, deadline=None)
@given(sets=st.lists(values, min_size=1, max_size=6), scale=st.sampled_from([1, 2]))
def test_each_row_matches_the_per_row_reference(sets: list[dict], scale: int) -> None:
    rows = [(0, 10 * k, name, v) for k, s in enumerate(sets) for name, v in s.items()
            if not np.isnan(v)]
    if not rows:
        return
    table = score_rows(observations(*rows), settings({"spo2_scale": scale, "from": -1}),
                       since(0), at(600), FRESH)
    for i in range(len(table)):
        reference = score_row_python(*table.inputs[i].tolist(), scale)
        assert tuple(table.sub_scores[i].tolist()) == reference


def test_nothing_to_score() -> None:
    assert len(score_rows(Observations.empty(), Settings.empty(), since(0), at(0), FRESH)) == 0


@pytest.mark.parametrize("minutes", [0, 59.99])
def test_since_is_inclusive(minutes: float) -> None:
    obs = observations(*full_set(0, minutes))
    assert len(score_rows(obs, Settings.empty(), since(minutes), at(60), FRESH)) == 1


def test_a_value_the_chart_cannot_score_is_left_out_not_fatal() -> None:
    obs = observations(*full_set(0, 0), (0, 5, "spo2", 140), (0, 5, "on_oxygen", 0.5),
                       (0, 5, "consciousness", 7), (0, 5, "heart_rate", -3))
    table = score_rows(obs, Settings.empty(), since(0), at(60), FRESH)
    assert len(table) == 1 and table.total.tolist() == [0]  # as if not measured at 5


# --- completeness, staleness and the monitoring band (hazard 1) -----------------------------


def spo2_every_15_min(until_minutes: int) -> list[tuple]:
    return [(0, m, "spo2", 97) for m in range(15, until_minutes + 1, 15)]


def test_old_values_never_make_a_set_complete_and_ageing_out_is_no_improvement() -> None:
    """Hazard 1, the issue's example: a full set at 00:00 with RR 26 (3, low-medium),
    then only SpO2 every 15 min.  The 1-h interval of low-medium makes every set after
    01:00 incomplete with RR stale; at 12:15 RR ages out of the 12-h freshness window
    (with the rest of that set) and the total drops to 0, but the set shows the
    low-medium band all the same."""
    obs = observations(*full_set(0, 0, respiratory_rate=26), *spo2_every_15_min(13 * 60))
    table = score_rows(obs, Settings.empty(), since(0), at(13 * 60), FRESH)
    minutes = (table.time - T0) // np.timedelta64(60, "s")
    by = {int(m): i for i, m in enumerate(minutes)}
    assert table.complete[[by[0], by[15], by[60]]].all()  # RR within the hour
    assert not table.complete[by[75]] and table.stale[by[75], COL["respiratory_rate"]]
    assert table.monitoring_band[by[75]] == "low-medium" and table.total[by[75]] == 3
    late = by[12 * 60 + 15]
    assert table.total[late] == 0 and "respiratory_rate" in table.missing_names(late)
    assert table.monitoring_band[late] == "low-medium"
    assert table.effective_level.tolist()[late] == 2  # low-medium, not zero
    assert not table.complete[by[75]:].any()


def test_input_times_are_each_values_measurement_time() -> None:
    obs = observations(*full_set(0, 0), (0, 30, "spo2", 95))
    table = score_rows(obs, Settings.empty(), since(0), at(60), FRESH)
    assert table.input_times[1, COL["spo2"]] == at(30)
    assert table.input_times[1, COL["temperature"]] == at(0)
    first_missing = score_rows(observations((0, 0, "spo2", 95)), Settings.empty(), since(0),
                               at(60), FRESH)
    assert np.isnat(first_missing.input_times[0, COL["temperature"]])


def test_a_reassuring_partial_reading_after_a_high_score_shows_the_high_band() -> None:
    """Hazard 1: one reassuring partial reading, 20 min after a high set (so the rest is
    older than high's 15-min interval), is incomplete: it shows high until a complete set."""
    obs = observations(*full_set(0, 0, respiratory_rate=26, spo2=93, on_oxygen=1),
                       (0, 20, "spo2", 98), (0, 20, "on_oxygen", 0),
                       (0, 20, "respiratory_rate", 16))
    table = score_rows(obs, Settings.empty(), since(0), at(60), FRESH)
    assert table.band.tolist() == ["high", "zero"] and table.complete.tolist() == [True, False]
    assert table.monitoring_band.tolist() == ["high", "high"]
    assert table.effective_level.tolist() == [4, 4]
    # A complete set (everything within 15 min) that no longer scores is the way down.
    obs = observations(*full_set(0, 0, respiratory_rate=26, spo2=93, on_oxygen=1),
                       *full_set(0, 20))
    table = score_rows(obs, Settings.empty(), since(0), at(60), FRESH)
    assert table.complete.tolist() == [True, True] and table.effective_level.tolist() == [4, 0]


def test_the_monitoring_band_is_carried_in_from_before_since() -> None:
    """A patient silent for a day after a high score: the seed carries the high band."""
    obs = observations((0, 24 * 60, "spo2", 98), (0, 24 * 60, "on_oxygen", 0))
    table = score_rows(obs, Settings.empty(), since(24 * 60), at(25 * 60), FRESH,
                       seed=np.array([4], np.int8))
    assert table.monitoring_band.tolist() == ["high"] and table.effective_level.tolist() == [4]
    unseeded = score_rows(obs, Settings.empty(), since(24 * 60), at(25 * 60), FRESH)
    assert unseeded.effective_level.tolist() == [0]


def test_monitoring_follows_the_adjusted_band() -> None:
    obs = observations(*full_set(0, 0, heart_rate=105))  # true NEWS2 1 (low)
    accepted = {"kind": "accepted_range", "parameter": "heart_rate", "low": 95, "high": 110,
                "from": -1, "to": 600}
    table = score_rows(obs, settings(accepted), since(0), at(60), FRESH)
    assert (table.band[0], table.adjusted_band[0], table.monitoring_band[0]) == (
        "low", "zero", "zero")
