"""What a clinician does to the ward's records, shared by every door they
come through (the CLI, the REST API, the dashboard): acknowledge or resolve
an alert, change a patient's scoring settings.  Each action is one
transaction that also writes the audit trail and tells the alerts engine
(NOTIFY), which publishes the event on MQTT and rescores where needed."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from ward import score_queue
from ward.errors import WardError
from ward.news2_chart import CASCADES, RED, points_between
from ward.records import ALERT_COLUMNS, SETTING_COLUMNS, AlertRow, SettingRow
from ward.topics import ALERT_EVENTS_CHANNEL

# Parameters an accepted range may cover: those scored by their value alone.  SpO2 has
# none: SpO2 scale 2 (for confirmed hypercapnic respiratory failure) is the only
# adjustment of SpO2 the RCP sanctions.  Oxygen and consciousness are not ranges.
RANGE_PARAMETERS = tuple(CASCADES)
# A setting that changes how a patient scores is reviewed at least every 14 days: a
# virtual ward stay is a few weeks, and a patient's "normal" that nobody looks at
# again silently hides their deterioration.  The setting lapses at its review date.
MAX_REVIEW = timedelta(days=14)
# Resolving these by hand needs a reason: the patient was in danger a moment ago.
RESOLVE_NEEDS_REASON = ("urgent", "emergency")


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
    """A clinician closes an alert by hand; an urgent or emergency one only with a
    reason (``note``).  Should its condition still hold, the engine opens a new alert
    at its next judgement (within one tick for urgent and emergency)."""
    by = _who(by)
    note = (note or "").strip()
    with conn.transaction():
        alert = _locked_alert(conn, alert_id)
        if alert.state == "resolved":
            raise ActionRefused(f"alert {alert_id} is already resolved")
        if alert.severity in RESOLVE_NEEDS_REASON and not note:
            raise ActionRefused(
                f"alert {alert_id} is {alert.severity}: give the reason for resolving it by"
                " hand (what was done, why the alert no longer applies)")
        conn.execute(
            "UPDATE alerts SET state = 'resolved', resolved_at = %s, resolved_by = %s,"
            " resolve_note = %s, updated_at = %s WHERE alert_id = %s",
            (now, by, note or None, now, alert_id),
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
    replaces the patient's current scale setting and rescores from now.  Scale 2
    lapses at its review date, ``until`` (default and latest: ``MAX_REVIEW`` ahead)."""
    if scale not in (1, 2):
        raise ActionRefused(f"SpO2 scale must be 1 or 2, not {scale!r}")
    if scale == 2:
        until = review_date(now, until)
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
    """Values of `parameter` within [low, high] are this patient's normal: where the
    chart scores them 1 or 2 they count 0 in the adjusted score (e.g. a resting heart
    rate of 100).  The true NEWS2 is kept beside it.  Replaces the current range;
    lapses at its review date, ``until`` (default and latest: ``MAX_REVIEW`` ahead)."""
    problem = accepted_range_problem(parameter, low, high)
    if problem:
        raise ActionRefused(problem)
    until = review_date(now, until)
    return _set(
        conn, patient_id, "accepted_range", parameter, None, low, high, by, reason, now, until
    )


def accepted_range_problem(parameter: str, low: float, high: float) -> str | None:
    """Why an accepted range may not be set, None if it may.  Pure.

    It may only cover values that score 1 or 2 (and 0): a red value (3) always counts,
    whatever a clinician accepts.  SpO2 has none (scale 2 is its only adjustment).
    """
    if parameter == "spo2":
        return ("SpO2 has no accepted range: SpO2 scale 2 (confirmed hypercapnic respiratory"
                " failure) is the only sanctioned SpO2 adjustment (`vward patient scale`)")
    if parameter not in RANGE_PARAMETERS:
        return (f"an accepted range is for one of {', '.join(RANGE_PARAMETERS)},"
                f" not {parameter!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"accepted range {low}–{high} is not a range of finite numbers"
    if not low <= high:
        return f"accepted range {low}–{high} is empty (low must not exceed high)"
    _, most = points_between(parameter, low, high)
    if most >= RED:
        return (f"accepted range {low:g}–{high:g} of {parameter} includes values that score"
                f" {RED} (red): a red parameter always counts; an accepted range may cover"
                " only values that score 1 or 2")
    if most == 0:
        return (f"accepted range {low:g}–{high:g} of {parameter} covers only values that"
                " score 0 already: it would change nothing")
    return None


def review_date(now: datetime, until: datetime | None) -> datetime:
    """The review date of a setting made at ``now``: ``until``, at most ``MAX_REVIEW``
    ahead (the default).  Pure."""
    latest = now + MAX_REVIEW
    if until is None:
        return latest
    if until <= now:
        raise ActionRefused("the review date must be in the future")
    if until > latest:
        raise ActionRefused(
            f"the review date may be at most {MAX_REVIEW.days} days ahead"
            f" ({latest:%Y-%m-%d %H:%M}Z): a setting that changes how a patient scores is"
            " reviewed at least that often")
    return until


def end_setting(conn: psycopg.Connection, setting_id: int, *, by: str, now: datetime,
                reason: str = "") -> None:
    """End a setting now (the patient goes back to the standard chart).  The setting's
    record is never changed: its end is a row of its own (append-only history)."""
    by = _who(by)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO setting_ends (setting_id, ended_at, ended_by, reason)"
            " SELECT setting_id, %s, %s, %s FROM patient_settings WHERE setting_id = %s"
            " AND ended_at IS NULL AND (valid_to IS NULL OR valid_to > %s)"
            " RETURNING (SELECT patient_id FROM setting_records WHERE setting_id = %s)",
            (now, by, reason, setting_id, now, setting_id),
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
            "INSERT INTO setting_ends (setting_id, ended_at, ended_by, reason)"
            " SELECT setting_id, %s, %s, 'replaced' FROM patient_settings WHERE patient_id = %s"
            " AND kind = %s AND parameter IS NOT DISTINCT FROM %s AND ended_at IS NULL"
            " AND (valid_to IS NULL OR valid_to > %s)",
            (now, by, patient_id, kind, parameter, now),
        )
        created = conn.execute(
            "INSERT INTO setting_records (patient_id, kind, parameter, spo2_scale, low, high,"
            " set_by, reason, valid_from, valid_to) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s) RETURNING setting_id",
            (patient_id, kind, parameter, scale, low, high, by, reason.strip(), now, until),
        ).fetchone()
        assert created is not None
        with conn.cursor(row_factory=class_row(SettingRow)) as cur:
            row = cur.execute(f"SELECT {SETTING_COLUMNS} FROM patient_settings"
                              " WHERE setting_id = %s", (created[0],)).fetchone()
        _rescore(conn, patient_id, now)
    assert row is not None
    return row


def _rescore(conn: psycopg.Connection, patient_id: str, since: datetime) -> None:
    """Ask the engine to rescore the patient from `since` under the new settings."""
    score_queue.enqueue(conn, [patient_id], [since])
