"""psycopg only: the alerts and what the engine's clock-driven checks read.

Live alerts are read locked (FOR UPDATE, in alert_id order, the order every
writer locks them in), so an engine and a clinician acting on one alert take
turns.  The connection's time zone is UTC; datetimes come back aware.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import psycopg

from alerts.lifecycle import Change, Key, LiveAlert, severity_name, severity_of
from alerts.rules import AlertState

_ALERT_COLUMNS = ("alert_id, patient_id, ward_id, kind, device_id, severity, state, reason,"
                  " condition_time, opened_at, last_notified_severity, acknowledged_at,"
                  " clear_since, escalated_at")


def live_alerts(conn: psycopg.Connection, *, patients: Sequence[str] | None = None,
                wards: Sequence[str] = (), kinds: Sequence[str] | None = None) -> list[LiveAlert]:
    """Open and acknowledged alerts, locked (FOR UPDATE, in alert_id order)."""
    where = ["state <> 'resolved'"]
    params: list[object] = []
    if patients is not None:
        where.append("patient_id = ANY(%s)")
        params.append(list(patients))
    if wards:
        where.append("ward_id = ANY(%s)")
        params.append(list(wards))
    if kinds is not None:
        where.append("kind = ANY(%s)")
        params.append(list(kinds))
    rows = conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)}"
                        " ORDER BY alert_id FOR UPDATE", params).fetchall()
    return [_live(r) for r in rows]


def _live(r: tuple) -> LiveAlert:
    (alert_id, patient_id, ward_id, kind, device_id, severity, state, reason, condition_time,
     opened_at, notified, acknowledged_at, clear_since, escalated_at) = r
    return LiveAlert(alert_id, patient_id, ward_id, kind, device_id, AlertState(
        kind=kind, severity=severity_of(severity), state=state, opened_at=opened_at,
        last_notified_severity=severity_of(notified), acknowledged_at=acknowledged_at,
        clear_since=clear_since, escalated_at=escalated_at), reason, condition_time)


def last_resolved_basis(conn: psycopg.Connection, ids: Sequence[str], kind: str,
                        ) -> dict[Key, datetime | None]:
    rows = conn.execute(
        "SELECT patient_id, device_id, max(condition_time) FROM alerts WHERE patient_id = ANY(%s)"
        " AND kind = %s AND state = 'resolved' GROUP BY patient_id, device_id",
        (list(ids), kind)).fetchall()
    return {(r[0], kind, r[1]): r[2] for r in rows}


def write_changes(conn: psycopg.Connection, changes: Sequence[Change], now: datetime,
                  actor: str) -> int:
    """Insert or update the alerts and append their events; returns the events written.
    A new alert that another engine opened first (same live key) is skipped."""
    events: list[tuple] = []
    for c in changes:
        s = c.state
        resolved = s.state == "resolved"
        if c.alert_id is None:
            row = conn.execute(
                "INSERT INTO alerts (patient_id, ward_id, kind, category, device_id, severity,"
                " state, reason, condition_time, opened_at, updated_at, last_notified_severity,"
                " clear_since, escalated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s) ON CONFLICT (patient_id, kind, device_id)"
                " WHERE state <> 'resolved' DO NOTHING RETURNING alert_id",
                (c.patient_id, c.ward_id, c.kind, c.category, c.device_id,
                 severity_name(s.severity), s.state, c.reason, c.condition_time, s.opened_at,
                 now, severity_name(s.last_notified_severity), s.clear_since,
                 s.escalated_at)).fetchone()
            if row is None:
                continue
            alert_id = row[0]
        else:
            alert_id = c.alert_id
            conn.execute(
                "UPDATE alerts SET severity = %s, state = %s, reason = %s, condition_time = %s,"
                " updated_at = %s, last_notified_severity = %s, clear_since = %s,"
                " escalated_at = %s, acknowledged_at = %s,"
                " acknowledged_by = CASE WHEN %s::timestamptz IS NULL THEN NULL"
                "   ELSE acknowledged_by END,"
                " resolved_at = %s, resolved_by = %s WHERE alert_id = %s",
                (severity_name(s.severity), s.state, c.reason, c.condition_time, now,
                 severity_name(s.last_notified_severity), s.clear_since, s.escalated_at,
                 s.acknowledged_at, s.acknowledged_at, now if resolved else None,
                 actor if resolved else None, alert_id))
        events += [(alert_id, now, e.event, severity_name(s.severity), s.state, actor,
                    json.dumps(dict(e.detail)), e.reason) for e in c.events]
    if events:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alert_events (alert_id, time, event, severity, state, actor, detail,"
                " reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", events)
        conn.execute("NOTIFY alert_events")
    return len(events)


# --- what the tick reads -----------------------------------------------------------------


def patient_states(conn: psycopg.Connection, wards: Sequence[str]) -> list[tuple]:
    """(patient_id, ward_id, admitted_at, latest band, last complete time) of admitted patients."""
    ward_filter = "AND p.ward_id = ANY(%s)" if wards else ""
    return conn.execute(
        f"""SELECT p.patient_id, p.ward_id, p.admitted_at, l.band, c.time
            FROM patients p
            LEFT JOIN LATERAL (SELECT band FROM scores s WHERE s.patient_id = p.patient_id
                               ORDER BY time DESC LIMIT 1) l ON true
            LEFT JOIN LATERAL (SELECT time FROM scores s WHERE s.patient_id = p.patient_id
                               AND complete ORDER BY time DESC LIMIT 1) c ON true
            WHERE p.discharged_at IS NULL {ward_filter}
            ORDER BY p.patient_id""", [list(wards)] if wards else []).fetchall()


def device_states(conn: psycopg.Connection, wards: Sequence[str], now: datetime) -> list[tuple]:
    """(device_id, kind, patient_id, ward_id, last_seen, assigned_from, registered_at,
    online, online_at, battery) of every device assigned at ``now`` to an admitted
    patient; ``online, online_at`` from its latest status that said either (None if none).
    What these mean for the alerts: rules.silence_start, rules.said_offline."""
    ward_filter = "AND p.ward_id = ANY(%(wards)s)" if wards else ""
    return conn.execute(
        f"""SELECT d.device_id, d.kind, a.patient_id, p.ward_id, d.last_seen, a.valid_from,
                   d.created_at, o.online, o.time, b.battery
            FROM device_assignments a
            JOIN devices d ON d.device_id = a.device_id
            JOIN patients p ON p.patient_id = a.patient_id
            LEFT JOIN LATERAL (SELECT online, time FROM device_status s
                               WHERE s.device_id = a.device_id AND s.online IS NOT NULL
                               ORDER BY time DESC LIMIT 1) o ON true
            LEFT JOIN LATERAL (SELECT battery FROM device_status s
                               WHERE s.device_id = a.device_id AND s.battery IS NOT NULL
                               ORDER BY time DESC LIMIT 1) b ON true
            WHERE a.valid_to IS NULL AND a.valid_from <= %(now)s AND p.discharged_at IS NULL
            {ward_filter} ORDER BY d.device_id""",
        {"now": now, "wards": list(wards)}).fetchall()
