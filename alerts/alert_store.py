"""psycopg only: the alerts and what the engine's clock-driven checks read.

Live alerts are read locked (FOR UPDATE, in alert_id order, the order every
writer locks them in), so an engine and a clinician acting on one alert take
turns.  The connection's time zone is UTC; datetimes come back aware.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import class_row

from alerts.conditions import FailingPatient, LapsedSetting
from alerts.lifecycle import Change, Key, LiveAlert, Resolved, severity_name, severity_of
from alerts.rules import AlertState
from ward.patient_links import SELF_REPORT_KIND
from ward.records import ALERT_COLUMNS, AlertRow
from ward.topics import ALERT_EVENTS_CHANNEL

if TYPE_CHECKING:
    from alerts.clinician import Acknowledgement, HandResolution


_ALERT_COLUMNS = ("alert_id, patient_id, ward_id, kind, device_id, severity, state, reason,"
                  " condition_time, opened_at, last_notified_severity, acknowledged_at,"
                  " clear_since, escalated_at, coalesce(band, ''), red")


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
     opened_at, notified, acknowledged_at, clear_since, escalated_at, band, red) = r
    return LiveAlert(alert_id, patient_id, ward_id, kind, device_id, AlertState(
        kind=kind, severity=severity_of(severity), state=state, opened_at=opened_at,
        last_notified_severity=severity_of(notified), acknowledged_at=acknowledged_at,
        clear_since=clear_since, escalated_at=escalated_at, band=band,
        red=frozenset(red)), reason, condition_time)


def last_resolved(conn: psycopg.Connection, ids: Sequence[str], kinds: Sequence[str],
                  ) -> dict[Key, Resolved]:
    """Per (patient, kind, device) of ``kinds``: its latest resolved alert's basis and,
    for news2, whether a complete set in the zero band came after it (the episode
    ended: lifecycle.Resolved)."""
    rows = conn.execute(
        """WITH r AS (SELECT patient_id, kind, device_id, max(condition_time) AS basis
                      FROM alerts WHERE patient_id = ANY(%s) AND kind = ANY(%s)
                        AND state = 'resolved' GROUP BY patient_id, kind, device_id)
           SELECT r.patient_id, r.kind, r.device_id, r.basis,
                  r.kind <> 'news2' OR EXISTS (
                      SELECT 1 FROM scores s WHERE s.patient_id = r.patient_id AND s.complete
                        AND s.time > r.basis AND coalesce(s.adjusted_band, s.band) = 'zero')
           FROM r""", (list(ids), list(kinds))).fetchall()
    return {(r[0], r[1], r[2]): Resolved(r[3], bool(r[4])) for r in rows}


_INSERT_ALERT = (
    "INSERT INTO alerts (patient_id, ward_id, kind, category, device_id, severity,"
    " state, reason, condition_time, opened_at, updated_at, last_notified_severity,"
    " clear_since, escalated_at, band, red) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (patient_id, kind, device_id)"
    " WHERE state <> 'resolved' DO NOTHING RETURNING alert_id")
_UPDATE_ALERT = (
    "UPDATE alerts SET severity = %s, state = %s, reason = %s, condition_time = %s,"
    " updated_at = %s, last_notified_severity = %s, clear_since = %s,"
    " escalated_at = %s, acknowledged_at = %s,"
    " acknowledged_by = CASE WHEN %s::timestamptz IS NULL THEN NULL"
    "   ELSE acknowledged_by END,"
    " ack_via = CASE WHEN %s::timestamptz IS NULL THEN NULL ELSE ack_via END,"
    " resolved_at = %s, resolved_by = %s, band = %s, red = %s WHERE alert_id = %s")


def write_changes(conn: psycopg.Connection, changes: Sequence[Change], now: datetime,
                  actor: str) -> int:
    """Insert or update the alerts and append their events; returns the events written.
    A new alert that another engine opened first (same live key) is skipped.  Each
    kind of statement goes as one batch (psycopg pipelines ``executemany``): a burst
    of hundreds of changes costs a few round trips, not one each."""
    new = [c for c in changes if c.alert_id is None]
    old = [c for c in changes if c.alert_id is not None]
    ids: list[int | None] = []
    with conn.cursor() as cur:
        if new:
            cur.executemany(_INSERT_ALERT, [
                (c.patient_id, c.ward_id, c.kind, c.category, c.device_id,
                 severity_name(c.state.severity), c.state.state, c.reason, c.condition_time,
                 c.state.opened_at, now, severity_name(c.state.last_notified_severity),
                 c.state.clear_since, c.state.escalated_at, c.state.band or None,
                 sorted(c.state.red)) for c in new], returning=True)
            while True:
                row = cur.fetchone()
                ids.append(row[0] if row else None)
                if not cur.nextset():
                    break
        if old:
            cur.executemany(_UPDATE_ALERT, [_update_row(c, now, actor) for c in old])
    opened = dict(zip(map(id, new), ids, strict=True))
    events: list[tuple] = []
    for c in changes:  # events in the order of the changes
        alert_id = c.alert_id if c.alert_id is not None else opened[id(c)]
        if alert_id is None:
            continue
        s = c.state
        events += [(alert_id, now, e.event, severity_name(s.severity), s.state, actor,
                    json.dumps(dict(e.detail)), e.reason) for e in c.events]
    if events:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alert_events (alert_id, time, event, severity, state, actor, detail,"
                " reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", events)
        conn.execute(f"NOTIFY {ALERT_EVENTS_CHANNEL}")
    return len(events)


def _update_row(c: Change, now: datetime, actor: str) -> tuple:
    s = c.state
    resolved = s.state == "resolved"
    return (severity_name(s.severity), s.state, c.reason, c.condition_time, now,
            severity_name(s.last_notified_severity), s.clear_since, s.escalated_at,
            s.acknowledged_at, s.acknowledged_at, s.acknowledged_at, now if resolved else None,
            actor if resolved else None, s.band or None, sorted(s.red), c.alert_id)


# --- a clinician's actions (alerts/clinician.py decides) ----------------------------------


def locked_alert(conn: psycopg.Connection, alert_id: int) -> AlertRow | None:
    """One alert as stored, locked (FOR UPDATE) until the transaction ends."""
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        return cur.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = %s FOR UPDATE",
                           (alert_id,)).fetchone()


def _hand_event(conn: psycopg.Connection, alert_id: int, at: datetime, event: str,
                severity: str, actor: str, detail: dict) -> None:
    conn.execute(
        "INSERT INTO alert_events (alert_id, time, event, severity, state, actor, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (alert_id, at, event, severity, event, actor, json.dumps(detail)))
    conn.execute(f"NOTIFY {ALERT_EVENTS_CHANNEL}")


def write_acknowledgement(conn: psycopg.Connection, a: Acknowledgement) -> None:
    conn.execute(
        "UPDATE alerts SET state = 'acknowledged', acknowledged_at = %s, acknowledged_by = %s,"
        " ack_note = %s, ack_action = %s, changed_management = %s, ack_via = %s,"
        " updated_at = %s WHERE alert_id = %s",
        (a.at, a.by, a.note, a.action, a.changed_management, a.via, a.at, a.alert_id))
    _hand_event(conn, a.alert_id, a.at, "acknowledged", a.severity, a.by,
                {"note": a.note, "action": a.action, "changed_management": a.changed_management,
                 "via": a.via})


def write_hand_resolution(conn: psycopg.Connection, r: HandResolution) -> None:
    conn.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = %s, resolved_by = %s,"
        " resolve_note = %s, updated_at = %s WHERE alert_id = %s",
        (r.at, r.by, r.note or None, r.at, r.alert_id))
    _hand_event(conn, r.alert_id, r.at, "resolved", r.severity, r.by,
                {"note": r.note, "by_hand": True})


def resolve_patient(conn: psycopg.Connection, patient_id: str, *, by: str, now: datetime,
                    note: str) -> list[int]:
    """Every live alert of a patient resolved by ``by`` (a discharge), with its event:
    one statement whatever their number.  Returns the ids closed."""
    rows = conn.execute(
        "WITH closed AS (UPDATE alerts SET state = 'resolved', resolved_at = %(now)s,"
        " resolved_by = %(by)s, updated_at = %(now)s"
        " WHERE patient_id = %(patient)s AND state <> 'resolved'"
        " RETURNING alert_id, severity)"
        " INSERT INTO alert_events (alert_id, time, event, severity, state, actor, detail)"
        " SELECT alert_id, %(now)s, 'resolved', severity, 'resolved', %(by)s,"
        " %(detail)s::jsonb FROM closed ORDER BY alert_id RETURNING alert_id",
        {"now": now, "by": by, "patient": patient_id,
         "detail": json.dumps({"note": note, "by_hand": True})}).fetchall()
    if rows:
        conn.execute(f"NOTIFY {ALERT_EVENTS_CHANNEL}")
    return sorted(r[0] for r in rows)


# --- what the tick reads -----------------------------------------------------------------


def patient_states(conn: psycopg.Connection, wards: Sequence[str]) -> list[tuple]:
    """(patient_id, ward_id, admitted_at, monitoring band of the latest score, last complete
    time, effective band of the latest score) of admitted patients: the SQL functions
    last_complete_set and effective_band (migration 008) say what these mean."""
    ward_filter = "AND p.ward_id = ANY(%s)" if wards else ""
    return conn.execute(
        f"""SELECT p.patient_id, p.ward_id, p.admitted_at,
                   coalesce(l.monitoring_band, l.adjusted_band, l.band),
                   c.measured_at,
                   effective_band(l.complete, l.band, l.adjusted_band, l.monitoring_band)
            FROM patients p
            LEFT JOIN LATERAL (SELECT band, adjusted_band, monitoring_band, complete FROM scores s
                               WHERE s.patient_id = p.patient_id
                               ORDER BY time DESC LIMIT 1) l ON true
            LEFT JOIN LATERAL last_complete_set(p.patient_id) c ON true
            WHERE p.discharged_at IS NULL {ward_filter}
            ORDER BY p.patient_id""", [list(wards)] if wards else []).fetchall()


def lapsed_settings(conn: psycopg.Connection, wards: Sequence[str], now: datetime,
                    ) -> list[LapsedSetting]:
    """Accepted ranges and SpO2 scale-2 settings of admitted patients that reached their
    review date (not ended or replaced before it, and not renewed since)."""
    ward_filter = "AND p.ward_id = ANY(%(wards)s)" if wards else ""
    rows = conn.execute(
        f"""SELECT r.patient_id, p.ward_id, r.setting_id, r.kind, r.parameter, r.low, r.high,
                   r.set_by, r.reason, r.valid_to
            FROM setting_records r JOIN patients p USING (patient_id)
            WHERE p.discharged_at IS NULL {ward_filter}
              AND (r.kind = 'accepted_range' OR r.spo2_scale = 2) AND r.valid_to <= %(now)s
              AND NOT EXISTS (SELECT 1 FROM setting_ends e WHERE e.setting_id = r.setting_id
                              AND e.ended_at < r.valid_to)
              AND NOT EXISTS (SELECT 1 FROM setting_records n WHERE n.patient_id = r.patient_id
                              AND n.kind = r.kind AND n.setting_id > r.setting_id
                              AND n.parameter IS NOT DISTINCT FROM r.parameter)
            ORDER BY r.patient_id, r.valid_to""",
        {"now": now, "wards": list(wards)}).fetchall()
    return [LapsedSetting(*r) for r in rows]


def failing_patients(conn: psycopg.Connection, wards: Sequence[str]) -> list[FailingPatient]:
    ward_filter = "AND p.ward_id = ANY(%s)" if wards else ""
    rows = conn.execute(
        f"""SELECT f.patient_id, p.ward_id, f.failures, f.first_failed_at, f.last_error
            FROM scoring_failures f JOIN patients p USING (patient_id)
            WHERE p.discharged_at IS NULL {ward_filter}""",
        [list(wards)] if wards else []).fetchall()
    return [FailingPatient(*r) for r in rows]


def alerted_times(conn: psycopg.Connection, ids: Sequence[str], kinds: Sequence[str],
                  since: datetime) -> dict[str, list[datetime]]:
    """Per patient, the condition times (at or after ``since``) of its alerts of ``kinds``,
    in any state: what late data may have been alerted on already."""
    rows = conn.execute(
        "SELECT patient_id, condition_time FROM alerts WHERE patient_id = ANY(%s)"
        " AND kind = ANY(%s) AND condition_time >= %s", (list(ids), list(kinds), since)).fetchall()
    out: dict[str, list[datetime]] = {}
    for patient, at in rows:
        out.setdefault(patient, []).append(at)
    return out


def device_states(conn: psycopg.Connection, wards: Sequence[str], now: datetime) -> list[tuple]:
    """(device_id, kind, patient_id, ward_id, last_seen, assigned_from, registered_at,
    online, online_at, battery) of every device assigned at ``now`` to an admitted
    patient, but a patient's own answers (ward.patient_links.SELF_REPORT_KIND: no
    device that can go offline or run flat, so never a device alert); ``online,
    online_at`` from its latest status that said either (None if none).
    What these mean for the alerts: device_rules.silence_start, device_rules.said_offline."""
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
            AND d.kind <> %(self_report)s
            {ward_filter} ORDER BY d.device_id""",
        {"now": now, "wards": list(wards), "self_report": SELF_REPORT_KIND}).fetchall()
