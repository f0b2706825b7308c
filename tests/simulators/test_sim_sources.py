"""Simulated patients come from somewhere (issue 14, item 5): step-up or
step-down, in realistic shares, the same on a rerun, recorded when the
simulation enrols them, as an admission records it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from simulators import scenario
from simulators.enrol import enrol
from simulators.plan import Simulation
from simulators.sources import COPD_STEP_UP_SHARE, STEP_UP_SHARE, admission_source


def test_shares_are_realistic_and_repeatable():
    ids = [f"sim-p{random.randrange(10**6)}-{i:05d}" for i in range(4000)]
    for copd, share in ((False, STEP_UP_SHARE), (True, COPD_STEP_UP_SHARE)):
        up = sum(admission_source(p, copd=copd) == "step-up" for p in ids) / len(ids)
        assert abs(up - share) < 0.05, (copd, up)
    assert [admission_source(p, copd=False) for p in ids[:50]] == [
        admission_source(p, copd=False) for p in ids[:50]]


@pytest.mark.db
def test_enrolled_patients_have_their_source(services_up, conn):
    sc = scenario.load("mixed")
    # Patient ids come from the seed: a random one keeps this run's patients apart.
    sim = Simulation(sc, n_patients=12, seed=random.randrange(10**6),
                     start=datetime.now(UTC) - timedelta(hours=1))
    enrol(services_up, sim, valid_from=sim.start - timedelta(hours=1))
    rows = dict(conn.execute(
        "SELECT patient_id, admission_source FROM patients WHERE patient_id = ANY(%s)",
        ([p.patient_id for p in sim.patients],)).fetchall())
    assert rows == {p.patient_id: admission_source(p.patient_id, copd=p.spo2_scale == 2)
                    for p in sim.patients}
