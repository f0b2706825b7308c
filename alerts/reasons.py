"""Why an alert fired, in the words a clinician reads on the hub's screen.

"NEWS2 7 (high): RR 26 scores 3, SpO2 93 on oxygen scores 2+2; incomplete: no
temperature".  Only the parameters that score are named (and those a
clinician's accepted range has zeroed, so nobody wonders why a pulse of 105
scores nothing).  Pure string formatting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from ward import durations
from ward.news2_chart import ACVPU, ACVPU_NAMES, PARAMETERS

# How the hub's screen names each parameter in a sentence (reasons are read fast).
_LABEL = {
    "respiratory_rate": "RR",
    "spo2": "SpO2",
    "on_oxygen": "oxygen",
    "systolic_bp": "systolic BP",
    "heart_rate": "pulse",
    "consciousness": "ACVPU",
    "temperature": "temperature",
}
_UNIT = {"respiratory_rate": "", "spo2": " %", "systolic_bp": "", "heart_rate": "",
         "temperature": " °C"}
_I = {name: i for i, name in enumerate(PARAMETERS)}


def news2_reason(
    total: int,
    band: str,
    sub_scores: Sequence[int],
    inputs: Sequence[float],
    *,
    spo2_scale: int = 1,
    overridden: Sequence[bool] | None = None,
    at: datetime | None = None,
    adjusted: tuple[int, str] | None = None,
    stale: Sequence[bool] | None = None,
    measured: Sequence[datetime | None] | None = None,
) -> str:
    """"NEWS2 7 (high): RR 26 scores 3, SpO2 93 on oxygen scores 2+2, ..." for one score.

    ``total`` and ``band`` are the true NEWS2; ``adjusted`` the (total, band) after the
    patient's accepted ranges, when one applied.  Stale parameters (measured longer
    ago than the monitoring band allows) are named with their measurement time.
    ``overridden``, ``stale`` and ``measured`` are per parameter (``PARAMETERS`` order);
    None: none overridden, none stale, times unknown."""
    k = len(PARAMETERS)
    overridden = [False] * k if overridden is None else overridden
    stale = [False] * k if stale is None else stale
    measured = [None] * k if measured is None else measured
    parts = []
    for name in PARAMETERS:
        i = _I[name]
        if name == "on_oxygen" or sub_scores[i] < 0:
            continue
        if name == "spo2":
            part = _spo2(sub_scores, inputs, spo2_scale)
        elif sub_scores[i] > 0 or overridden[i]:
            part = f"{_value(name, inputs[i])} scores {sub_scores[i]}"
        else:
            continue
        if part and overridden[i]:
            part += " (within the patient's accepted range)"
        if part:
            parts.append(part)
    if sub_scores[_I["spo2"]] < 0 and sub_scores[_I["on_oxygen"]] == 2:
        parts.append("on oxygen scores 2")
    missing = [_LABEL[p] for p, s in zip(PARAMETERS, sub_scores, strict=True) if s < 0]
    when = f" at {_hhmm(at)}" if at is not None else ""
    text = f"NEWS2 {total} ({band}){when}"
    if adjusted is not None:
        text += f", adjusted {adjusted[0]} ({adjusted[1]}) by accepted ranges"
    if parts:
        text += ": " + ", ".join(parts)
    old = [f"{_LABEL[p]} (measured {_hhmm(t)})" if t is not None else _LABEL[p]
           for p, s, t in zip(PARAMETERS, stale, measured, strict=True) if s]
    if missing or old:
        gaps = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"stale {', '.join(old)}"] if old else [])
        text += f"; incomplete, {'; '.join(gaps)} (a lower bound)"
    return text


def score_rising_reason(low: float, latest: float, window: timedelta) -> str:
    return f"NEWS2 rose from {low:.0f} to {latest:.0f} within {span(window)}"


def spo2_falling_reason(high: float, latest: float, window: timedelta) -> str:
    return f"SpO2 fell from {high:.0f} % to {latest:.0f} % within {span(window)}"


def overdue_reason(last_complete: datetime | None, band: str, interval: timedelta,
                   admitted_at: datetime | None) -> str:
    since = (f"since {_when(last_complete)}" if last_complete is not None
             else f"since admission ({_when(admitted_at)})" if admitted_at is not None
             else "ever")
    return (f"No complete set of observations {since}; the {band or 'zero'} band (the highest"
            f" since the last complete set) needs one every {span(interval)}")


def device_offline_reason(device_id: str, kind: str, *, said_offline: bool,
                          last_seen: datetime | None, expected: timedelta) -> str:
    what = f"Device {device_id} ({kind})"
    if said_offline:
        return f"{what} went offline (connection lost) at {_when(last_seen)}"
    if last_seen is None:
        return f"{what} has never reported (expected every {span(expected)})"
    return f"{what} silent since {_when(last_seen)} (expected every {span(expected)})"


def battery_low_reason(device_id: str, kind: str, battery: float, threshold: float) -> str:
    return f"Device {device_id} ({kind}) battery {battery:.0f} % (at or below {threshold:.0f} %)"


def retrospective_reason(peak: str, start: datetime, end: datetime, clear: datetime) -> str:
    """A past episode found in late readings, for a clinician to review."""
    return (f"Late readings show {peak}: raised from {_when(start)} to {_when(end)},"
            f" clear at {_when(clear)}; nobody was alerted then: review the patient")


def review_due_reason(kind: str, parameter: str | None, low: float | None, high: float | None,
                      set_by: str, why: str, review_at: datetime) -> str:
    what = ("SpO2 scale 2" if kind == "spo2_scale" else
            f"accepted range {_LABEL.get(parameter or '', parameter)} {low:g}–{high:g}")
    return (f"{what} (set by {set_by}: {why}) reached its review date {_when(review_at)}: the"
            " standard chart applies again; review it and renew it or let it go")


def scoring_failed_reason(failures: int, since: datetime, error: str) -> str:
    return (f"The alerts engine could not score this patient {failures} times in a row since"
            f" {_when(since)} ({error[:200]}): no NEWS2 alert can fire; scores shown are old")


def _spo2(sub_scores: Sequence[int], inputs: Sequence[float], scale: int) -> str:
    s, oxygen = sub_scores[_I["spo2"]], sub_scores[_I["on_oxygen"]]
    value = f"{inputs[_I['spo2']]:g}"
    on = {2: " on oxygen", 0: " on air"}.get(oxygen, " (air or oxygen not known)")
    scale_text = " (scale 2)" if scale == 2 else ""
    if oxygen == 2:
        return f"SpO2 {value}{on}{scale_text} scores {s}+2"
    if s > 0:
        return f"SpO2 {value}{on}{scale_text} scores {s}"
    return ""


def _value(name: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{_LABEL[name]} ?"
    if name == "consciousness":
        code = int(value)
        return f"{ACVPU_NAMES[code]} ({ACVPU[code]})" if 0 <= code < len(ACVPU) else "ACVPU ?"
    number = f"{value:.1f}" if name == "temperature" else f"{value:g}"
    return f"{_LABEL[name]} {number}{_UNIT.get(name, '')}"


def _hhmm(t: datetime) -> str:
    return f"{t:%H:%M}"


def _when(t: datetime | None) -> str:
    return "?" if t is None else f"{t:%Y-%m-%d %H:%M}Z"


def span(d: timedelta) -> str:
    """A rule's window or interval exactly, every unit it takes ('1 h 30 min'):
    a clinical reason never rounds a setting (ward/durations.py)."""
    return durations.text(d, parts=durations.EXACT)
