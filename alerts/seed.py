"""A ward's past as the engine and its clinicians would have left it, for the
sample ward (dashboard/sample.py) and tests: scores written by the engine's
own scoring and writer, and alerts that went through the lifecycle's rules
(``rules.step``, ``rules.acknowledge`` by way of ``clinician.acknowledge``)
and the one alert writer (alerts/alert_store.py), each at its own time.  No
second writer of scores or alerts, not even for a demo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from alerts import alert_store, clinician, rules, score_writes, store
from alerts.lifecycle import ALERT_KINDS, Change, Event
from alerts.scoring import ScoreTable, score_rows
from ward.severity import Severity

# The actor of what the engine writes (alerts resolved once clear, as the engine's are).
ENGINE = "engine"


def score_history(conn: psycopg.Connection, ids: Sequence[str], since: datetime,
                  now: datetime, freshness: timedelta) -> ScoreTable:
    """Every instant of ``ids`` from ``since`` to ``now`` scored and written as the
    engine does (alerts.scoring.score_rows, alerts.score_writes.write_scores), without
    judging alerts; returns the table written (sorted by patient, time)."""
    starts = [since] * len(ids)
    table = score_rows(store.load_observations(conn, ids, [s - freshness for s in starts]),
                       store.load_settings(conn, ids), store.as_times(starts),
                       np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us"),
                       np.timedelta64(freshness))
    with conn.transaction():
        store.prepare(conn)
        score_writes.write_scores(conn, table, ids)
    return table


@dataclass(frozen=True, slots=True)
class PastAlert:
    """An alert opened at ``opened_at`` on a condition of ``condition_time``; then
    acknowledged (at, by, note, changed_management) and resolved by the engine at
    ``resolved_at``, either or both or neither."""

    patient_id: str
    ward_id: str
    kind: str
    device_id: str
    severity: Severity
    reason: str
    condition_time: datetime
    opened_at: datetime
    band: str = ""
    acknowledged: tuple[datetime, str, str, bool | None] | None = None
    resolved_at: datetime | None = None


def record(conn: psycopg.Connection, past: PastAlert) -> int:
    """Write ``past`` step by step as it happened; returns its alert_id.  Its key
    (patient, kind, device) must have no live alert before ``past.opened_at``."""
    state, names = rules.step(None, past.severity, past.opened_at, kind=past.kind,
                              band=past.band)
    assert state is not None
    _write(conn, None, past, state, names, past.opened_at)
    (alert,) = [a for a in alert_store.live_alerts(conn, patients=[past.patient_id],
                                                   kinds=[past.kind])
                if a.device_id == past.device_id]
    if past.acknowledged is not None:
        at, by, note, changed = past.acknowledged
        clinician.acknowledge(conn, alert.alert_id, by=by, now=at, via="dashboard", note=note,
                              changed_management=changed)
    if past.resolved_at is not None:
        (alert,) = [a for a in alert_store.live_alerts(conn, patients=[past.patient_id],
                                                       kinds=[past.kind])
                    if a.alert_id == alert.alert_id]
        state, names = rules.step(alert.state, None, past.resolved_at, kind=past.kind,
                                  hold=timedelta(0))
        assert state is not None
        _write(conn, alert.alert_id, past, state, names, past.resolved_at)
    return alert.alert_id


def _write(conn: psycopg.Connection, alert_id: int | None, past: PastAlert,
           state: rules.AlertState, names: list[str], at: datetime) -> None:
    category = ALERT_KINDS[past.kind].category
    events = tuple(Event(name, past.reason, {}) for name in names)
    alert_store.write_changes(conn, [Change(alert_id, past.patient_id, past.ward_id, past.kind,
                                            category, past.device_id, state, past.reason,
                                            past.condition_time, events)], at, ENGINE)
