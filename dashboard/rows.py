"""The ward view's rows as plain data for AG Grid (``rowData``), and the
order of acuity; pure: database rows and ``now`` in, dicts out.

What a score shows is read as the REST API reads it (ward/score_view.py): the
true NEWS2 first, an adjusted score only beside it and labelled; the band of
a row is the effective band, never better than the data (an incomplete score
cannot lower the band held since the last complete set); each value carries
its own age and is greyed once stale."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import alerts
from dashboard import format as fmt
from dashboard import pause_rows
from dashboard.figures import BAND_LABELS, sparkline_path
from dashboard.queries import SEVERITIES, AlertItem, WardPatient
from ward import ack_links, reads, score_view
from ward.domain import TYPES, ReadingType
from ward.news2_chart import MONITORING_INTERVAL
from ward.pauses import Pause
from ward.records import ScoreRow

# A score as the ward view reads it: a ward row, or a scores row (the patient page).
Score = WardPatient | ScoreRow

# Grid column key of each NEWS2 parameter (ward.news2_chart.PARAMETERS order).
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


def effective_band(p: Score) -> str | None:
    """What the latest score shows (ward.score_view.effective_band); None unscored."""
    if p.band is None:
        return None
    return score_view.effective_band(p.band, p.adjusted_band, p.monitoring_band,
                                     bool(p.complete))


def monitoring_band(p: Score) -> str | None:
    """The band whose monitoring applies (ward.score_view.monitoring_band)."""
    if p.band is None:
        return None
    return score_view.monitoring_band(p.band, p.adjusted_band, p.monitoring_band)


def is_overdue(p: WardPatient, now: datetime) -> bool:
    """``overdue`` of one patient."""
    return overdue([p], now)[0]


def overdue(patients: Sequence[WardPatient], now: datetime) -> list[bool]:
    """The engine's decision, for the whole ward in one call of the read path's
    (``ward.reads.overdue``: the engine's own rule, judged here so that it holds
    while the engine is down): no complete set within the interval of the latest
    score's monitoring band, counted from admission at the earliest; or the
    engine's own open overdue alert.  A patient never scored is overdue 12 h after
    admission, as the engine says."""
    return reads.overdue(now, last_complete=[p.last_complete_set for p in patients],
                         monitoring_band=[monitoring_band(p) for p in patients],
                         admitted_at=[p.admitted_at for p in patients],
                         alert_kinds=[p.alert_kinds for p in patients],
                         protocols=[(p.protocol, p.protocol_reading_time,
                                     p.protocol_reading_value) for p in patients])


def battery_low(battery: float | None) -> bool:
    """The engine's battery rule (``alerts.battery_low``); unknown is not low."""
    return battery is not None and bool(alerts.battery_low(battery))


def acuity_key(p: WardPatient, overdue: bool) -> tuple:
    """Sickest first: effective band (or the band the worst live alert of the ward's
    protocol ranks as, if higher: score_view.acuity_level), true total, worst open
    alert, overdue, name."""
    rank = score_view.acuity_level(effective_band(p), p.protocol_severity)
    return (-(rank if rank >= 0 else _NO_SCORE_RANK), -(p.total or 0),
            -severity_rank(p.top_severity), not overdue, p.name.lower())


def ward_rows(patients: Iterable[WardPatient], now: datetime,
              pauses: Sequence[Pause] = ()) -> list[dict]:
    """AG Grid rowData, sickest first, each row keyed by patient_id; the kinds whose
    notifying is paused (``pauses`` in force) among the flags."""
    patients = list(patients)
    ordered = sorted(zip(patients, overdue(patients, now), strict=True),
                     key=lambda pair: acuity_key(*pair))
    out = [_row(p, i, late, now) for i, (p, late) in enumerate(ordered, start=1)]
    for (p, _), row in zip(ordered, out, strict=True):
        paused = pause_rows.ward_flag(pauses, p.patient_id, p.time_zone, now)
        row["flags"] = " · ".join(f for f in (row["flags"], paused) if f)
    return out


def _row(p: WardPatient, rank: int, overdue: bool, now: datetime) -> dict:
    band = effective_band(p)
    row: dict = {
        "patient_id": p.patient_id, "name": p.name, "ward_id": p.ward_id, "rank": rank,
        "href": f"/patient/{p.patient_id}",
        "total": p.total, "adjusted_total": p.adjusted_total, "band": band or "none",
        "band_label": BAND_LABELS.get(band or "", "No score"),
        "score": score_text(p), "score_detail": score_detail(p),
        "incomplete": p.complete is False, "overdue": overdue,
        "measured": _complete_text(p, now),
        "measured_at": (f"Last complete set: {fmt.local_text(p.last_complete_set, p.time_zone)}"
                        f" · latest score: {fmt.local_text(p.score_time, p.time_zone)}"
                        f" ({fmt.ago(p.score_time, now)})"),
        "trend": sparkline_path(p.trend or []),
        "spo2_scale": p.spo2_scale or 1,
    }
    row.update(vital_cells(p, now, p.time_zone))
    row["flags"] = _flags(p, overdue, [name for name, key in COLUMN_KEYS.items()
                                       if row[f"{key}_stale"]])
    row.update(_devices(p))
    row.update(_alerts(p))
    return row


def score_text(p: Score) -> str:
    """'5 Medium'; '5+ Medium' when incomplete (a lower bound, news2.md); the first
    number is always the true NEWS2, an adjusted score only beside it: '6 (adj. 3)
    Low'; 'Medium · now 2+' while the band held since the last complete set is
    above what the latest score says itself."""
    band = effective_band(p)
    if p.total is None or band is None:
        return "No score"
    plus = "" if p.complete else "+"
    numbers = f"{p.total}{plus}"
    if p.adjusted_total is not None:
        numbers += f" (adj. {p.adjusted_total}{plus})"
    label = BAND_LABELS[band]
    if held(p):
        return f"{label} · now {numbers}"
    return f"{numbers} {label}"


def held(p: Score) -> bool:
    """The effective band is the one held since the last complete set, above what
    the latest (incomplete) score says itself."""
    band = effective_band(p)
    return band is not None and p.band is not None \
        and band != score_view.alert_band(p.band, p.adjusted_band)


def score_detail(p: Score) -> str:
    """The score cell's tooltip: what each number and the colour mean."""
    band = effective_band(p)
    if p.total is None or band is None:
        return "No score yet"
    text = f"NEWS2 {p.total} ({p.band})" + ("" if p.complete else ", incomplete: a lower bound")
    if p.adjusted_total is not None:
        names = ", ".join(SHORT_NAMES.get(n, n) for n in p.overridden_parameters or [])
        text += (f". Adjusted {p.adjusted_total} ({p.adjusted_band}) by the accepted range of"
                 f" {names or 'a parameter'}: alerts follow the adjusted score")
    if held(p):
        text += (f". Shown {band}: the highest band since the last complete set, until a"
                 " complete set")
    return text


def vital_cells(p: Score, now: datetime, time_zone: str | None) -> dict:
    """Each NEWS2 value with its own age ('98 · 11 h'), its sub-score (for the
    chart colours), whether it is stale (greyed) and a tooltip.  Stale: as the
    engine stored it, or measured longer ago than the monitoring band's interval
    by ``now`` (exactly the interval is not stale yet)."""
    out: dict = {}
    band = monitoring_band(p)
    for v in score_view.values(p.inputs, p.sub_scores, p.input_times, p.stale, now):
        key = COLUMN_KEYS[v.parameter]
        text = fmt.vital_text(v.parameter, v.value)
        if text and v.parameter == "spo2" and p.spo2_scale == 2:
            text += " (S2)"
        stale = v.stale or (band is not None and score_view.stale_at(v.measured_at, band, now))
        age = fmt.age_text(v.age)
        out[key] = f"{text} · {age}" if text and age else text
        out[f"{key}_value"], out[f"{key}_age"] = text, age
        out[f"{key}_s"] = -1 if v.sub_score is None else v.sub_score
        out[f"{key}_stale"] = stale
        out[f"{key}_tip"] = _vital_tip(v, text, stale, band, now, time_zone)
    return out


def _vital_tip(v: score_view.Value, text: str, stale: bool, band: str | None, now: datetime,
               time_zone: str | None) -> str:
    name = TYPES[ReadingType(v.parameter)].display
    if v.value is None:
        return f"{name}: missing (no value recent enough to count in the score)"
    unit = "" if v.parameter in ("on_oxygen", "consciousness") else \
        f" {TYPES[ReadingType(v.parameter)].unit}"
    tip = f"{name} {text}{unit}, sub-score {v.sub_score}"
    if v.measured_at is None:
        return tip + "; when it was measured is not recorded (scored before times were kept)"
    tip += (f"; measured {fmt.local_text(v.measured_at, time_zone)}"
            f" ({fmt.ago(v.measured_at, now)})")
    if stale and band is not None:
        interval = fmt.duration_text(MONITORING_INTERVAL[band].total_seconds())
        tip += (f"; STALE: older than the {interval} that the {band} band's monitoring"
                " demands. Still counted in the score")
    return tip


def _complete_text(p: WardPatient, now: datetime) -> str:
    return "never" if p.last_complete_set is None else fmt.ago(p.last_complete_set, now)


def _flags(p: WardPatient, overdue: bool, stale: list[str]) -> str:
    flags = []
    if p.total is None:
        flags.append("NO SCORE")
    elif overdue:
        flags.append("OVERDUE")
    if p.complete is False:
        parts = []
        if p.missing:
            parts.append("no " + ", ".join(SHORT_NAMES.get(m, m) for m in p.missing))
        if stale:
            parts.append("stale " + ", ".join(SHORT_NAMES.get(m, m) for m in stale))
        flags.append("Incomplete: " + "; ".join(parts) if parts else "Incomplete")
    band = effective_band(p)
    if band is not None and held(p):
        flags.append(f"{BAND_LABELS[band]} held until a complete set")
    if p.adjusted_total is not None:
        flags.append(f"Adjusted by accepted range: {p.adjusted_total}"
                     f" {BAND_LABELS.get(p.adjusted_band or '', '')}".rstrip())
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
    """The worst live alert's severity ('URGENT +1' when there are more); the
    tooltip counts them (open or acknowledged, of which those nobody has
    acknowledged yet are new) and names their kinds."""
    live = p.open_alerts + p.acknowledged_alerts
    if not live:
        return {"alerts": "", "alert_severity": "none", "alert_detail": "", "alert_new": False}
    text = (p.top_severity or "?").upper() + (f" +{live - 1}" if live > 1 else "")
    detail = (f"{live} open, {p.open_alerts} not acknowledged: "
              + ", ".join(fmt.kind_text(k) for k in p.alert_kinds))
    return {"alerts": text, "alert_severity": (p.top_severity or "none").lower(),
            "alert_detail": detail, "alert_new": p.open_alerts > 0}


def band_summary(rows: Sequence[dict]) -> dict[str, int]:
    """How many patients in each (effective) band, overdue and with new alerts."""
    out = {band: 0 for band in (*BAND_LABELS, "none")}
    for r in rows:
        out[r["band"]] = out.get(r["band"], 0) + 1
    out["overdue"] = sum(r["overdue"] for r in rows)
    out["patients"] = len(rows)
    return out


def alert_rows(alerts: Iterable[AlertItem], now: datetime,
               pauses: Sequence[Pause] = ()) -> list[dict]:
    """The alert panel's rowData, in the order given (queries orders them); an alert
    whose notifying a pause silences says 'paused until 06:00' (it still shows)."""
    return [_paused({
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
        "paused": "" if a.state == "resolved" else pause_rows.paused_label(
            pauses, a.patient_id, a.kind, a.severity, a.time_zone, now),
        "opened_at": fmt.local_text(a.opened_at, a.time_zone),
        "acknowledged": "" if a.acknowledged_at is None else
        f"{a.acknowledged_by}, {fmt.local_text(a.acknowledged_at, a.time_zone)}"
        + (f", {ack_links.via_text(a.ack_via)}" if a.ack_via else "")
        + (f": {a.ack_note}" if a.ack_note else ""),
        "resolved": "" if a.resolved_at is None else
        f"{a.resolved_by or 'engine'}, {fmt.local_text(a.resolved_at, a.time_zone)}"
        + (f": {a.resolve_note}" if a.resolve_note else ""),
    }) for a in alerts]


def _paused(row: dict) -> dict:
    if row["paused"]:
        row["alert"] += f"\n{row['paused']}"
    return row


def _status(a: AlertItem, now: datetime) -> str:
    """'NEW 5 min ago', 'Ack. by ana 2 min ago', 'Resolved 1 h ago'."""
    if a.state == "open":
        return f"NEW {fmt.ago(a.opened_at, now)}"
    if a.state == "acknowledged":
        return f"Ack. {a.acknowledged_by} {fmt.ago(a.acknowledged_at, now)}"
    return f"Resolved {fmt.ago(a.resolved_at, now)}"
