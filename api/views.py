"""Rows into response models; pure."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

from api import schemas
from api.queries import NEWS2_PARAMETERS, SummaryRow
from api.series import Series
from ward.domain import TYPES, ReadingType
from ward.records import ScoreRow

BANDS = ("zero", "low", "low-medium", "medium", "high")


def score(time: datetime, total: int, band: str, max_single: int, complete: bool,
          missing: list[str], sub_scores: list[int], inputs: list[float | None],
          spo2_scale: int, overridden: bool = False,
          overridden_parameters: list[str] | None = None) -> schemas.ScoreOut:
    return schemas.ScoreOut(
        time=time, total=total, band=band, max_single=max_single, complete=complete,  # type: ignore[arg-type]
        missing=missing, spo2_scale=spo2_scale, overridden=overridden,
        overridden_parameters=overridden_parameters or [],
        sub_scores={p: (s if s >= 0 else None)
                    for p, s in zip(NEWS2_PARAMETERS, sub_scores, strict=True)},
        inputs=dict(zip(NEWS2_PARAMETERS, inputs, strict=True)))


def score_row(r: ScoreRow) -> schemas.ScoreOut:
    return score(r.time, r.total, r.band, r.max_single, r.complete, r.missing, r.sub_scores,
                 r.inputs, r.spo2_scale, r.overridden, r.overridden_parameters)


def series(s: Series) -> schemas.SeriesOut:
    info = TYPES[ReadingType(s.type)]
    return schemas.SeriesOut(type=s.type, unit=info.unit, loinc=info.loinc, time=s.time,
                             value=s.value, device_id=s.device_id, avg=s.avg, min=s.min,
                             max=s.max, count=s.count)


def ward_patient(r: SummaryRow) -> schemas.WardPatient:
    latest = None
    if r.score_time is not None:
        latest = score(r.score_time, r.total, r.band, r.max_single, r.complete,  # type: ignore[arg-type]
                       r.missing or [], r.sub_scores or [], r.inputs or [],
                       r.spo2_scale or 1, bool(r.overridden), r.overridden_parameters)
    return schemas.WardPatient(
        patient_id=r.patient_id, display_name=r.display_name, admitted_at=r.admitted_at,
        score=latest, last_reading=r.last_reading, open_alerts=r.open_alerts,
        acknowledged_alerts=r.acknowledged_alerts, alert_kinds=r.alert_kinds,
        top_severity=r.top_severity)


def ward_summary(ward_id: str, name: str, rows: list[SummaryRow],
                 now: datetime) -> schemas.WardSummary:
    bands = Counter(r.band for r in rows if r.band is not None)
    return schemas.WardSummary(
        ward_id=ward_id, name=name, generated_at=now, patients=len(rows),
        by_band={b: bands.get(b, 0) for b in BANDS},
        unscored=sum(r.band is None for r in rows),
        open_alerts=sum(r.open_alerts for r in rows),
        acknowledged_alerts=sum(r.acknowledged_alerts for r in rows),
        rows=[ward_patient(r) for r in rows])


_BUCKET = re.compile(r"^\s*(\d{1,6})\s*(s|sec|m|min|h|d)\s*$")
_BUCKET_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_bucket(text: str) -> timedelta:
    """`30s`, `5m` (or `5min`), `1h`, `1d` → a bucket width."""
    m = _BUCKET.match(text)
    if m is None or int(m.group(1)) == 0:
        raise ValueError(f"bucket {text!r} is not a width like 30s, 5m, 1h or 1d")
    return timedelta(seconds=int(m.group(1)) * _BUCKET_UNIT[m.group(2)])
