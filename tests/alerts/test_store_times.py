"""alerts.store.as_times turns the database's aware datetimes into naive-UTC
datetime64[us] by whole microseconds since the epoch (fast: a tick converts every
device's and patient's times): the same instants as a datetime64 made from each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from alerts.store import NOTHING_NEW, as_times


def test_aware_times_in_any_zone_are_their_utc_instant_to_the_microsecond() -> None:
    values = [datetime(2026, 12, 3, 16, 0, 0, 123456, tzinfo=UTC),
              datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2))),
              datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
              None, NOTHING_NEW]
    got = as_times(values)
    assert got.dtype == np.dtype("datetime64[us]")
    assert got[0] == np.datetime64("2026-12-03T16:00:00.123456")
    assert got[1] == np.datetime64("2026-03-28T23:30:00")
    assert got[2] == np.datetime64("1969-12-31T23:59:59.999999")
    assert np.isnat(got[3])
    assert got[4] == np.datetime64("9999-12-31T00:00:00")
    assert len(as_times([])) == 0


def test_a_naive_time_is_taken_as_local_as_before() -> None:
    naive = datetime(2026, 6, 1, 12, 0)
    want = np.datetime64(naive.astimezone(UTC).replace(tzinfo=None), "us")
    assert as_times([naive, None])[0] == want
