"""Technical alert rules as pure functions: whether a patient's device has gone
silent or said it went offline, and whether its battery is low, and how severe
each is.  No I/O, no clock read (``now`` is passed in); the clinical rules and
the alert lifecycle are alerts/rules.py's.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts.numpy_times import Now, as_datetime64, as_datetimes
from ward.severity import Severity

# Technical faults prompt a look, not a rescue (as trends do, rules.TREND_SEVERITY);
# a low battery is nothing clinical yet, only worth knowing before the device falls silent.
DEVICE_OFFLINE_SEVERITY = Severity.LOW
BATTERY_LOW_SEVERITY = Severity.INFO
# One missed report is a Wi-Fi blip; two in a row is a device that needs a call.
OFFLINE_MISSED_REPORTS = 2
# Consumer devices warn at 20 %: enough left for a day of readings and a charge.
BATTERY_LOW_PERCENT = 20.0  # [%]


def device_offline(
    last_seen: ArrayLike, now: Now, expected_interval: ArrayLike | timedelta
) -> NDArray[np.bool_]:
    """Per device: silent for more than ``OFFLINE_MISSED_REPORTS`` expected intervals.

    last_seen : datetime64 array, NaT if never seen;  expected_interval : timedelta64
    """
    if isinstance(expected_interval, timedelta):
        expected_interval = np.timedelta64(expected_interval)
    limit = np.asarray(expected_interval).astype("timedelta64[us]") * OFFLINE_MISSED_REPORTS
    seen = as_datetimes(last_seen)
    return np.isnat(seen) | (as_datetime64(now) > seen + limit)


def silence_start(
    last_seen: ArrayLike, assigned_at: ArrayLike, registered_at: ArrayLike | None = None
) -> NDArray[np.datetime64]:
    """Per device: when its silence counts from (the time ``device_offline`` judges).

    The later of its last report and its assignment to the patient, so a device newly
    given to a patient is not offline the moment it is registered.  A device that has
    never reported and was assigned back in time (a backlog, a simulated ward) counts
    from its registration: it cannot have reported before it existed.

    last_seen : datetime64 array, NaT if never;  assigned_at, registered_at : datetime64
    """
    seen = as_datetimes(last_seen)
    start = np.fmax(seen, as_datetimes(assigned_at))
    if registered_at is None:
        return start
    never = np.isnat(seen)
    start[never] = np.fmax(start[never], as_datetimes(registered_at)[never])
    return start


def said_offline(
    online: ArrayLike, status_time: ArrayLike, last_seen: ArrayLike
) -> NDArray[np.bool_]:
    """Per device: its last word was the MQTT last will (``{"online": false}``).

    online : the latest status that said online or not (1.0, 0.0; NaN if none)
    status_time : datetime64 of that status (NaT if none)
    last_seen : datetime64 of its latest message of any kind (NaT if never); a report
        after the will means it came back (a status at the same instant still counts)
    """
    said = np.asarray(online, dtype=np.float64) == 0
    at = as_datetimes(status_time)
    seen = as_datetimes(last_seen)
    return said & ~np.isnat(at) & (np.isnat(seen) | (at >= seen))


def battery_low(battery_percent: ArrayLike) -> NDArray[np.bool_]:
    """Battery at or below ``BATTERY_LOW_PERCENT`` [%]; unknown (NaN) is not low."""
    return np.asarray(battery_percent, dtype=np.float64) <= BATTERY_LOW_PERCENT
