"""psycopg only: a patient's observations and scores over a time range.
Observations come back raw or downsampled in SQL (time_bucket), one
column-oriented series per reading type, which is what a chart wants and
what serialises fastest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from ward import reads
from ward.records import SCORE_COLUMNS, ScoreRow


@dataclass(slots=True)
class Series:
    """One reading type's points, as columns (value for raw readings;
    avg/min/max/count for buckets)."""

    type: str
    time: list[datetime] = field(default_factory=list)
    value: list[float] | None = None
    device_id: list[str] | None = None
    avg: list[float] | None = None
    min: list[float] | None = None
    max: list[float] | None = None
    count: list[int] | None = None


RAW_SQL = """
SELECT type, time, value, device_id FROM observations
WHERE patient_id = %(patient)s AND time >= %(start)s AND time < %(end)s
  AND (%(types)s::text[] IS NULL OR type = ANY(%(types)s))
ORDER BY type, time
LIMIT %(limit)s
"""

BUCKET_SQL = """
SELECT type, time_bucket(%(bucket)s, time) AS bucket,
       avg(value), min(value), max(value), count(*)::int
FROM observations
WHERE patient_id = %(patient)s AND time >= %(start)s AND time < %(end)s
  AND (%(types)s::text[] IS NULL OR type = ANY(%(types)s))
GROUP BY type, bucket
ORDER BY type, bucket
"""


def raw_series(conn: psycopg.Connection, patient_id: str, start: datetime, end: datetime,
               types: list[str] | None, limit: int) -> tuple[list[Series], bool]:
    """Each type's readings in [start, end); and whether `limit` cut them short."""
    rows = conn.execute(RAW_SQL, {"patient": patient_id, "start": start, "end": end,
                                  "types": types, "limit": limit + 1}).fetchall()
    truncated = len(rows) > limit
    out: dict[str, Series] = {}
    for type_, time, value, device_id in rows[:limit]:
        s = out.get(type_)
        if s is None:
            s = out[type_] = Series(type_, value=[], device_id=[])
        s.time.append(time)
        s.value.append(value)  # type: ignore[union-attr]
        s.device_id.append(device_id)  # type: ignore[union-attr]
    return list(out.values()), truncated


def bucketed_series(conn: psycopg.Connection, patient_id: str, start: datetime, end: datetime,
                    types: list[str] | None, bucket: timedelta) -> list[Series]:
    rows = conn.execute(BUCKET_SQL, {"patient": patient_id, "start": start, "end": end,
                                     "types": types, "bucket": bucket}).fetchall()
    out: dict[str, Series] = {}
    for type_, time, avg, low, high, count in rows:
        s = out.get(type_)
        if s is None:
            s = out[type_] = Series(type_, avg=[], min=[], max=[], count=[])
        s.time.append(time)
        s.avg.append(avg)  # type: ignore[union-attr]
        s.min.append(low)  # type: ignore[union-attr]
        s.max.append(high)  # type: ignore[union-attr]
        s.count.append(count)  # type: ignore[union-attr]
    return list(out.values())


def list_scores(conn: psycopg.Connection, patient_id: str, start: datetime, end: datetime,
                limit: int) -> list[ScoreRow]:
    """Scores in [start, end), oldest first; the newest `limit` when there are more."""
    with conn.cursor(row_factory=class_row(ScoreRow)) as cur:
        rows = cur.execute(
            f"SELECT {SCORE_COLUMNS} FROM scores WHERE patient_id = %s AND time >= %s"
            " AND time < %s ORDER BY time DESC LIMIT %s",
            (patient_id, start, end, limit)).fetchall()
    rows.reverse()
    return rows


latest_score = reads.latest_score  # the read layer's, as the dashboard reads it


@dataclass(frozen=True, slots=True)
class ObservationRow:
    time: datetime
    type: str
    value: float
    device_id: str


def observation_rows(conn: psycopg.Connection, patient_id: str, types: list[str],
                     start: datetime, end: datetime, limit: int,
                     newest_first: bool) -> list[ObservationRow]:
    order = "DESC" if newest_first else "ASC"
    with conn.cursor(row_factory=class_row(ObservationRow)) as cur:
        return cur.execute(
            "SELECT time, type, value, device_id FROM observations WHERE patient_id = %s"
            f" AND type = ANY(%s) AND time >= %s AND time < %s ORDER BY time {order}, type"
            " LIMIT %s", (patient_id, types, start, end, limit)).fetchall()


def score_rows(conn: psycopg.Connection, patient_id: str, start: datetime, end: datetime,
               limit: int, newest_first: bool) -> list[ScoreRow]:
    order = "DESC" if newest_first else "ASC"
    with conn.cursor(row_factory=class_row(ScoreRow)) as cur:
        return cur.execute(
            f"SELECT {SCORE_COLUMNS} FROM scores WHERE patient_id = %s AND time >= %s"
            f" AND time < %s ORDER BY time {order} LIMIT %s",
            (patient_id, start, end, limit)).fetchall()
