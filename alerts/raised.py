"""Alerts raised from outside the engine's judgement, through the one writer of
alerts (alert_store.write_changes) and the same lifecycle (lifecycle.reconcile),
so that they open, update and show like any other: today ``notification_failed``,
which the notifier (notify/) raises when a message to the people on call could
not be delivered.  Exported as ``alerts.raise_notification_failed``."""

from __future__ import annotations

from datetime import datetime

import psycopg

from alerts import alert_store, lifecycle
from alerts.lifecycle import NOTIFICATION_FAILED, Condition
from ward.severity import Severity

# A clinician who was not told is a patient nobody is watching: as urgent as an
# urgent score (the same reasoning as scoring_failed), for the admins to fix now.
NOTIFICATION_FAILED_SEVERITY = Severity.URGENT


def notification_failed(conn: psycopg.Connection, *, patient_id: str, ward_id: str,
                        reason: str, now: datetime, actor: str) -> int:
    """Open ``notification_failed`` for the patient (or, while one is live, record the
    new reason on it as 'updated'); returns the events written.  Runs in the caller's
    transaction, so the alert and whatever the caller records commit together.  It
    stays until a person resolves it: the failure it reports is not judged again."""
    live = alert_store.live_alerts(conn, patients=[patient_id], kinds=[NOTIFICATION_FAILED])
    condition = Condition(patient_id, ward_id, NOTIFICATION_FAILED,
                          NOTIFICATION_FAILED_SEVERITY, reason, condition_time=now)
    changes = lifecycle.reconcile(live, [condition], now)
    return alert_store.write_changes(conn, changes, now, actor)
