"""Alert pauses as the dashboard shows them (issue 13, item 5); pure, the pauses
in force (ward/pause_records.in_force) and ``now`` in.

A pause silences notifying only: the alert still opens and shows, labelled
"paused until 06:00" so that whoever looks at it knows nobody was told; the
patient's row on the ward says which kinds are paused and until when; the
patient page lists each pause with its end, who set it and why.  Whether a
pause covers an alert is ward/pauses.active's rule (never an emergency)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from dashboard import format as fmt
from ward import pauses as pause_rules
from ward.pauses import Pause


def until_text(t: datetime, tz: str | None, now: datetime) -> str:
    """'06:00', '06:00 tomorrow' (a pause lasts at most 24 h), in the ward's time."""
    local, today = fmt.to_local(t, tz), fmt.to_local(now, tz)
    return local.strftime("%H:%M") + (" tomorrow" if local.date() > today.date() else "")


def paused_label(pauses: Sequence[Pause], patient_id: str, kind: str, severity: str,
                 tz: str | None, now: datetime) -> str:
    """'paused until 06:00' for an alert whose notifying a pause silences now, '' if
    none does (an emergency never is)."""
    pause = pause_rules.active(pauses, patient_id, kind, severity, now)
    return "" if pause is None else f"paused until {until_text(pause.until, tz, now)}"


def ward_flag(pauses: Iterable[Pause], patient_id: str, tz: str | None, now: datetime) -> str:
    """The ward row's flag: 'Paused: NEWS2 until 06:00, Battery low until 09:30'."""
    mine = sorted((p for p in pauses if p.patient_id == patient_id and p.in_force(now)),
                  key=lambda p: (p.until, p.kind))
    if not mine:
        return ""
    return "Paused: " + ", ".join(f"{fmt.kind_text(p.kind)} until"
                                  f" {until_text(p.until, tz, now)}" for p in mine)


def pause_lines(pauses: Iterable[Pause], tz: str | None, now: datetime) -> list[str]:
    """The patient page's list: each pause in force with its end, who and why."""
    return [f"{fmt.kind_text(p.kind)} not notified until {fmt.local_text(p.until, tz)}"
            f" (in {fmt.duration_text((p.until - now).total_seconds())}; an emergency always"
            f" is), paused by {p.created_by}: {p.reason}"
            for p in sorted(pauses, key=lambda p: (p.until, p.kind)) if p.in_force(now)]
