"""The engine reads a patient's readings from its ``since`` on, carrying the rest in
from the last stored score (score_reads.Carry), instead of the whole 12 h freshness
window (issue 12).  This must never change a score: the scores the live engine
writes as readings arrive, late ones included, are bit for bit those of a rescore
from scratch, which reads every reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from engine_fixtures import admit, base_time, minutes, unique

from alerts import score_reads
from alerts.news2 import PARAMETERS
from alerts.rescore import rescore
from ward import clinical

pytestmark = pytest.mark.db

# How often each parameter is measured [min]: a patch streams SpO2 and heart rate;
# the rest come from spot checks, some rarely, so that values age out and go stale.
_EVERY = {"spo2": 7, "heart_rate": 7, "respiratory_rate": 90, "systolic_bp": 60,
          "temperature": 240, "consciousness": 360, "on_oxygen": 360}
_NORMAL = {"respiratory_rate": 16, "spo2": 96, "on_oxygen": 0, "systolic_bp": 120,
           "heart_rate": 80, "consciousness": 0, "temperature": 37.0}
_SICK = {"respiratory_rate": 26, "spo2": 89, "on_oxygen": 1, "systolic_bp": 95,
         "heart_rate": 125, "consciousness": 0, "temperature": 38.6}
_SCORE_COLUMNS = ("time, total, band, max_single, complete, missing, sub_scores, inputs,"
                  " spo2_scale, overridden, overridden_parameters, adjusted_total,"
                  " adjusted_band, input_times, stale, monitoring_band")


def _readings(patient: int, device: str, start: datetime, hours: int,
              rng: np.random.Generator) -> list[tuple[datetime, str, str, float]]:
    """A patient's readings: each parameter on its own rhythm, sick for a while in the
    middle (patient 1), silent for 14 h (patient 2: everything ages out)."""
    out = []
    for name, every in _EVERY.items():
        t = start + minutes(float(rng.uniform(0, every)))
        while t < start + timedelta(hours=hours):
            hour = (t - start) / timedelta(hours=1)
            silent = patient == 2 and 8 <= hour < 22
            sick = patient == 1 and 10 <= hour < 16
            if not silent:
                base = (_SICK if sick else _NORMAL)[name]
                jitter = 0 if name in ("on_oxygen", "consciousness") else rng.normal(0, 1.5)
                value = round(base + jitter, 1)
                if name == "spo2":
                    value = min(value, 100)
                out.append((t, name, device, value))
            t += minutes(every * float(rng.uniform(0.8, 1.2)))
    return out


def _store(conn: psycopg.Connection, patient: str, rows: list) -> None:
    """As ingest stores readings: rows and queue row in one transaction."""
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO observations (time, patient_id, device_id, type, value)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(t, patient, d, name, v) for t, name, d, v in rows])
        conn.execute(
            "INSERT INTO score_queue (patient_id, since) VALUES (%s, %s) ON CONFLICT (patient_id)"
            " DO UPDATE SET since = least(score_queue.since, EXCLUDED.since)",
            (patient, min(r[0] for r in rows)))


def _arriving(readings: list, t: datetime, step: timedelta, held: list, *,
              hold_for: timedelta | None = None) -> list:
    """What reaches the ward in [t, t + step): the readings timed then (none, held back
    ``hold_for`` when given) and those held back that arrive by ``t`` (``held``: pairs of
    arrival time and readings, updated)."""
    due = [r for r in readings if t <= r[0] < t + step]
    if hold_for is not None and due:
        held.append((t + hold_for, due))
        due = []
    arrived = [r for when, rows in held if when <= t for r in rows]
    held[:] = [(when, rows) for when, rows in held if when > t]
    return due + arrived


def _scores(conn: psycopg.Connection, ids: list[str]) -> dict[str, list[tuple]]:
    return {p: conn.execute(f"SELECT {_SCORE_COLUMNS} FROM scores WHERE patient_id = %s"
                            " ORDER BY time", (p,)).fetchall() for p in ids}


def test_live_scores_with_late_readings_equal_a_rescore_from_scratch(
        services_up, conn, make_engine) -> None:
    ward = unique("ward")
    pairs = admit(services_up, ward, 3, admitted=datetime.now(UTC) - timedelta(days=3))
    ids = [p for p, _ in pairs]
    end = base_time()
    start = end - timedelta(hours=36)
    rng = np.random.default_rng(12)
    readings = {p: sorted(_readings(i, d, start, 36, rng)) for i, (p, d) in enumerate(pairs)}
    e = make_engine(ward)
    step = minutes(20)
    late: dict[str, list] = {p: [] for p in ids}
    t = start
    k = 0
    while t < end:
        k += 1
        for i, p in enumerate(ids):  # every 9th step patient 0's readings come 3 h late
            rows = _arriving(readings[p], t, step, late[p],
                             hold_for=timedelta(hours=3) if i == 0 and k % 9 == 0 else None)
            if rows:
                _store(conn, p, rows)
        if k == 40:  # SpO2 scale 2 and an accepted heart rate for patient 1, mid-spell
            clinical.set_spo2_scale(conn, ids[1], 2, by="test", reason="hypercapnic",
                                    now=t + step)
            clinical.set_accepted_range(conn, ids[1], "heart_rate", 91, 130, by="test",
                                        reason="resting tachycardia", now=t + step)
        e.drain(t + step)
        t += step
    for p in ids:  # what is still held back arrives at the end
        rows = [r for _, held in late[p] for r in held]
        if rows:
            _store(conn, p, rows)
    e.drain(end + minutes(1))

    live = _scores(conn, ids)
    assert all(len(rows) > 200 for rows in live.values())
    assert any(r[1] >= 7 for r in live[ids[1]])  # the sick spell scored high
    assert any(not r[4] for r in live[ids[2]])  # values aged out: incomplete sets
    assert any(r[10] for r in live[ids[1]])  # the accepted range adjusted some
    conn.execute("DELETE FROM scores WHERE patient_id = ANY(%s)", (ids,))
    # From scratch, as `vward rescore` does: two connections, a patient per chunk.
    failed = rescore([e, make_engine(ward)], ids, datetime(1970, 1, 1, tzinfo=UTC),
                     end + minutes(1), chunk=1, progress=False)
    assert failed == []
    scratch = _scores(conn, ids)
    for p in ids:
        assert len(live[p]) == len(scratch[p])
        for a, b in zip(live[p], scratch[p], strict=True):
            assert a == b, f"{p} at {a[0]}: live {a}\nrescored {b}"
    assert set(PARAMETERS) == set(_EVERY)


def test_the_context_read_carries_what_the_carry_read_does(services_up, conn, make_engine) -> None:
    """The engine reads its trend context and its carry in one query
    (score_reads.load_context): the carry taken from the context's last row, or
    looked up alone where the context is empty, is exactly load_carry's, and the
    context exactly load_scores'.  Since points fall inside spells of scores, right
    after a 14 h silence (empty context), before any score, and on a row stored
    without its input times (as scored before migration 005)."""
    ward = unique("ward")
    pairs = admit(services_up, ward, 4, admitted=datetime.now(UTC) - timedelta(days=3))
    ids = [p for p, _ in pairs]
    end = base_time()
    start = end - timedelta(hours=36)
    rng = np.random.default_rng(7)
    for i, (p, d) in enumerate(pairs[:3]):  # the fourth is never scored
        _store(conn, p, sorted(_readings(i, d, start, 36, rng)))
    e = make_engine(ward)
    assert rescore([e], ids[:3], datetime(1970, 1, 1, tzinfo=UTC), end, chunk=3,
                   progress=False) == []
    old = conn.execute("SELECT time FROM scores WHERE patient_id = %s ORDER BY time"
                       " OFFSET 100 LIMIT 1", (ids[0],)).fetchone()[0]
    conn.execute("UPDATE scores SET input_times = '{}' WHERE patient_id = %s AND time = %s",
                 (ids[0], old))
    points = [start - minutes(5), old, old + minutes(1)] + [
        start + minutes(float(m)) for m in rng.uniform(0, 36 * 60, 40)]
    for since in points:
        for window in (minutes(1), timedelta(hours=6)):
            since_all = [since] * len(ids)
            begin = [since - window] * len(ids)
            table, carry = score_reads.load_context(conn, ids, begin, since_all)
            alone = score_reads.load_carry(conn, ids, since_all)
            expect = score_reads.load_scores(conn, ids, begin, since_all)
            assert np.array_equal(carry.level, alone.level), since
            assert np.array_equal(carry.known, alone.known), since
            for f in ("patient", "time", "param", "value"):
                got, want = getattr(carry.inputs, f), getattr(alone.inputs, f)
                order_got = np.lexsort((carry.inputs.param, carry.inputs.patient))
                order_want = np.lexsort((alone.inputs.param, alone.inputs.patient))
                assert np.array_equal(got[order_got], want[order_want]), (since, f)
            assert len(table) == len(expect)
            assert np.array_equal(table.time, expect.time)
            assert np.array_equal(table.inputs, expect.inputs, equal_nan=True)
    assert (alone.level >= 0).sum() == 3 and not alone.known[3]


def _alerts(conn: psycopg.Connection, ids: list[str]) -> list[tuple]:
    """Every alert and alert event of ``ids``, each patient named by its place in ``ids``."""
    name = {p: f"patient {i}" for i, p in enumerate(ids)}
    alerts = conn.execute(
        "SELECT patient_id, kind, severity, state, reason, condition_time, opened_at,"
        " clear_since, escalated_at, band, red, alert_id FROM alerts"
        " WHERE patient_id = ANY(%s) ORDER BY opened_at, kind, alert_id", (ids,)).fetchall()
    out = []
    for a in alerts:
        events = conn.execute("SELECT time, event, severity, state, reason FROM alert_events"
                              " WHERE alert_id = %s ORDER BY event_id", (a[-1],)).fetchall()
        out.append((name[a[0]], *a[1:-1], events))
    return sorted(out, key=lambda r: (r[0], r[6], r[1]))


def test_alerts_from_kept_history_equal_alerts_from_the_database(
        services_up, conn, make_engine) -> None:
    """Two wards receive the same readings, late ones included, and are judged batch by
    batch (and ticked) by two engines: one takes each patient's context, and its ticks
    the trend windows, from what it kept of the last batch (alerts/context_cache.py),
    the other reads them from the database every time.  Scores, alerts and every
    alert event are the same."""
    wards = [unique("ward"), unique("ward")]
    admitted = datetime.now(UTC) - timedelta(days=3)
    pairs = [admit(services_up, w, 3, admitted=admitted) for w in wards]
    ids = [[p for p, _ in ps] for ps in pairs]
    end = base_time()
    start = end - timedelta(hours=30)
    rng = np.random.default_rng(5)
    readings = [_readings(i, "", start, 30, rng) for i in range(3)]
    for m in range(0, 6 * 60, 15):  # patient 0: full sets, breathing faster and faster
        rr = 16 + m / 30
        readings[0] += [(start + timedelta(hours=20, minutes=m), name, "",
                         rr if name == "respiratory_rate" else value)
                        for name, value in _NORMAL.items()]
    readings = [sorted(r) for r in readings]
    engines = [make_engine(wards[0]), make_engine(wards[1], context_cache=False)]
    step = minutes(11)
    late: list[list] = [[] for _ in range(3)]
    t, k = start, 0
    while t < end:
        k += 1
        for i in range(3):  # every 7th step patient 0's readings come 2 h late
            now_in = _arriving(readings[i], t, step, late[i],
                               hold_for=timedelta(hours=2) if i == 0 and k % 7 == 0 else None)
            for w in range(2):
                rows = [(when, name, pairs[w][i][1], v) for when, name, _, v in now_in]
                if rows:
                    _store(conn, ids[w][i], rows)
        for e in engines:
            e.drain(t + step)
            e.tick(t + step)
        t += step
    kept = engines[0].cache
    assert kept.hits > 5 * kept.misses > 0  # mostly kept; late readings read again
    assert engines[1].cache.hits == 0
    assert engines[0].counts["tick_trends_kept"] > 0  # ticks judged trends on kept rows
    assert engines[1].counts["tick_trends_kept"] == 0
    scores = [_scores(conn, ids[w]) for w in range(2)]
    for i in range(3):
        assert scores[0][ids[0][i]] == scores[1][ids[1][i]]
    alerts = [_alerts(conn, ids[w]) for w in range(2)]
    kinds = {a[1] for a in alerts[0]}
    assert {"news2", "score_rising", "spo2_falling"} <= kinds, kinds
    assert alerts[0] == alerts[1]
