"""What a clinician does to the ward's records, shared by every door they
come through (the CLI, the REST API, the dashboard): acknowledge or resolve
an alert, change a patient's scoring settings.  Each action is one
transaction that also writes the audit trail and tells the alerts engine
(NOTIFY), which publishes the event on MQTT and rescores where needed."""

from __future__ import annotations

import json
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ward.errors import WardError
from ward.records import ALERT_COLUMNS, SETTING_COLUMNS, AlertRow, SettingRow

ALERT_EVENTS_CHANNEL = "alert_events"
RESCORE_CHANNEL = "new_observations"
SCORED_PARAMETERS = ("respiratory_rate", "spo2", "systolic_bp", "heart_rate", "temperature")


class ActionRefused(WardError):
    """The action does not apply (no such alert, already resolved, bad setting)."""


def _locked_alert(conn: psycopg.Connection, alert_id: int) -> AlertRow:
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        row = cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = %s FOR UPDATE", (alert_id,)
        ).fetchone()
    if row is None:
        raise ActionRefused(f"no alert {alert_id}")
    return row


def _event(
    conn: psycopg.Connection,
    alert: AlertRow,
    event: str,
    state: str,
    actor: str,
    now: datetime,
    detail: dict,
) -> None:
    conn.execute(
        "INSERT INTO alert_events (alert_id, time, event, severity, state, actor, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (alert.alert_id, now, event, alert.severity, state, actor, json.dumps(detail)),
    )
    conn.execute(f"NOTIFY {ALERT_EVENTS_CHANNEL}")


def _who(by: str) -> str:
    by = (by or "").strip()
    if not by:
        raise ActionRefused("say who is acting (a clinician's name)")
    return by


def acknowledge(
    conn: psycopg.Connection,
    alert_id: int,
    *,
    by: str,
    now: datetime,
    note: str = "",
    action: str = "",
    changed_management: bool | None = None,
) -> AlertRow:
    """A clinician has seen an open alert: record who, when, what they did and
    whether it changed the patient's management.  Stops time escalation until
    the severity rises."""
    by = _who(by)
    with conn.transaction():
        alert = _locked_alert(conn, alert_id)
        if alert.state == "resolved":
            raise ActionRefused(f"alert {alert_id} is already resolved")
        if alert.state == "acknowledged":
            raise ActionRefused(
                f"alert {alert_id} was already acknowledged by"
                f" {alert.acknowledged_by}"
                f" at {alert.acknowledged_at:%Y-%m-%d %H:%M}Z"
            )
        conn.execute(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_at = %s, acknowledged_by = %s,"
            " ack_note = %s, ack_action = %s, changed_management = %s, updated_at = %s"
            " WHERE alert_id = %s",
            (now, by, note, action, changed_management, now, alert_id),
        )
        _event(
            conn,
            alert,
            "acknowledged",
            "acknowledged",
            by,
            now,
            {"note": note, "action": action, "changed_management": changed_management},
        )
        return _locked_alert(conn, alert_id)


def resolve(
    conn: psycopg.Connection, alert_id: int, *, by: str, now: datetime, note: str = ""
) -> AlertRow:
    """A clinician closes an alert by hand.  Should its condition still hold,
    the engine opens a new alert at its next scoring."""
    by = _who(by)
    with conn.transaction():
        alert = _locked_alert(conn, alert_id)
        if alert.state == "resolved":
            raise ActionRefused(f"alert {alert_id} is already resolved")
        conn.execute(
            "UPDATE alerts SET state = 'resolved', resolved_at = %s, resolved_by = %s,"
            " updated_at = %s WHERE alert_id = %s",
            (now, by, now, alert_id),
        )
        _event(conn, alert, "resolved", "resolved", by, now, {"note": note, "by_hand": True})
        return _locked_alert(conn, alert_id)


def resolve_patient_alerts(
    conn: psycopg.Connection, patient_id: str, *, by: str, now: datetime, note: str = ""
) -> list[int]:
    """Close every live alert of a patient by hand (a discharge), as
    `resolve` does one: one statement for all of them, whatever their
    number.  Returns the ids closed."""
    by = _who(by)
    with conn.transaction():
        rows = conn.execute(
            "WITH closed AS (UPDATE alerts SET state = 'resolved', resolved_at = %(now)s,"
            " resolved_by = %(by)s, updated_at = %(now)s"
            " WHERE patient_id = %(patient)s AND state <> 'resolved'"
            " RETURNING alert_id, severity)"
            " INSERT INTO alert_events (alert_id, time, event, severity, state, actor, detail)"
            " SELECT alert_id, %(now)s, 'resolved', severity, 'resolved', %(by)s,"
            " %(detail)s::jsonb FROM closed ORDER BY alert_id RETURNING alert_id",
            {"now": now, "by": by, "patient": patient_id,
             "detail": json.dumps({"note": note, "by_hand": True})},
        ).fetchall()
        if rows:
            conn.execute(f"NOTIFY {ALERT_EVENTS_CHANNEL}")
    return sorted(r[0] for r in rows)


def set_spo2_scale(
    conn: psycopg.Connection,
    patient_id: str,
    scale: int,
    *,
    by: str,
    reason: str,
    now: datetime,
    until: datetime | None = None,
) -> SettingRow:
    """SpO2 scale 2 (confirmed hypercapnic respiratory failure) or back to 1;
    replaces the patient's current scale setting and rescores from now."""
    if scale not in (1, 2):
        raise ActionRefused(f"SpO2 scale must be 1 or 2, not {scale!r}")
    return _set(conn, patient_id, "spo2_scale", None, scale, None, None, by, reason, now, until)


def set_accepted_range(
    conn: psycopg.Connection,
    patient_id: str,
    parameter: str,
    low: float,
    high: float,
    *,
    by: str,
    reason: str,
    now: datetime,
    until: datetime | None = None,
) -> SettingRow:
    """Values of `parameter` within [low, high] are this patient's normal and
    score 0 (e.g. a resting heart rate of 100); replaces the current range."""
    if parameter not in SCORED_PARAMETERS:
        raise ActionRefused(
            f"an accepted range is for one of {', '.join(SCORED_PARAMETERS)}, not {parameter!r}"
        )
    if not low <= high:
        raise ActionRefused(f"accepted range {low}–{high} is empty (low must not exceed high)")
    return _set(
        conn, patient_id, "accepted_range", parameter, None, low, high, by, reason, now, until
    )


def end_setting(conn: psycopg.Connection, setting_id: int, *, by: str, now: datetime) -> None:
    """End a setting now (the patient goes back to the standard chart)."""
    by = _who(by)
    with conn.transaction():
        row = conn.execute(
            "UPDATE patient_settings SET valid_to = %s, ended_by = %s WHERE setting_id = %s"
            " AND (valid_to IS NULL OR valid_to > %s) RETURNING patient_id",
            (now, by, setting_id, now),
        ).fetchone()
        if row is None:
            raise ActionRefused(f"no current setting {setting_id}")
        _rescore(conn, row[0], now)


def current_settings(conn: psycopg.Connection, patient_id: str, now: datetime) -> list[SettingRow]:
    with conn.cursor(row_factory=class_row(SettingRow)) as cur:
        return cur.execute(
            f"SELECT {SETTING_COLUMNS} FROM patient_settings WHERE patient_id = %s"
            " AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s) ORDER BY setting_id",
            (patient_id, now, now),
        ).fetchall()


def _set(conn, patient_id, kind, parameter, scale, low, high, by, reason, now, until):
    by = _who(by)
    if not (reason or "").strip():
        raise ActionRefused("give the clinical reason for the setting")
    if until is not None and until <= now:
        raise ActionRefused("the end date must be in the future")
    with conn.transaction():
        if (
            conn.execute(
                "SELECT 1 FROM patients WHERE patient_id = %s FOR UPDATE", (patient_id,)
            ).fetchone()
            is None
        ):
            raise ActionRefused(f"no patient {patient_id}")
        conn.execute(
            "UPDATE patient_settings SET valid_to = %s, ended_by = %s WHERE patient_id = %s"
            " AND kind = %s AND parameter IS NOT DISTINCT FROM %s"
            " AND (valid_to IS NULL OR valid_to > %s)",
            (now, by, patient_id, kind, parameter, now),
        )
        with conn.cursor(row_factory=class_row(SettingRow)) as cur:
            row = cur.execute(
                "INSERT INTO patient_settings (patient_id, kind, parameter, spo2_scale, low, high,"
                f" set_by, reason, valid_from, valid_to) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
                f" %s, %s) RETURNING {SETTING_COLUMNS}",
                (patient_id, kind, parameter, scale, low, high, by, reason.strip(), now, until),
            ).fetchone()
        _rescore(conn, patient_id, now)
    assert row is not None
    return row


def _rescore(conn: psycopg.Connection, patient_id: str, since: datetime) -> None:
    """Ask the engine to rescore the patient from `since` under the new settings."""
    conn.execute(
        "INSERT INTO score_queue (patient_id, since) VALUES (%s, %s) ON CONFLICT (patient_id)"
        " DO UPDATE SET since = least(score_queue.since, EXCLUDED.since),"
        " enqueued_at = clock_timestamp()",
        (patient_id, since),
    )
    conn.execute(f"NOTIFY {RESCORE_CHANNEL}")
