"""Quiet hours without quiet patients: may a clinician pause the notifying of
one alert kind for one patient, and is a pause in force for an alert.  Pure,
no I/O, ``at`` passed in; the rows are ``alert_pauses`` (migration 017), read
and written by ward/pause_records.py; the notifier (notify/) asks ``active``.

A pause silences notifications only.  The alert still opens, shows on the
dashboard (labelled "paused until HH:MM") and stays in the alert list: the
patient is never hidden.  The rules, with their reasons (docs/alerts.md,
"Pauses"; hazard log H50–H54):

- never an emergency: an ``emergency`` alert (NEWS2 7 or more, an overdue set
  of a patient in the high band) is notified whatever is paused, because the
  RCP asks for an emergency response to it and a pause was set on a picture
  that has since got worse;
- never beyond 24 hours (``MAX_PAUSE``): a patient's "known" overnight picture
  is reviewed again within a day; a pause nobody renews lapses by itself;
- a reason, and a clinician's name, always: a silence is on the record;
- only the kinds in ``PAUSABLE_KINDS``: a kind that reports a fault in the
  ward itself (scoring failed, a notification failed) or an episode nobody was
  told about (retrospective) is never quietened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ward.errors import WardError
from ward.records import select_list
from ward.severity import Severity, severity_of

# A night and the day after: a pause set at the evening round covers the next
# evening round, where someone looks at the patient again and renews it or not.
MAX_PAUSE = timedelta(hours=24)

# The alert kinds (alerts/lifecycle.py) whose notifying a clinician may pause, each
# for the case it is for; tests/ward/test_pauses.py checks each is a kind there.
PAUSABLE_KINDS: dict[str, str] = {
    "news2": "a known, reviewed low or urgent score (e.g. low SpO2 overnight in COPD)",
    "score_rising": "a rise already reviewed",
    "spo2_falling": "a known fall (e.g. oxygen taken off for a wash)",
    "overdue": "a patient asleep whom the team agreed not to wake",
    "device_offline": "a device known to be off (charging, patient out)",
    "battery_low": "a battery the patient has been told to charge",
}


class PauseRefused(WardError):
    """A pause that may not be set (an emergency, too long, no reason, an unknown kind)."""


@dataclass(frozen=True, slots=True)
class Pause:
    """A row of ``alert_pauses`` (the view of migration 017).  ``ends_at`` is the end
    the clinician set; ``ended_at`` when it was ended early or replaced (None: not)."""

    pause_id: int
    patient_id: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None

    @property
    def until(self) -> datetime:
        """When it stops: its end, or its early end."""
        return self.ends_at if self.ended_at is None else min(self.ends_at, self.ended_at)

    def in_force(self, at: datetime) -> bool:
        return self.starts_at <= at < self.until


PAUSE_COLUMNS = select_list(Pause)


def validate(kind: str, duration: timedelta, reason: str) -> tuple[str, timedelta, str]:
    """The kind, duration and reason of a pause that may be set (the reason stripped);
    ``PauseRefused`` saying why otherwise.  Exactly ``MAX_PAUSE`` is allowed."""
    kind = (kind or "").strip()
    if kind == "emergency" or kind.upper() in Severity.__members__:
        raise PauseRefused(
            f"a pause is of an alert kind, not a severity ({kind!r}); an emergency is never"
            " paused: it is notified whatever is paused")
    if kind not in PAUSABLE_KINDS:
        raise PauseRefused(f"alert kind {kind!r} cannot be paused; the kinds that can:"
                           f" {', '.join(PAUSABLE_KINDS)}")
    if duration <= timedelta(0):
        raise PauseRefused("a pause lasts some time: give a length such as 8h")
    if duration > MAX_PAUSE:
        raise PauseRefused(
            f"a pause lasts at most {MAX_PAUSE.total_seconds() / 3600:g} h (asked for"
            f" {duration}): the patient's picture is reviewed again within a day")
    reason = (reason or "").strip()
    if not reason:
        raise PauseRefused("give the clinical reason for the pause (e.g. 'known low SpO2"
                           " overnight, reviewed')")
    return kind, duration, reason


def active(pauses: Iterable[Pause], patient: str, kind: str, severity: str | Severity,
           at: datetime) -> Pause | None:
    """The pause that silences notifying ``kind`` for ``patient`` at ``at``, None if the
    alert is to be notified.  An emergency is never paused; nor is a severity this
    module does not know (when in doubt, notify).  Of several in force, the one that
    runs longest."""
    try:
        rank = severity if isinstance(severity, Severity) else severity_of(severity)
    except KeyError:
        return None
    if rank >= Severity.EMERGENCY:
        return None
    matching = [p for p in pauses
                if p.patient_id == patient and p.kind == kind and p.in_force(at)]
    return max(matching, key=lambda p: p.until, default=None)
