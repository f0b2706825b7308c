"""A patient's observations (raw, or downsampled in SQL) and scores."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from api import queries, schemas, series, views
from api.deps import Conn, CurrentUser, ReadLog
from api.inputs import Time
from ward.domain import ReadingType

router = APIRouter(prefix="/api/v1/patients", tags=["observations"])

_MAX_BUCKETS = 200_000  # per type; past it, a wider bucket
_EARLIEST = datetime.min.replace(tzinfo=UTC)  # a default start never runs off the calendar


def _window(start: datetime | None, end: datetime | None,
            default: timedelta) -> tuple[datetime, datetime]:
    """[start, end): by default the `default` span before now; an empty window
    (start == end) is a question with an empty answer, a start after an end
    given a mistake (422)."""
    # A start in the future with no end: the (empty) window from then.
    end = end or max(datetime.now(UTC), start or _EARLIEST)
    if start is None:
        start = end - default if end - _EARLIEST > default else _EARLIEST
    if start > end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"start {start.isoformat()} is after end {end.isoformat()}")
    return start, end


def _width(bucket: str, start: datetime, end: datetime) -> timedelta:
    """The bucket asked for, or the narrowest wider one that splits the window
    into at most _MAX_BUCKETS (the answer's `bucket_seconds` says which)."""
    width = views.parse_bucket(bucket)
    return max(width, timedelta(seconds=math.ceil((end - start).total_seconds() / _MAX_BUCKETS)))


@router.get("/{patient_id}/observations", response_model=schemas.Observations,
            responses={404: {"description": "No such patient"}})
def observations(
    patient_id: str, user: CurrentUser, conn: Conn, read: ReadLog,
    start: Annotated[Time | None,
                     Query(description="From (inclusive); default end - 24 h; not after"
                                       " end (422)")] = None,
    end: Annotated[Time | None, Query(description="To (exclusive); default now")] = None,
    type: Annotated[list[ReadingType] | None, Query(description="Only these types")] = None,
    bucket: Annotated[str | None, Query(
        pattern=views.BUCKET_PATTERN,
        description="Downsample: 30s, 5m, 1h, 1d; each point then has avg, min, max and"
                    " count.  Widened when the window would need more than 200,000 buckets"
                    " (`bucket_seconds` says the width used)")] = None,
    limit: Annotated[int, Query(ge=1, le=200_000, description="Raw readings at most")] = 50_000,
) -> Response:
    """Each reading type as one series of columns (time, value), in the
    type's stored unit (consciousness 0=A..4=U; on_oxygen 1 on, 0 air)."""
    start, end = _window(start, end, timedelta(hours=24))
    queries.get_patient(conn, patient_id)
    read(patient_id, "observations")
    types = [str(t) for t in type] if type else None
    if bucket is None:
        rows, truncated = series.raw_series(conn, patient_id, start, end, types, limit)
        width = None
    else:
        width = _width(bucket, start, end)
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
    patient_id: str, user: CurrentUser, conn: Conn, read: ReadLog,
    start: Annotated[Time | None, Query(description="Default end - 7 days; not after end"
                                                    " (422)")] = None,
    end: Annotated[Time | None, Query(description="Default now")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="The newest at most")] = 10_000,
) -> schemas.Scores:
    """NEWS2 scores at the measurement times of the readings that made them,
    oldest first: the true NEWS2 (`total`, `band`), the adjusted score beside it
    where a clinician's accepted range changed a sub-score (`adjusted_total`,
    `adjusted_band`: not NEWS2), the monitoring and effective bands, and per
    parameter its value, true sub-score, measurement time, age and staleness."""
    start, end = _window(start, end, timedelta(days=7))
    queries.get_patient(conn, patient_id)
    read(patient_id, "scores")
    rows = series.list_scores(conn, patient_id, start, end, limit)
    return schemas.Scores(patient_id=patient_id, start=start, end=end,
                          scores=[views.score_row(r) for r in rows])
