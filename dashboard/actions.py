"""What a clinician does from the dashboard, through the alerts stage's public
actions and ward.clinical (the same code as the CLI and the REST API), as a
Feedback the page shows: an action never raises into a callback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

import alerts
from dashboard.deps import Database, DatabaseUnavailable
from ward import access, clinical, durations, pause_records
from ward.durations import EXACT
from ward.errors import WardError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Feedback:
    ok: bool
    message: str


def _run(db: Database, user: str | None, what, done: str, *, patient: str | None = None,
         alert: int | None = None) -> Feedback:
    """``patient``, ``alert``: what the action touches, refused as if it did not
    exist when it is not on one of the user's wards (ward/access.py)."""
    if not user:
        return Feedback(False, "Not signed in: sign in again to act on the ward's records.")
    try:
        with db.connection() as conn:
            if patient is not None:
                access.check_acting(conn, user, patient, as_missing=True)
            if alert is not None:
                access.check_acting_on_alert(conn, user, alert, as_missing=True)
            what(conn, user)
    except WardError as exc:  # ActionRefused, a pause refused (ward/pauses.py), no such patient
        return Feedback(False, str(exc))
    except DatabaseUnavailable:
        return Feedback(False, "The database is unreachable: nothing was changed. Try again.")
    except psycopg.Error as exc:
        log.exception("dashboard action failed")
        return Feedback(False, f"Refused by the database: {exc.diag.message_primary or exc}")
    return Feedback(True, done)


def acknowledge(db: Database, alert_id: int | None, *, user: str | None, note: str,
                changed_management: bool | None, now: datetime,
                action: str = "") -> Feedback:
    if alert_id is None:
        return Feedback(False, "Choose an alert first.")
    return _run(db, user, lambda conn, by: alerts.acknowledge(
        conn, alert_id, by=by, now=now, via="dashboard", note=(note or "").strip(), action=action,
        changed_management=changed_management), f"Alert {alert_id} acknowledged by {user}.",
        alert=alert_id)


def resolve(db: Database, alert_id: int | None, *, user: str | None, note: str,
            now: datetime) -> Feedback:
    if alert_id is None:
        return Feedback(False, "Choose an alert first.")
    return _run(db, user, lambda conn, by: alerts.resolve(
        conn, alert_id, by=by, now=now, note=(note or "").strip()),
        f"Alert {alert_id} resolved by {user}.", alert=alert_id)


def set_spo2_scale(db: Database, patient_id: str, scale: int | None, *, user: str | None,
                   reason: str, now: datetime) -> Feedback:
    if scale is None:
        return Feedback(False, "Choose SpO2 scale 1 or 2.")
    return _run(db, user, lambda conn, by: clinical.set_spo2_scale(
        conn, patient_id, int(scale), by=by, reason=reason or "", now=now),
        f"SpO2 scale {scale} set by {user}; the patient is rescored from now.",
        patient=patient_id)


def set_accepted_range(db: Database, patient_id: str, parameter: str | None,
                       low: float | None, high: float | None, *, user: str | None,
                       reason: str, now: datetime, until: datetime | None = None) -> Feedback:
    if not parameter or low is None or high is None:
        return Feedback(False, "Give the parameter and both ends of the range.")
    return _run(db, user, lambda conn, by: clinical.set_accepted_range(
        conn, patient_id, parameter, float(low), float(high), by=by, reason=reason or "",
        now=now, until=until),
        f"Accepted range for {parameter} {low:g}–{high:g} set by {user}; rescoring from now.",
        patient=patient_id)


def end_setting(db: Database, setting_id: int | None, *, user: str | None,
                now: datetime) -> Feedback:
    if setting_id is None:
        return Feedback(False, "Choose a setting first.")
    return _run(db, user, lambda conn, by: clinical.end_setting(conn, setting_id, by=by, now=now),
                f"Setting {setting_id} ended by {user}; back to the standard chart.")


def pause(db: Database, patient_id: str, kind: str | None, length: timedelta | None, *,
          user: str | None, reason: str, now: datetime) -> Feedback:
    """Stop notifying ``kind`` for the patient (ward/pauses.py's rules): the alert still
    opens and shows; never an emergency; at most 24 h."""
    if not kind or length is None:
        return Feedback(False, "Choose the alert kind and how long.")
    return _run(db, user, lambda conn, by: pause_records.set_pause(
        conn, patient_id, kind, length, by=by, reason=reason or "", now=now),
        f"{kind} not notified for {durations.text(length, parts=EXACT)}, paused by {user};"
        " the alert still opens and shows, and an emergency is always notified.",
        patient=patient_id)


def unpause(db: Database, patient_id: str, kind: str | None, *, user: str | None,
            now: datetime) -> Feedback:
    """End the patient's pauses of ``kind`` (every pause when none is chosen) now."""
    return _run(db, user, lambda conn, by: pause_records.end_kind(
        conn, patient_id, kind or None, by=by, now=now),
        f"{kind or 'Every kind'} notified again from now (ended by {user}).",
        patient=patient_id)


def discharge(db: Database, discharger: Callable[..., Any] | None, patient_id: str | None, *,
              user: str | None, role: str | None, summary: str, outcome: str | None,
              admission_reason: str | None, now: datetime) -> tuple[Feedback, str | None]:
    """Discharge with the summary for the GP, through the web app's discharge (the
    API's and the CLI's): the feedback, and the document's path when done."""
    if not patient_id:
        return Feedback(False, "No patient."), None
    if role is not None and role != "clinician":
        return Feedback(False, f"a discharge summary is written by a clinician; you are"
                               f" signed in as an {role}."), None
    if discharger is None:
        return Feedback(False, "discharging is served by the ward's web app (vward web),"
                               " not by this dashboard alone."), None
    made: list[Any] = []

    def act(conn: psycopg.Connection, by: str) -> None:
        # A patient out of the user's wards: as if there were none (ward/access.py).
        access.check_acting(conn, by, patient_id, as_missing=True)
        made.append(discharger(
            conn, patient_id, by=by, summary=summary or "", now=now, outcome=outcome or None,
            admission_reason=(admission_reason or "").strip() or None))

    result = _run(db, user, act,
                  f"{patient_id} discharged by {user}; the discharge summary is made and kept.")
    return result, made[0].path if made else None
