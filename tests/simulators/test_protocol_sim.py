"""The protocol wards' simulated patients (simulators/protocol_sim.py), pure: a
COVID patient desaturating goes through amber to red, a heart-failure patient
gaining weight crosses both weight rules, and the stable ones never alert, by
the very rules the engine runs (ward/protocol_rules.py)."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.protocol_sim import courses_of, schedule
from ward import protocol_rules
from ward.protocols import COVID_SPO2, HF_GAINS

_H = 3600.0


def test_a_covid_patient_desaturates_through_amber_to_red_and_the_stable_stay_green():
    plan = schedule("covid-oximetry", 6, duration_s=48 * _H, onset_s=8 * _H,
                    interval_s=2 * _H, seed=3)
    assert plan.course.tolist() == [1, 1, 1, 0, 0, 0]
    levels = np.array([protocol_rules.threshold_level(col, COVID_SPO2)
                       for col in plan.values.T]).T  # (patients, times)
    red, amber, green = 0, 1, 2
    for row, course in zip(levels, plan.course, strict=True):
        if course == 1:
            assert row[0] == green and row[-1] == red and amber in row
        else:
            assert (row == green).all()
    assert np.isfinite(plan.also).all() and (plan.also[:3, -1] > plan.also[:3, 0]).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_heart_failure_patient_gains_weight_and_the_stable_never_alert(seed):
    n = 6
    plan = schedule("heart-failure", n, duration_s=8 * 86400, onset_s=86400, seed=seed)
    times = (np.datetime64("2026-12-01T08:00", "us")
             + (plan.times_s * 1e6).astype("timedelta64[us]"))
    k = plan.values.shape[1]
    patient = np.repeat(np.arange(n), k)
    when = np.tile(times, n)
    for rule in HF_GAINS:
        # Judged at each daily weight, as the engine does when it arrives.
        held = np.zeros(n, dtype=bool)
        for upto in range(1, k + 1):
            keep = np.tile(np.arange(k) < upto, n)
            r = protocol_rules.gain(patient[keep], when[keep], plan.values.ravel()[keep],
                                    rule, n_patients=n)
            held |= r.holds
        assert held.tolist() == [True] * 3 + [False] * 3, (rule.rise, plan.values)


def test_courses_and_bad_input():
    assert courses_of(1).tolist() == [1] and courses_of(3).tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="no simulated protocol 'news2'"):
        schedule("news2", 2, duration_s=10, onset_s=0)
    with pytest.raises(ValueError, match="at least one patient"):
        schedule("heart-failure", 0, duration_s=10, onset_s=0)
