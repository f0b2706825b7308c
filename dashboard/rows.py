"""The ward view's rows as plain data for AG Grid (``rowData``), and the
order of acuity; pure: database rows and ``now`` in, dicts out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np

from alerts import rules
from alerts.lifecycle import OVERDUE
from alerts.news2 import PARAMETERS
from dashboard import format as fmt
from dashboard.figures import BAND_LABELS, band_rank, sparkline_path
from dashboard.queries import SEVERITIES, AlertItem, WardPatient

# Grid column key of each NEWS2 parameter (alerts.news2.PARAMETERS order).
COLUMN_KEYS: dict[str, str] = {
    "respiratory_rate": "rr", "spo2": "spo2", "on_oxygen": "o2", "systolic_bp": "sbp",
    "heart_rate": "hr", "consciousness": "acvpu", "temperature": "temp"}
SHORT_NAMES: dict[str, str] = {
    "respiratory_rate": "RR", "spo2": "SpO2", "on_oxygen": "O2", "systolic_bp": "SBP",
    "heart_rate": "HR", "consciousness": "ACVPU", "temperature": "Temp"}
# A patient with no score at all sorts just below low-medium: nothing is known,
# and a silent patient must not sink to the bottom with the well ones.
_NO_SCORE_RANK = 1.5


def severity_rank(severity: str | None) -> int:
    """0 for none, 1 (INFO) .. 4 (EMERGENCY)."""
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 0


def is_overdue(p: WardPatient, now: datetime) -> bool:
    """The engine's decision: its open overdue alert or, between its ticks,
    its own rule (``alerts.rules.overdue``, the band's monitoring interval)
    on the latest score.  That score stands in for the last complete set,
    which is never later, so the rule here can only under-report, and the
    alert covers the rest.  A patient never scored is overdue: never hide one."""
    return overdue([p], now)[0]


def overdue(patients: Sequence[WardPatient], now: datetime) -> list[bool]:
    """``is_overdue`` for many patients, in one call of the engine's rule."""
    if not patients:
        return []
    scored = np.array([np.datetime64("NaT") if p.scored_time is None else
                       _naive_utc(p.scored_time) for p in patients], dtype="datetime64[us]")
    late = rules.overdue(scored, [p.band or "" for p in patients], now,
                         np.full(len(patients), np.datetime64("NaT"), dtype="datetime64[us]"))
    return [bool(x) or OVERDUE in p.alert_kinds for p, x in zip(patients, late, strict=True)]


def battery_low(battery: float | None) -> bool:
    """The engine's battery rule (``alerts.rules.battery_low``); unknown is not low."""
    return battery is not None and bool(rules.battery_low(battery))


def _naive_utc(t: datetime) -> np.datetime64:
    return np.datetime64(t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t, "us")


def acuity_key(p: WardPatient, overdue: bool) -> tuple:
    """Sickest first: band, total, worst open alert, overdue, then name."""
    rank = band_rank(p.band)
    return (-(rank if rank >= 0 else _NO_SCORE_RANK), -(p.total or 0),
            -severity_rank(p.top_severity), not overdue, p.name.lower())


def ward_rows(patients: Iterable[WardPatient], now: datetime) -> list[dict]:
    """AG Grid rowData, sickest first, each row keyed by patient_id."""
    patients = list(patients)
    ordered = sorted(zip(patients, overdue(patients, now), strict=True),
                     key=lambda pair: acuity_key(*pair))
    return [_row(p, i, late, now) for i, (p, late) in enumerate(ordered, start=1)]


def _row(p: WardPatient, rank: int, overdue: bool, now: datetime) -> dict:
    incomplete = p.complete is False
    label = BAND_LABELS.get(p.band or "", "No score")
    row: dict = {
        "patient_id": p.patient_id, "name": p.name, "ward_id": p.ward_id, "rank": rank,
        "href": f"/patient/{p.patient_id}",
        "total": p.total, "band": p.band or "none",
        "band_label": label,
        # An incomplete total is a lower bound (news2.md): "5+".
        "score": label if p.total is None else f"{p.total}{'+' if incomplete else ''} {label}",
        "incomplete": incomplete, "overdue": overdue,
        "measured": fmt.ago(p.scored_time, now),
        "measured_at": fmt.local_text(p.scored_time, p.time_zone),
        "trend": sparkline_path(p.trend or []),
        "spo2_scale": p.spo2_scale or 1,
    }
    subs = p.sub_scores or [-1] * len(PARAMETERS)
    values = p.inputs or [None] * len(PARAMETERS)
    for name, sub, value in zip(PARAMETERS, subs, values, strict=True):
        key = COLUMN_KEYS[name]
        row[key] = fmt.vital_text(name, value)
        row[f"{key}_s"] = int(sub) if value is not None else -1
    if p.spo2_scale == 2 and row["spo2"]:
        row["spo2"] += " (S2)"
    row["flags"] = _flags(p, overdue)
    row.update(_devices(p))
    row.update(_alerts(p))
    return row


def _flags(p: WardPatient, overdue: bool) -> str:
    flags = []
    if p.total is None:
        flags.append("NO SCORE")
    elif overdue:
        flags.append("OVERDUE")
    if p.complete is False:
        missing = ", ".join(SHORT_NAMES.get(m, m) for m in (p.missing or []))
        flags.append(f"Incomplete: no {missing}" if missing else "Incomplete")
    if p.overridden:
        flags.append("Accepted range applied")
    return " · ".join(flags)


def _devices(p: WardPatient) -> dict:
    """Short text for the cell ('online · 80 %', '1 OFFLINE'), detail for the tooltip."""
    if not p.devices:
        return {"devices": "no device", "devices_detail": "no device assigned",
                "device_problem": True}
    low = battery_low(p.battery)
    short = [f"{p.offline} OFFLINE" if p.offline else "online"]
    if p.battery is not None:
        short.append(fmt.battery_text(p.battery) + (" LOW" if low else ""))
    detail = f"{p.devices} device{'s' if p.devices > 1 else ''}, {p.offline} offline"
    if p.battery is not None:
        detail += f", lowest battery {fmt.battery_text(p.battery)}"
    return {"devices": " · ".join(short), "devices_detail": detail,
            "device_problem": bool(p.offline) or low}


def _alerts(p: WardPatient) -> dict:
    """The worst open alert's severity ('URGENT +1' when there are more); the
    tooltip counts them and names their kinds."""
    if not p.open_alerts:
        return {"alerts": "", "alert_severity": "none", "alert_detail": "", "alert_new": False}
    text = (p.top_severity or "?").upper() + (f" +{p.open_alerts - 1}" if p.open_alerts > 1 else "")
    detail = (f"{p.open_alerts} open, {p.unacknowledged} not acknowledged: "
              + ", ".join(fmt.kind_text(k) for k in p.alert_kinds))
    return {"alerts": text, "alert_severity": (p.top_severity or "none").lower(),
            "alert_detail": detail, "alert_new": p.unacknowledged > 0}


def band_summary(rows: Sequence[dict]) -> dict[str, int]:
    """How many patients in each band, overdue and with new alerts."""
    out = {band: 0 for band in (*BAND_LABELS, "none")}
    for r in rows:
        out[r["band"]] = out.get(r["band"], 0) + 1
    out["overdue"] = sum(r["overdue"] for r in rows)
    out["patients"] = len(rows)
    return out


def alert_rows(alerts: Iterable[AlertItem], now: datetime) -> list[dict]:
    """The alert panel's rowData, in the order given (queries orders them)."""
    return [{
        "alert_id": a.alert_id, "row_id": str(a.alert_id), "patient_id": a.patient_id,
        "name": a.patient_name,
        "href": f"/patient/{a.patient_id}", "time_zone": a.time_zone,
        "severity": a.severity, "severity_class": a.severity.lower(), "state": a.state,
        "kind": fmt.kind_text(a.kind), "category": a.category, "device_id": a.device_id,
        "reason": a.reason,
        "opened": f"{fmt.local_text(a.opened_at, a.time_zone, date=False)}"
                  f" ({fmt.ago(a.opened_at, now)})",
        "status": _status(a, now),
        "alert": f"{a.severity.upper()}\n{_status(a, now)}",
        "opened_at": fmt.local_text(a.opened_at, a.time_zone),
        "acknowledged": "" if a.acknowledged_at is None else
        f"{a.acknowledged_by}, {fmt.local_text(a.acknowledged_at, a.time_zone)}"
        + (f": {a.ack_note}" if a.ack_note else ""),
        "resolved": "" if a.resolved_at is None else
        f"{a.resolved_by or 'engine'}, {fmt.local_text(a.resolved_at, a.time_zone)}",
    } for a in alerts]


def _status(a: AlertItem, now: datetime) -> str:
    """'NEW 5 min ago', 'Ack. by ana 2 min ago', 'Resolved 1 h ago'."""
    if a.state == "open":
        return f"NEW {fmt.ago(a.opened_at, now)}"
    if a.state == "acknowledged":
        return f"Ack. {a.acknowledged_by} {fmt.ago(a.acknowledged_at, now)}"
    return f"Resolved {fmt.ago(a.resolved_at, now)}"
