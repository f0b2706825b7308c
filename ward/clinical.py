"""What a clinician does to a patient's scoring, shared by every door they
come through (the CLI, the REST API, the dashboard): SpO2 scale 2 and
accepted ranges, each with its review date, and their end.  Each action is
one transaction that keeps the setting's history (append-only) and queues
the patient for rescoring (ward/score_queue.py).  Acknowledging and resolving
alerts is the alerts stage's (alerts/clinician.py): it owns the alerts table;
both refuse with ``ActionRefused`` and name the actor through ``who``."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from ward import score_queue
from ward.errors import WardError
from ward.news2_chart import CASCADES, RED, points_between
from ward.records import SETTING_COLUMNS, SettingRow

# Parameters an accepted range may cover: those scored by their value alone.  SpO2 has
# none: SpO2 scale 2 (for confirmed hypercapnic respiratory failure) is the only
# adjustment of SpO2 the RCP sanctions.  Oxygen and consciousness are not ranges.
RANGE_PARAMETERS = tuple(CASCADES)
# A setting that changes how a patient scores is reviewed at least every 14 days: a
# virtual ward stay is a few weeks, and a patient's "normal" that nobody looks at
# again silently hides their deterioration.  The setting lapses at its review date.
MAX_REVIEW = timedelta(days=14)


class ActionRefused(WardError):
    """The action does not apply (no such alert, already resolved, bad setting)."""


def who(by: str) -> str:
    """The clinician acting, refused when nobody is named (every action is on the record)."""
    by = (by or "").strip()
    if not by:
        raise ActionRefused("say who is acting (a clinician's name)")
    return by


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
    by = who(by)
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
    by = who(by)
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
