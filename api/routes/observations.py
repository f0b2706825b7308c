"""A patient's observations (raw, or downsampled in SQL) and scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from api import queries, schemas, series, views
from api.deps import Conn, CurrentUser
from ward.domain import ReadingType

router = APIRouter(prefix="/api/v1/patients", tags=["observations"])

_MAX_BUCKETS = 200_000  # per type; past it, a wider bucket


def _window(start: datetime | None, end: datetime | None,
            default: timedelta) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC)
    try:
        start = start or end - default
    except OverflowError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"end {end.isoformat()} is too early: give a start") from None
    for t, name in ((start, "start"), (end, "end")):
        if t.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"{name} needs a time zone (e.g. 2026-11-23T08:00:00Z)")
    if start >= end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start must be before end")
    return start, end


@router.get("/{patient_id}/observations", response_model=schemas.Observations,
            responses={404: {"description": "No such patient"}})
def observations(
    patient_id: str, user: CurrentUser, conn: Conn,
    start: Annotated[datetime | None,
                     Query(description="From (inclusive); default end - 24 h")] = None,
    end: Annotated[datetime | None, Query(description="To (exclusive); default now")] = None,
    type: Annotated[list[ReadingType] | None, Query(description="Only these types")] = None,
    bucket: Annotated[str | None, Query(description="Downsample: 30s, 5m, 1h, 1d; each point"
                                                    " then has avg, min, max and count")] = None,
    limit: Annotated[int, Query(ge=1, le=200_000, description="Raw readings at most")] = 50_000,
) -> Response:
    """Each reading type as one series of columns (time, value), in the
    type's stored unit (consciousness 0=A..4=U; on_oxygen 1 on, 0 air)."""
    start, end = _window(start, end, timedelta(hours=24))
    queries.get_patient(conn, patient_id)
    types = [str(t) for t in type] if type else None
    if bucket is None:
        rows, truncated = series.raw_series(conn, patient_id, start, end, types, limit)
        width = None
    else:
        try:
            width = views.parse_bucket(bucket)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        if (end - start) / width > _MAX_BUCKETS:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"{(end - start) / width:,.0f} buckets of {bucket}: use a wider"
                                f" bucket (at most {_MAX_BUCKETS:,} per type)")
        rows, truncated = series.bucketed_series(conn, patient_id, start, end, types, width), False
    body = schemas.Observations(
        patient_id=patient_id, start=start, end=end,
        bucket_seconds=int(width.total_seconds()) if width else None, truncated=truncated,
        series=[views.series(s) for s in rows])
    # Serialised once, here: tens of thousands of points need no second validation.
    return Response(body.model_dump_json(), media_type="application/json")


@router.get("/{patient_id}/scores", response_model=schemas.Scores,
            responses={404: {"description": "No such patient"}})
def scores(
    patient_id: str, user: CurrentUser, conn: Conn,
    start: Annotated[datetime | None, Query(description="Default end - 7 days")] = None,
    end: Annotated[datetime | None, Query(description="Default now")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="The newest at most")] = 10_000,
) -> schemas.Scores:
    """NEWS2 scores at the measurement times of the readings that made them,
    oldest first: the true NEWS2 (`total`, `band`), the adjusted score beside it
    where a clinician's accepted range changed a sub-score (`adjusted_total`,
    `adjusted_band`: not NEWS2), the monitoring and effective bands, and per
    parameter its value, true sub-score, measurement time, age and staleness."""
    start, end = _window(start, end, timedelta(days=7))
    queries.get_patient(conn, patient_id)
    rows = series.list_scores(conn, patient_id, start, end, limit)
    return schemas.Scores(patient_id=patient_id, start=start, end=end,
                          scores=[views.score_row(r) for r in rows])
