"""The times people type for `vward device add --from` and the API's
`valid_from` / `admitted_at`: the forms accepted and the edges refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ward.errors import WardError
from ward.times import backdated, iso, parse_time

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SKEW = timedelta(seconds=300)
AGE = timedelta(days=30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        (" 2 h ", NOW - timedelta(hours=2)),
        ("2026-11-23T08:00Z", datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
        ("2026-11-23T08:00", datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),  # naive = UTC
        ("2026-11-23T09:30+01:00", datetime(2026, 11, 23, 8, 30, tzinfo=UTC)),
        ("2026-11-23", datetime(2026, 11, 23, tzinfo=UTC)),
    ],
)
def test_times_are_iso_8601_or_an_age(text, expected):
    got = parse_time(text, NOW)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-2h", "2w", "", "2026-13-01T00:00"])
def test_anything_else_is_refused_saying_what_is_accepted(text):
    with pytest.raises(WardError, match=r"not a time.*ISO 8601.*90m, 2h or 1d"):
        parse_time(text, NOW)


def _start(t: datetime) -> datetime:
    return backdated(t, NOW, max_future=SKEW, max_age=AGE, what="--from")


def test_a_start_in_the_past_is_kept():
    assert _start(NOW - timedelta(hours=1)) == NOW - timedelta(hours=1)


def test_a_start_ahead_by_no_more_than_the_clock_skew_is_now():
    assert _start(NOW + SKEW) == NOW
    assert _start(NOW + timedelta(seconds=1)) == NOW


def test_a_start_further_in_the_future_is_refused_naming_the_setting():
    with pytest.raises(WardError) as err:
        _start(NOW + SKEW + timedelta(seconds=1))
    msg = str(err.value)
    assert "--from 2026-11-23T12:05:01Z is in the future" in msg
    assert "VWARD_MAX_FUTURE_SECONDS allows 300 s" in msg


def test_a_start_as_old_as_the_oldest_reading_accepted_is_kept():
    assert _start(NOW - AGE) == NOW - AGE


def test_a_start_older_than_the_ingest_accepts_is_refused_naming_the_setting():
    with pytest.raises(WardError, match=r"more than 30 days ago \(VWARD_MAX_AGE_DAYS\)"):
        _start(NOW - AGE - timedelta(seconds=1))


def test_iso_is_utc_to_the_second():
    assert iso(datetime(2026, 11, 23, 9, 30, 5, 999, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-11-23T08:30:05Z"
    )


@given(st.integers(min_value=-40 * 86400, max_value=3600))
def test_a_start_is_refused_or_never_after_now_and_never_moved_back(offset_s):
    t = NOW + timedelta(seconds=offset_s)
    try:
        got = _start(t)
    except WardError:
        assert t > NOW + SKEW or t < NOW - AGE
        return
    assert got <= NOW and got == min(t, NOW)
