"""Ward protocols' rules, pure (ward/protocols.py, ward/protocol_rules.py,
alerts/protocol_conditions.py): the edges of the COVID-19 oximetry levels and of
heart failure's weight gain, bad input refused with its reason, and overdue by
the protocol's monitoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.lifecycle import ALERT_KINDS, OVERDUE
from alerts.protocol_conditions import protocol_conditions, protocol_overdue_conditions
from alerts.rules import Severity
from ward import protocol_rules
from ward.protocol_rules import ProtocolReadings
from ward.protocols import (
    COVID_SPO2,
    HF_GAINS,
    NAMES,
    PROTOCOLS,
    SPO2_LEVEL,
    WEIGHT_GAIN,
    protocol,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
COVID, HF = PROTOCOLS["covid-oximetry"], PROTOCOLS["heart-failure"]
RED, AMBER, GREEN = 0, 1, 2


def _t(hours_ago: float) -> np.datetime64:
    return np.datetime64((NOW - timedelta(hours=hours_ago)).replace(tzinfo=None), "us")


@pytest.mark.parametrize(("spo2", "level"), [
    (100, GREEN), (95, GREEN), (94.9, AMBER), (94, AMBER), (93, AMBER), (92.1, AMBER),
    (92, RED), (91, RED), (40, RED)])
def test_covid_levels_at_their_edges(spo2, level):
    assert protocol_rules.threshold_level([spo2], COVID_SPO2).tolist() == [level]


def test_covid_levels_are_green_amber_red_with_their_severities():
    assert [lv.name for lv in COVID_SPO2.levels] == ["red", "amber", "green"]
    assert [lv.severity for lv in COVID_SPO2.levels] == [Severity.EMERGENCY, Severity.URGENT,
                                                          None]
    # Vectorised: one call, many patients; NaN is "no reading", not red.
    out = protocol_rules.threshold_level([95, 94, 93, 92, np.nan], COVID_SPO2)
    assert out.tolist() == [GREEN, AMBER, AMBER, RED, -1]


@pytest.mark.parametrize("bad", [140, -1, 39.9, np.inf, -np.inf])
def test_an_implausible_spo2_is_refused_with_the_reason(bad):
    with pytest.raises(ValueError, match=r"spo2 .* is not a plausible reading: 40-100 %"):
        protocol_rules.threshold_level([96, bad], COVID_SPO2)


def _gain(weights: list[tuple[float, float]], rule) -> protocol_rules.GainResult:
    """weights: (hours ago, kg) of one patient."""
    return protocol_rules.gain([0] * len(weights), [_t(h) for h, _ in weights],
                               [w for _, w in weights], rule, n_patients=1)


DAY, THREE_DAYS = HF_GAINS


@pytest.mark.parametrize(("before", "after", "alerts"), [
    (70.0, 71.0, False), (70.0, 71.01, True), (79.3, 80.3, False), (80.0, 79.0, False)])
def test_a_day_gain_alerts_above_1_kg_only(before, after, alerts):
    # 79.3 -> 80.3 is 1.0000000000000142 in binary floating point: still 1 kg.
    assert _gain([(24, before), (0, after)], DAY).holds.tolist() == [alerts]


@pytest.mark.parametrize(("gain", "alerts"), [(2.0, False), (2.01, True)])
def test_a_three_day_gain_alerts_above_2_kg_only(gain, alerts):
    # 0.5 kg a day for three days and the rest on the last: never more than 1 kg a day.
    w0 = 80.0
    series = [(72, w0), (48, w0 + 0.5), (24, w0 + 1.0), (0, w0 + gain)]
    assert _gain(series, THREE_DAYS).holds.tolist() == [alerts]
    assert _gain(series, DAY).holds.tolist() == [gain - 1.0 > 1.0]


def test_the_window_reaches_the_previous_days_weight_but_not_further():
    # 08:20 today after 08:00 yesterday (24 h 20 min) is "in a day" ...
    assert _gain([(24 + 1 / 3, 70.0), (0, 71.5)], DAY).holds.tolist() == [True]
    # ... a weight 31 h before is not (1 day and its 6 h slack)
    assert _gain([(31, 70.0), (0, 71.5)], DAY).holds.tolist() == [False]
    # and the lowest in the window counts, not the first: 70 -> 72 -> 71.2 is +1.2 on 70
    r = _gain([(48, 72.0), (24, 70.0), (0, 71.2)], DAY)
    assert r.holds.tolist() == [True] and r.change.tolist() == [1.2]


def test_gain_is_vectorised_and_a_patient_without_an_earlier_weight_decides_nothing():
    r = protocol_rules.gain([0, 1, 0, 2], [_t(24), _t(0), _t(0), _t(5)],
                            [70.0, 90.0, 71.5, np.nan], DAY, n_patients=3)
    assert r.holds.tolist() == [True, False, False]
    assert np.isnan(r.change[1]) and np.isnan(r.latest[2])


@pytest.mark.parametrize("bad", [0.1, 651, np.inf])
def test_an_implausible_weight_is_refused_with_the_reason(bad):
    with pytest.raises(ValueError, match=r"body_weight .* is not a plausible reading"):
        _gain([(24, 70.0), (0, bad)], DAY)


def test_bad_shapes_and_names_are_refused():
    with pytest.raises(ValueError, match="2 patients, 1 times"):
        protocol_rules.gain([0, 0], [_t(1)], [70.0, 71.0], DAY, n_patients=1)
    with pytest.raises(ValueError, match="patient index"):
        protocol_rules.gain([3], [_t(1)], [70.0], DAY, n_patients=1)
    with pytest.raises(ValueError, match="unknown protocol 'covid'; known: news2, covid"):
        protocol("covid")
    assert protocol(None).name == "news2" and tuple(PROTOCOLS) == NAMES


def test_every_protocol_kind_is_an_alert_kind():
    assert {SPO2_LEVEL, WEIGHT_GAIN} <= set(ALERT_KINDS)
    assert ALERT_KINDS[SPO2_LEVEL].category == "clinical"


def _readings(rows: list[tuple[int, float, float]]) -> ProtocolReadings:
    return ProtocolReadings(np.array([r[0] for r in rows], dtype=np.int64),
                            np.array([_t(r[1]) for r in rows], dtype="datetime64[us]"),
                            np.array([r[2] for r in rows], dtype=float))


def test_conditions_follow_each_patients_protocol():
    protos = [COVID, COVID, COVID, HF, HF]
    ids = ["c-red", "c-amber", "c-green", "hf-gain", "hf-steady"]
    r = _readings([(0, 2, 96), (0, 1, 92), (1, 1, 94), (2, 1, 95),
                   (3, 30, 80.0), (3, 0, 81.2), (4, 24, 80.0), (4, 0, 80.4)])
    found = {(c.patient_id, c.kind): c for c in protocol_conditions(
        protos, ids, ["w"] * 5, r, live=set())}
    assert set(found) == {("c-red", SPO2_LEVEL), ("c-amber", SPO2_LEVEL),
                          ("hf-gain", WEIGHT_GAIN)}
    assert found["c-red", SPO2_LEVEL].severity == Severity.EMERGENCY
    red = found["c-red", SPO2_LEVEL].reason
    assert "92 %" in red and "999" in red
    assert found["c-amber", SPO2_LEVEL].severity == Severity.URGENT
    assert "within 1 hour" in found["c-amber", SPO2_LEVEL].reason
    gain = found["hf-gain", WEIGHT_GAIN]
    assert gain.severity == Severity.URGENT and "+1.2 kg" in gain.reason


def test_a_live_alert_is_seen_to_clear_and_the_latest_reading_decides():
    # An amber patient's latest reading is green: the live alert gets a clear condition.
    r = _readings([(0, 3, 93), (0, 0, 96)])
    (c,) = protocol_conditions([COVID], ["p"], ["w"], r, live={("p", SPO2_LEVEL, "")})
    assert c.severity is None and "green" in c.reason
    # Two readings at one instant: the lower stands.
    r = _readings([(0, 0, 96), (0, 0, 92)])
    (c,) = protocol_conditions([COVID], ["p"], ["w"], r, live=set())
    assert c.severity == Severity.EMERGENCY


def _overdue(protos, seen_hours_ago, value, band=None, complete_hours_ago=None, live=()):
    n = len(protos)
    seen = [np.datetime64("NaT") if h is None else _t(h) for h in seen_hours_ago]
    complete = [np.datetime64("NaT") if complete_hours_ago is None else _t(complete_hours_ago)]
    return protocol_overdue_conditions(
        protos, [f"p{i}" for i in range(n)], ["w"] * n, [_t(100)] * n,
        np.array(seen, dtype="datetime64[us]"), value,
        np.array(complete * n, dtype="datetime64[us]"), [band] * n, NOW, set(live))


def test_overdue_follows_the_protocols_monitoring():
    # Green: 13 h (three readings a day, the night's 12 h gap); amber 1 h; red 15 min.
    found = _overdue([COVID] * 4, [12.9, 13.1, 1.1, 0.3], [96, 96, 94, 91])
    assert {c.patient_id: c.severity for c in found} == {
        "p1": Severity.LOW, "p2": Severity.URGENT, "p3": Severity.EMERGENCY}
    # Heart failure: a daily weight, overdue after 26 h; never weighed: from admission.
    found = _overdue([HF] * 2, [25.9, 26.1], [80, 80])
    assert [c.patient_id for c in found] == ["p1"]
    assert "no body_weight since" in found[0].reason and "every 1 d 2 h" in found[0].reason
    (c,) = _overdue([COVID], [None], [np.nan])
    assert c.severity == Severity.LOW and "no spo2 since admission" in c.reason


def test_overdue_on_a_protocol_ward_keeps_news2s_pace_after_an_urgent_band():
    # SpO2 in time, but NEWS2 saw a medium band 2 h ago and no complete set since.
    (c,) = _overdue([COVID], [0.1], [96], band="medium", complete_hours_ago=2)
    assert c.kind == OVERDUE and c.severity == Severity.URGENT and "medium" in c.reason
    # A low band does not: the protocol's schedule replaces NEWS2's 4-hourly sets.
    assert _overdue([COVID], [0.1], [96], band="low", complete_hours_ago=20) == []
