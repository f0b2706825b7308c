"""alerts/score_writes.py: the scores a clinician reads come out as they went in,
whatever subset of parameters is missing, adjusted or stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts import score_writes
from alerts.scoring import ScoreTable
from ward import db
from ward.news2_chart import BANDS, PARAMETERS

K = len(PARAMETERS)


def test_masks_put_parameter_k_on_bit_k() -> None:
    flags = np.zeros((3, K), dtype=bool)
    flags[1, 0] = True
    flags[2, :] = True
    assert score_writes.masks(flags).tolist() == [0, 1, (1 << K) - 1]


def _table(n: int, rng: np.random.Generator, t0: datetime) -> ScoreTable:
    sub = rng.integers(0, 4, size=(n, K)).astype(np.int16)
    sub[rng.random((n, K)) < 0.3] = -1  # missing
    inputs = rng.normal(50, 10, size=(n, K))
    inputs[sub < 0] = np.nan
    times = np.datetime64(t0.replace(tzinfo=None), "us") - rng.integers(
        0, 10**9, size=(n, K)).astype("timedelta64[us]")
    times[sub < 0] = np.datetime64("NaT")
    overridden = rng.random((n, K)) < 0.2
    bands = np.array(BANDS, dtype=object)
    return ScoreTable(
        patient=np.zeros(n, dtype=np.int64),
        time=np.datetime64(t0.replace(tzinfo=None), "us")
        + np.arange(n).astype("timedelta64[m]").astype("timedelta64[us]"),
        total=sub.clip(0).sum(axis=1).astype(np.int16),
        band=bands[rng.integers(0, len(BANDS), n)],
        max_single=sub.max(axis=1).clip(0).astype(np.int16),
        complete=(sub >= 0).all(axis=1),
        sub_scores=sub, inputs=inputs, spo2_scale=rng.integers(1, 3, n).astype(np.int16),
        overridden=overridden,
        adjusted_total=(sub.clip(0).sum(axis=1) - 1).clip(0).astype(np.int16),
        adjusted_band=bands[rng.integers(0, len(BANDS), n)],
        input_times=times, stale=(rng.random((n, K)) < 0.25) & (sub >= 0),
        monitoring_band=bands[rng.integers(0, len(BANDS), n)],
    )


@pytest.mark.db
def test_every_field_reads_back_as_written(services_up, register) -> None:
    reg = register()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    table = _table(300, np.random.default_rng(7), t0)
    with db.connect(services_up) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        score_writes.prepare(conn)
        assert score_writes.write_scores(conn, table, [reg.patient_id]) == 300
        rows = conn.execute(
            "SELECT time, total, band, max_single, complete, missing, sub_scores, inputs,"
            " spo2_scale, overridden, overridden_parameters, adjusted_total, adjusted_band,"
            " input_times, stale, monitoring_band FROM scores WHERE patient_id = %s"
            " ORDER BY time", (reg.patient_id,)).fetchall()
        conn.rollback()
    assert len(rows) == 300
    for i, r in enumerate(rows):
        sub = table.sub_scores[i]
        names = np.array(PARAMETERS)
        any_override = bool(table.overridden[i].any())
        expect = (
            table.time[i].astype(datetime).replace(tzinfo=UTC), int(table.total[i]),
            table.band[i], int(table.max_single[i]), bool(table.complete[i]),
            names[sub < 0].tolist(), sub.tolist(),
            [None if np.isnan(v) else float(v) for v in table.inputs[i]],
            int(table.spo2_scale[i]), any_override, names[table.overridden[i]].tolist(),
            int(table.adjusted_total[i]) if any_override else None,
            table.adjusted_band[i] if any_override else None,
            [None if np.isnat(t) else t.astype(datetime).replace(tzinfo=UTC)
             for t in table.input_times[i]],
            names[table.stale[i]].tolist(), table.monitoring_band[i])
        assert tuple(r) == expect, i


@pytest.mark.db
def test_a_second_write_at_the_same_instant_replaces_the_first(services_up, register) -> None:
    reg = register()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    first = _table(5, np.random.default_rng(1), t0)
    second = _table(5, np.random.default_rng(2), t0)
    with db.connect(services_up) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        score_writes.prepare(conn)
        score_writes.write_scores(conn, first, [reg.patient_id])
        score_writes.write_scores(conn, second, [reg.patient_id])
        totals = [r[0] for r in conn.execute(
            "SELECT total FROM scores WHERE patient_id = %s ORDER BY time",
            (reg.patient_id,)).fetchall()]
        conn.rollback()
    assert totals == second.total.tolist() != first.total.tolist()
