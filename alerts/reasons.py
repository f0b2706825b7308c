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

from alerts.news2 import PARAMETERS
from ward.domain import ACVPU

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
_CONSCIOUSNESS = ("alert", "new confusion", "responds to voice", "responds to pain",
                  "unresponsive")
_I = {name: i for i, name in enumerate(PARAMETERS)}


def news2_reason(
    total: int,
    band: str,
    sub_scores: Sequence[int],
    inputs: Sequence[float],
    *,
    spo2_scale: int = 1,
    overridden: Sequence[bool] = (False,) * 7,
    at: datetime | None = None,
) -> str:
    """"NEWS2 7 (high): RR 26 scores 3, SpO2 93 on oxygen scores 2+2, ..." for one score."""
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
    if parts:
        text += ": " + ", ".join(parts)
    if missing:
        text += f"; incomplete, missing {', '.join(missing)} (a lower bound)"
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
    return (f"No complete set of observations {since}; band {band or 'zero'} needs one"
            f" every {span(interval)}")


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


def cleared_reason(kind_text: str, since: datetime | None, hold: timedelta) -> str:
    if since is None:
        return f"{kind_text}: condition clear"
    return f"{kind_text}: clear since {_when(since)} (held {span(hold)})"


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
        return f"{_CONSCIOUSNESS[code]} ({ACVPU[code]})" if 0 <= code < len(ACVPU) else "ACVPU ?"
    number = f"{value:.1f}" if name == "temperature" else f"{value:g}"
    return f"{_LABEL[name]} {number}{_UNIT.get(name, '')}"


def _hhmm(t: datetime) -> str:
    return f"{t:%H:%M}"


def _when(t: datetime | None) -> str:
    return "?" if t is None else f"{t:%Y-%m-%d %H:%M}Z"


def span(d: timedelta) -> str:
    minutes = d.total_seconds() / 60
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return f"{hours} h"
    return f"{minutes:g} min"
