"""Times that people type: when an assignment or an admission began
(`vward device add --from`, the API's `valid_from` and `admitted_at`).
Pure: the caller passes `now` and the limits, so the edges are tested
without a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ward import durations
from ward.errors import WardError


def iso(t: datetime) -> str:
    """A time as people read it in our messages: UTC to the second, with Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, now: datetime) -> datetime:
    """ISO 8601 (naive = UTC), or an age such as 90m, 2h, 1d before ``now``
    (ward/durations.py's forms, with a unit: a bare number is no age);
    always aware, in UTC.  The same forms as `vward rescore`'s --since."""
    text = text.strip()
    if text[-1:].isalpha():
        try:
            return now - durations.parse(text)
        except ValueError:
            pass  # not an age: perhaps a time
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WardError(
            f"not a time: {text!r} (ISO 8601 such as 2026-11-23T08:00Z, naive meaning UTC,"
            " or an age such as 90m, 2h or 1d)"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def backdated(
    start: datetime, now: datetime, *, max_future: timedelta, max_age: timedelta,
    what: str = "the start",
) -> datetime:
    """When an assignment or an admission said to begin at ``start`` begins,
    or a WardError saying why it cannot.

    Ahead of ``now`` by no more than the clock skew the ingest allows
    (VWARD_MAX_FUTURE_SECONDS), it is taken as ``now``: the two clocks differ,
    the person meant "now".  Further ahead it is refused: what has not begun
    cannot be recorded as begun.  Older than the oldest reading the ingest
    accepts (VWARD_MAX_AGE_DAYS) it is refused too: no reading from before
    then could ever be stored for the patient."""
    if start > now + max_future:
        raise WardError(
            f"{what} {iso(start)} is in the future ({durations.text(start - now)} ahead of this"
            f" clock, {iso(now)}; VWARD_MAX_FUTURE_SECONDS allows"
            f" {max_future.total_seconds():.0f} s of clock skew): it can only be now or in"
            " the past"
        )
    if start < now - max_age:
        raise WardError(
            f"{what} {iso(start)} is more than {max_age.days} days ago (VWARD_MAX_AGE_DAYS):"
            " the ingest refuses readings that old, so none from then could be stored"
        )
    return min(start, now)

