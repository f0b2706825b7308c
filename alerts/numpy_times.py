"""Times between numpy and Python for the pure alert rules: ``datetime64[us]``
is naive UTC, a ``datetime`` that leaves the rules is aware UTC.  ``now`` may
be either (an aware one is converted to naive UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

Now = np.datetime64 | datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_datetimes(x: ArrayLike) -> NDArray[np.datetime64]:
    """An array of times as ``datetime64[us]``."""
    return np.asarray(x).astype("datetime64[us]")


def as_datetime64(now: Now) -> np.datetime64:
    """One time as ``datetime64[us]``, naive UTC."""
    if isinstance(now, np.datetime64):
        return now.astype("datetime64[us]")
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(now, "us")


def aware(t: np.datetime64) -> datetime:
    """A datetime64 (naive UTC) as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=int(np.asarray(t).astype("datetime64[us]")
                                               .view(np.int64)))


def as_timedelta(d: np.timedelta64) -> timedelta:
    return timedelta(microseconds=int(d / np.timedelta64(1, "us")))
