"""Issue 12 made the engine faster (reads from `since` with a carry, one index scan per
patient, bitmask-coded score writes, slices, several connections): not one score may
differ.  A fixed sample of a ward's history (rescore_sample.py: 16 patients, 48 h,
every band of every parameter, silences that age values out) is rescored through
today's engine and compared, field for field, with what the engine of the commit
before issue 12 (9297a94) stored for the same readings."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

import pytest
import rescore_sample as sample

from alerts.engine import Engine
from alerts.rescore import rescore
from ward import db, devices

pytestmark = pytest.mark.db

BEFORE = Path(__file__).resolve().parent.parent / "data" / "rescore_before_issue12.txt.gz"


def test_the_sample_scores_as_before_issue_12(services_up) -> None:
    ids = [p for p, _ in sample.patient_ids()]
    with db.connect(services_up, autocommit=True) as conn:
        conn.execute("DELETE FROM observations WHERE patient_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM scores WHERE patient_id = ANY(%s)", (ids,))
        devices.register_devices(
            conn, [devices.NewDevice(d, p, sample.WARD, "generic")
                   for p, d in sample.patient_ids()],
            valid_from=sample.START - timedelta(days=1))
        with conn.cursor() as cur, cur.copy(
                "COPY observations (time, patient_id, device_id, type, value) FROM STDIN"
                ) as copy:
            for row in sample.readings():
                copy.write_row(row)
        engines = [Engine.from_settings(conn, services_up)]
        rescore(engines, ids, sample.START - timedelta(days=1), sample.NOW, chunk=7,
                progress=False)
        rows = conn.execute(f"SELECT {sample.SCORE_COLUMNS} FROM scores"
                            " WHERE patient_id = ANY(%s) ORDER BY patient_id, time",
                            (ids,)).fetchall()
    now = sample.as_text(rows)
    with gzip.open(BEFORE, "rt") as f:
        before = f.read().splitlines()
    assert len(now) == len(before) > 15_000
    differ = [(b, n) for b, n in zip(before, now, strict=True) if b != n]
    assert not differ, f"{len(differ)} scores differ; first:\n{differ[0][0]}\n{differ[0][1]}"
