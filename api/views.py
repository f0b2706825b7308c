"""Rows into response models; pure."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from api import schemas
from api.queries import SummaryRow
from api.series import Series
from ward import reads, score_view
from ward.domain import TYPES, ReadingType
from ward.news2_chart import BANDS
from ward.records import ScoreRow


def score(time: datetime, total: int, band: str, max_single: int, complete: bool,
          missing: list[str], sub_scores: list[int], inputs: list[float | None],
          spo2_scale: int, overridden: bool = False,
          overridden_parameters: list[str] | None = None, *,
          adjusted_total: int | None = None, adjusted_band: str | None = None,
          input_times: Sequence[datetime | None] = (), stale: Sequence[str] = (),
          monitoring_band: str | None = None) -> schemas.ScoreOut:
    """A stored score as the API shows it: the true NEWS2, the adjusted score beside
    it (only where one was set), the effective band and each value's age."""
    values = score_view.values(inputs, sub_scores, input_times, stale, time)
    return schemas.ScoreOut(
        time=time, total=total, band=band, max_single=max_single, complete=complete,  # type: ignore[arg-type]
        missing=missing, spo2_scale=spo2_scale, overridden=overridden,
        overridden_parameters=overridden_parameters or [],
        adjusted_total=adjusted_total, adjusted_band=adjusted_band,  # type: ignore[arg-type]
        monitoring_band=score_view.monitoring_band(band, adjusted_band, monitoring_band),  # type: ignore[arg-type]
        effective_band=score_view.effective_band(band, adjusted_band, monitoring_band,  # type: ignore[arg-type]
                                                 complete),
        stale=[v.parameter for v in values if v.stale],
        parameters={v.parameter: schemas.ParameterOut(
            value=v.value, sub_score=v.sub_score, measured_at=v.measured_at,
            age_seconds=None if v.age is None else v.age.total_seconds(), stale=v.stale)
            for v in values},
        sub_scores={v.parameter: v.sub_score for v in values},
        inputs={v.parameter: v.value for v in values})


def score_row(r: ScoreRow) -> schemas.ScoreOut:
    return score(r.time, r.total, r.band, r.max_single, r.complete, r.missing, r.sub_scores,
                 r.inputs, r.spo2_scale, r.overridden, r.overridden_parameters,
                 adjusted_total=r.adjusted_total, adjusted_band=r.adjusted_band,
                 input_times=r.input_times, stale=r.stale, monitoring_band=r.monitoring_band)


def series(s: Series) -> schemas.SeriesOut:
    info = TYPES[ReadingType(s.type)]
    return schemas.SeriesOut(type=s.type, unit=info.unit, loinc=info.loinc, time=s.time,
                             value=s.value, device_id=s.device_id, avg=s.avg, min=s.min,
                             max=s.max, count=s.count)


def ward_patient(r: SummaryRow, overdue: bool) -> schemas.WardPatient:
    latest = None
    if r.score_time is not None:
        latest = score(r.score_time, r.total, r.band, r.max_single, r.complete,  # type: ignore[arg-type]
                       r.missing or [], r.sub_scores or [], r.inputs or [],
                       r.spo2_scale or 1, bool(r.overridden), r.overridden_parameters,
                       adjusted_total=r.adjusted_total, adjusted_band=r.adjusted_band,
                       input_times=r.input_times or (), stale=r.stale or (),
                       monitoring_band=r.monitoring_band)
    return schemas.WardPatient(
        patient_id=r.patient_id, display_name=r.display_name, admitted_at=r.admitted_at,
        score=latest, last_complete_set=r.last_complete_set, overdue=overdue,
        last_reading=r.last_reading, open_alerts=r.open_alerts,
        acknowledged_alerts=r.acknowledged_alerts, alert_kinds=r.alert_kinds,
        top_severity=r.top_severity)


def overdue(rows: Sequence[SummaryRow], now: datetime) -> list[bool]:
    """The alerts engine's overdue rule as the read path judges it (``ward.reads.overdue``:
    no complete set within the monitoring band's interval, counted from admission at the
    earliest; or the engine's open overdue alert), for the whole ward in one call."""
    return reads.overdue(
        now, last_complete=[r.last_complete_set for r in rows],
        monitoring_band=[None if r.band is None else score_view.monitoring_band(
            r.band, r.adjusted_band, r.monitoring_band) for r in rows],
        admitted_at=[r.admitted_at for r in rows], alert_kinds=[r.alert_kinds for r in rows],
        protocols=[(r.protocol, r.protocol_reading_time, r.protocol_reading_value)
                   for r in rows])


def _effective(r: SummaryRow) -> str | None:
    if r.band is None:
        return None
    return score_view.effective_band(r.band, r.adjusted_band, r.monitoring_band,
                                     bool(r.complete))


def ward_summary(ward_id: str, name: str, rows: list[SummaryRow],
                 now: datetime) -> schemas.WardSummary:
    bands = Counter(_effective(r) for r in rows)
    return schemas.WardSummary(
        ward_id=ward_id, name=name, generated_at=now, patients=len(rows),
        by_band={b: bands.get(b, 0) for b in BANDS},
        unscored=sum(r.band is None for r in rows),
        open_alerts=sum(r.open_alerts for r in rows),
        acknowledged_alerts=sum(r.acknowledged_alerts for r in rows),
        rows=[ward_patient(r, late) for r, late in zip(rows, overdue(rows, now), strict=True)])


# The OpenAPI pattern of `bucket` and its parser, one expression: 1 to 6
# digits not all zero (after any leading zeros) and a unit.
BUCKET_PATTERN = r"^\s*0*([1-9][0-9]{0,5})\s*(s|sec|m|min|h|d)\s*$"
_BUCKET = re.compile(BUCKET_PATTERN)
_BUCKET_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_bucket(text: str) -> timedelta:
    """`30s`, `5m` (or `5min`), `1h`, `1d` → a bucket width."""
    m = _BUCKET.match(text)
    if m is None:
        raise ValueError(f"bucket {text!r} is not a width like 30s, 5m, 1h or 1d")
    return timedelta(seconds=int(m.group(1)) * _BUCKET_UNIT[m.group(2)])
