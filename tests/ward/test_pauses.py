"""Pauses of an alert kind's notifying (ward/pauses.py, pure; ward/pause_records.py on
the real database): never an emergency, never beyond 24 h, a reason always, and an
append-only record of who paused what, why, until when, and who ended it."""

from __future__ import annotations

import getpass
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from conftest import ROOT, service_env

from alerts.lifecycle import ALERT_KINDS
from ward import pause_records
from ward.clinical import ActionRefused
from ward.errors import NotFound
from ward.pauses import MAX_PAUSE, PAUSABLE_KINDS, Pause, PauseRefused, active, validate
from ward.severity import Severity

T0 = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


def _pause(kind: str = "news2", *, patient: str = "pat-1", start: datetime = T0,
           hours: float = 8, ended_at: datetime | None = None, pause_id: int = 1) -> Pause:
    return Pause(pause_id=pause_id, patient_id=patient, kind=kind, starts_at=start,
                 ends_at=start + timedelta(hours=hours), reason="known low SpO2 overnight",
                 created_by="dr a", created_at=start, ended_at=ended_at,
                 ended_by=None if ended_at is None else "dr b", end_reason=None)


# --- validate ------------------------------------------------------------------------------


def test_exactly_24_hours_is_allowed() -> None:
    assert validate("news2", timedelta(hours=24), " reviewed ") == (
        "news2", timedelta(hours=24), "reviewed")
    assert timedelta(hours=24) == MAX_PAUSE


def test_24_hours_and_a_second_is_refused() -> None:
    with pytest.raises(PauseRefused, match="at most 24 h"):
        validate("news2", timedelta(hours=24, seconds=1), "reviewed")


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(seconds=-1)])
def test_no_length_is_refused(duration: timedelta) -> None:
    with pytest.raises(PauseRefused, match="lasts some time"):
        validate("news2", duration, "reviewed")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(reason) -> None:
    with pytest.raises(PauseRefused, match="clinical reason"):
        validate("news2", timedelta(hours=8), reason)


@pytest.mark.parametrize("kind", ["emergency", "urgent", "low", "info", "EMERGENCY"])
def test_a_severity_is_no_kind_and_emergency_never_paused(kind: str) -> None:
    with pytest.raises(PauseRefused, match="never paused"):
        validate(kind, timedelta(hours=1), "reviewed")


@pytest.mark.parametrize("kind", ["scoring_failed", "retrospective", "notification_failed",
                                  "review_due", "", "nonsense"])
def test_kinds_that_are_never_quietened(kind: str) -> None:
    with pytest.raises(PauseRefused, match="cannot be paused; the kinds that can: news2"):
        validate(kind, timedelta(hours=1), "reviewed")


def test_every_pausable_kind_is_an_alert_kind() -> None:
    assert set(PAUSABLE_KINDS) <= set(ALERT_KINDS)


# --- active --------------------------------------------------------------------------------


def test_a_pause_silences_its_kind_for_its_patient_from_start_to_end() -> None:
    p = _pause()
    assert active([p], "pat-1", "news2", "urgent", T0) == p
    assert active([p], "pat-1", "news2", "low", T0 + timedelta(hours=8, seconds=-1)) == p
    assert active([p], "pat-1", "news2", "urgent", T0 + timedelta(hours=8)) is None  # ended
    assert active([p], "pat-1", "news2", "urgent", T0 - timedelta(seconds=1)) is None
    assert active([p], "pat-2", "news2", "urgent", T0) is None  # another patient
    assert active([p], "pat-1", "spo2_falling", "low", T0) is None  # another kind


def test_emergency_is_never_paused() -> None:
    p = _pause()
    assert active([p], "pat-1", "news2", "emergency", T0 + timedelta(hours=1)) is None
    assert active([p], "pat-1", "news2", Severity.EMERGENCY, T0 + timedelta(hours=1)) is None
    assert active([p], "pat-1", "news2", Severity.URGENT, T0 + timedelta(hours=1)) == p


def test_an_unknown_severity_is_notified() -> None:
    assert active([_pause()], "pat-1", "news2", "critical", T0) is None


def test_an_ended_pause_silences_nothing_after_its_end() -> None:
    ended = _pause(ended_at=T0 + timedelta(hours=2))
    assert active([ended], "pat-1", "news2", "urgent", T0 + timedelta(hours=1)) == ended
    assert active([ended], "pat-1", "news2", "urgent", T0 + timedelta(hours=2)) is None
    assert ended.until == T0 + timedelta(hours=2)


def test_of_several_the_longest() -> None:
    short, long = _pause(hours=2, pause_id=1), _pause(hours=6, pause_id=2)
    assert active([short, long], "pat-1", "news2", "low", T0 + timedelta(hours=1)) == long


# --- in the database -----------------------------------------------------------------------


def test_set_replace_end_and_the_trail(conn: psycopg.Connection, register) -> None:
    patient = register().patient_id
    now = datetime.now(UTC)
    first = pause_records.set_pause(
        conn, patient, "news2", timedelta(hours=8), by="Dr A", reason="known low SpO2",
        now=now)
    assert (first.kind, first.ends_at, first.created_by) == (
        "news2", now + timedelta(hours=8), "Dr A")
    second = pause_records.set_pause(conn, patient, "news2", timedelta(hours=24), by="Dr B",
                                     reason="reviewed again", now=now + timedelta(minutes=1))
    live = pause_records.in_force(conn, [patient], now + timedelta(minutes=2))
    assert [p.pause_id for p in live] == [second.pause_id]  # the first was replaced
    ended = pause_records.end_kind(conn, patient, "news2", by="Dr C",
                                   now=now + timedelta(minutes=3), reason="worse today")
    assert [(p.ended_by, p.end_reason) for p in ended] == [("Dr C", "worse today")]
    assert pause_records.in_force(conn, [patient], now + timedelta(minutes=4)) == []
    trail = pause_records.history(conn, patient)
    assert [(p.pause_id, p.ended_by, p.end_reason) for p in trail] == [
        (second.pause_id, "Dr C", "worse today"), (first.pause_id, "Dr B", "replaced")]
    with pytest.raises(ActionRefused, match="no pause of news2 in force"):
        pause_records.end_kind(conn, patient, "news2", by="Dr C", now=now + timedelta(hours=1))
    with pytest.raises(ActionRefused, match=f"no pause {first.pause_id} in force"):
        pause_records.end_pause(conn, first.pause_id, by="Dr C", now=now)


def test_refusals_leave_nothing(conn: psycopg.Connection, register) -> None:
    patient = register().patient_id
    now = datetime.now(UTC)
    with pytest.raises(PauseRefused):
        pause_records.set_pause(conn, patient, "news2", timedelta(hours=25), by="Dr A",
                                reason="x", now=now)
    with pytest.raises(ActionRefused, match="say who"):
        pause_records.set_pause(conn, patient, "news2", timedelta(hours=2), by=" ",
                                reason="x", now=now)
    with pytest.raises(NotFound, match="no patient"):
        pause_records.set_pause(conn, "pat-nobody-here", "news2", timedelta(hours=2),
                                by="Dr A", reason="x", now=now)
    assert pause_records.history(conn, patient) == []


def test_the_database_refuses_what_the_rules_refuse(conn: psycopg.Connection,
                                                    register) -> None:
    """A writer that skips ward/pauses.py still cannot store a 25 h pause, an
    'emergency' pause or a pause without a reason, nor change one afterwards."""
    patient = register().patient_id
    insert = ("INSERT INTO alert_pause_records (patient_id, kind, starts_at, ends_at, reason,"
              " created_by) VALUES (%s, %s, now(), now() + %s, %s, 'Dr A') RETURNING pause_id")
    for kind, length, reason in [("news2", timedelta(hours=24, seconds=1), "x"),
                                 ("emergency", timedelta(hours=1), "x"),
                                 ("news2", timedelta(hours=1), " ")]:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, (patient, kind, length, reason))
    row = conn.execute(insert, (patient, "news2", timedelta(hours=24), "x")).fetchone()
    assert row is not None
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE alert_pause_records SET ends_at = ends_at + interval '1 day'"
                     " WHERE pause_id = %s", row)


# --- vward patient pause|unpause|pauses ----------------------------------------------------


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], env=service_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_pause_commands(services_up, register) -> None:
    patient = register().patient_id
    too_long = _vward(services_up, "patient", "pause", patient, "--kind", "news2", "--for",
                      "25h", "--reason", "known low SpO2 overnight, reviewed", "--by", "Dr Bo")
    assert too_long.returncode == 2
    assert too_long.stderr.startswith("vward: a pause lasts at most 24 h")
    emergency = _vward(services_up, "patient", "pause", patient, "--kind", "emergency",
                       "--for", "1h", "--reason", "x")
    assert emergency.returncode == 2
    assert emergency.stderr.startswith("vward: a pause is of an alert kind, not a severity")
    assert "an emergency is never paused" in emergency.stderr
    fault = _vward(services_up, "patient", "pause", patient, "--kind", "scoring_failed",
                   "--for", "1h", "--reason", "x")
    assert fault.returncode == 2 and "cannot be paused; the kinds that can" in fault.stderr
    no_reason = _vward(services_up, "patient", "pause", patient, "--kind", "news2", "--for",
                       "8h", "--reason", " ", "--by", "Dr Bo")
    assert no_reason.returncode == 2 and "clinical reason" in no_reason.stderr
    paused = _vward(services_up, "patient", "pause", patient, "--kind", "news2", "--for", "8h",
                    "--reason", "known low SpO2 overnight, reviewed", "--by", "Dr Bo")
    assert paused.returncode == 0, paused.stderr
    assert f"patient {patient}: news2 not notified until" in paused.stdout
    unnamed = _vward(services_up, "patient", "pause", patient, "--kind", "battery_low",
                     "--for", "90m", "--reason", "told to charge it")
    assert unnamed.returncode == 0, unnamed.stderr
    assert f"by {getpass.getuser()})" in unnamed.stdout  # the account running vward
    listed = _vward(services_up, "patient", "pauses", patient)
    assert listed.returncode == 0 and "2 pauses" in listed.stdout
    assert "news2           in force" in listed.stdout and "by Dr Bo" in listed.stdout
    ended = _vward(services_up, "patient", "unpause", patient, "--kind", "news2", "--by",
                   "Dr Cy", "--reason", "worse today")
    assert ended.returncode == 0 and "news2 notified again" in ended.stdout
    again = _vward(services_up, "patient", "unpause", patient, "--kind", "news2", "--by", "Dr Cy")
    assert (again.returncode, again.stderr.strip()) == (
        2, f"vward: patient {patient} has no pause of news2 in force")
    listed = _vward(services_up, "patient", "pauses", patient)
    assert "ended" in listed.stdout and "by Dr Cy (worse today)" in listed.stdout
