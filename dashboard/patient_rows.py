"""The patient page's panels as plain data: the clinical settings (with their
review dates) and the devices; pure, database rows and ``now`` in."""

from __future__ import annotations

from datetime import datetime

from dashboard import format as fmt
from dashboard.rows import battery_low
from ward.records import SettingRow

PARAMETER_LABELS = {"respiratory_rate": "Respiration rate", "spo2": "SpO2",
                    "systolic_bp": "Systolic BP", "heart_rate": "Pulse",
                    "temperature": "Temperature"}


def in_force(s: SettingRow, now: datetime) -> bool:
    return s.valid_from <= now and (s.valid_to is None or s.valid_to > now)


def setting_text(s: SettingRow) -> str:
    if s.kind == "spo2_scale":
        return f"SpO₂ scale {s.spo2_scale}"
    label = PARAMETER_LABELS.get(s.parameter or "", s.parameter)
    return f"{label} accepted {s.low:g}–{s.high:g} (scores 0 in the adjusted score)"


def review_text(s: SettingRow, tz: str | None, now: datetime) -> str:
    """' · review by Tue 15 Dec 10:00 GMT (in 11 d)': when the setting lapses and the
    patient goes back to the standard chart (the engine then asks for a review)."""
    if s.review_at is None:
        return ""
    left = (s.review_at - now).total_seconds()
    when = f"in {fmt.duration_text(left)}" if left > 0 else "due now"
    return f" · review by {fmt.local_text(s.review_at, tz)} ({when})"


def settings_now(history: list[SettingRow], tz: str | None, now: datetime) -> list[str]:
    """The settings in force, each with its review date; the standard chart if none."""
    return [setting_text(s) + review_text(s, tz, now) for s in history if in_force(s, now)] \
        or ["Standard NEWS2 chart: SpO₂ scale 1, no accepted ranges."]


def setting_rows(history: list[SettingRow], tz: str | None, now: datetime) -> list[dict]:
    out = []
    for s in history:
        period = f"from {fmt.local_text(s.valid_from, tz)}"
        if s.ended_at is not None:
            period += f", ended {fmt.local_text(s.ended_at, tz)} by {s.ended_by}"
            if s.end_reason:
                period += f" ({s.end_reason})"
        elif s.review_at is not None:
            period += f", review by {fmt.local_text(s.review_at, tz)}"
            if s.review_at <= now:
                period += " (lapsed)"
        elif s.valid_to is not None:
            period += f" to {fmt.local_text(s.valid_to, tz)}"
        out.append({"setting_id": s.setting_id, "row_id": str(s.setting_id),
                    "what": setting_text(s), "by": s.set_by, "reason": s.reason,
                    "period": period, "current": in_force(s, now)})
    return out


def device_rows(devices, tz: str | None, now: datetime) -> list[dict]:
    out = []
    for d in devices:
        current = d.valid_to is None
        state = "unassigned" if not current else (
            "offline" if d.online is False else "online" if d.online else "unknown")
        low = battery_low(d.battery)
        out.append({
            "device_id": d.device_id, "kind": d.kind, "state": state,
            "problem": current and (d.online is False or low),
            "battery": fmt.battery_text(d.battery), "last_seen": fmt.ago(d.last_seen, now),
            "last_seen_at": fmt.local_text(d.last_seen, tz),
            "assigned": f"since {fmt.local_text(d.valid_from, tz)}" if current else
            f"{fmt.local_text(d.valid_from, tz)} – {fmt.local_text(d.valid_to, tz)}",
            "firmware": d.firmware or ""})
    return out
