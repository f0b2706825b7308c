"""psycopg only: what the web app reads about the ward as a whole, once for the
REST API and the dashboard both: the ward summary (each admitted patient's
latest score with the values that made it, their latest complete set and
reading, live alerts; for the dashboard also devices and a 24-hour trend),
a patient's latest score, and whether each patient is overdue.

Why here: ward/ owns the schema and its migrations, and both api/ and
dashboard/ may import it, so one statement serves both and cannot drift
into two answers to "who is sickest".  Each view shapes the rows its own way
(api/views.py into response models, dashboard/queries.py and rows.py into
grid rows); neither reads the tables a second way.  Parameterised SQL,
one round trip for a whole ward."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg
from psycopg.rows import class_row

from ward import overdue as overdue_rule
from ward import protocol_rules, score_view
from ward.news2_chart import BANDS
from ward.protocols import NEWS2, PROTOCOL_ALERT_KINDS, PROTOCOLS, protocol
from ward.records import SCORE_COLUMNS, ScoreRow
from ward.severity import SEVERITIES

# The reading each protocol's overdue rule counts from (ward/protocols.py).
_PROTOCOL_READINGS = {p.name: p.reading.value for p in PROTOCOLS.values() if p.reading}
# The dashboard's sparkline: the total as of each hour of the last day.
TREND_HOURS = 24


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One admitted patient on the ward view.  total, band, sub_scores: the true
    NEWS2 of the latest score; adjusted_*: after accepted ranges (None when none
    applied; ward/records.ScoreRow); last_complete_set: the SQL function of
    migration 008, as the engine reads it.  open_alerts counts the alerts nobody
    has acknowledged, acknowledged_alerts the others not yet resolved.  devices to
    trend are the dashboard's detail (0 and None without it)."""

    patient_id: str
    ward_id: str
    display_name: str | None
    name: str  # the display name, else the patient id
    time_zone: str
    admitted_at: datetime
    score_time: datetime | None  # measurement time of the latest score
    total: int | None
    band: str | None
    max_single: int | None
    complete: bool | None
    missing: list[str] | None
    sub_scores: list[int] | None
    inputs: list[float | None] | None
    spo2_scale: int | None
    overridden: bool | None
    overridden_parameters: list[str] | None
    adjusted_total: int | None
    adjusted_band: str | None
    input_times: list[datetime | None] | None  # [] on scores from before migration 005
    stale: list[str] | None
    monitoring_band: str | None
    last_complete_set: datetime | None
    last_reading: datetime | None
    open_alerts: int
    acknowledged_alerts: int
    alert_kinds: list[str]
    top_severity: str | None
    devices: int
    offline: int
    battery: float | None
    last_seen: datetime | None
    trend: list[int | None] | None
    # The ward's protocol (ward/protocols.py) and the patient's latest reading of the
    # protocol's type (None on a NEWS2 ward): what its overdue rule counts from.
    protocol: str = NEWS2
    protocol_reading_time: datetime | None = None
    protocol_reading_value: float | None = None
    # The worst live alert of the protocol's own kinds (spo2_level, weight_gain): it
    # ranks the patient too (score_view.acuity_level).
    protocol_severity: str | None = None


_DETAIL = """
, dev AS (
    SELECT da.patient_id, count(*)::int AS devices,
           count(*) FILTER (WHERE st.online IS FALSE)::int AS offline,
           min(st.battery)::float8 AS battery, max(d.last_seen) AS last_seen
    FROM device_assignments da JOIN pts USING (patient_id) JOIN devices d USING (device_id)
    LEFT JOIN LATERAL (
        SELECT s.online, s.battery FROM device_status s
        WHERE s.device_id = da.device_id ORDER BY s.time DESC LIMIT 1) st ON true
    WHERE da.valid_to IS NULL
    GROUP BY da.patient_id
)"""
_DETAIL_COLUMNS = ("coalesce(dev.devices, 0) AS devices, coalesce(dev.offline, 0) AS offline,"
                   " dev.battery, dev.last_seen, trend.totals AS trend")
_NO_DETAIL_COLUMNS = ("0 AS devices, 0 AS offline, NULL::float8 AS battery,"
                      " NULL::timestamptz AS last_seen, NULL::int[] AS trend")
_DETAIL_JOINS = """
LEFT JOIN dev USING (patient_id)
LEFT JOIN LATERAL (
    SELECT array_agg(h.total ORDER BY g.t) AS totals
    FROM generate_series(%(now)s::timestamptz - %(trend)s::interval, %(now)s::timestamptz,
                         interval '1 hour') AS g(t)
    LEFT JOIN LATERAL (
        SELECT x.total FROM scores x
        WHERE x.patient_id = pts.patient_id AND x.time <= g.t AND x.time > g.t - %(fresh)s
        ORDER BY x.time DESC LIMIT 1) h ON true
) trend ON true"""


def _summary_sql(detail: bool) -> str:
    """The ward summary, highest risk first: the ward view must never bury a
    deteriorating patient, nor lift one because a value aged out (the effective
    band, ward/score_view.py).  ``detail`` adds the dashboard's devices and trend."""
    return f"""
WITH pts AS (
    SELECT p.patient_id, p.ward_id, p.display_name,
           coalesce(p.display_name, p.patient_id) AS name, w.time_zone, p.admitted_at,
           w.protocol
    FROM patients p JOIN wards w USING (ward_id)
    WHERE p.discharged_at IS NULL AND (%(ward)s::text IS NULL OR p.ward_id = %(ward)s)
),
-- Live alerts once for the ward (MATERIALIZED: never re-run per patient).
live AS MATERIALIZED (
    SELECT a.patient_id,
           count(*) FILTER (WHERE a.state = 'open')::int AS open_alerts,
           count(*) FILTER (WHERE a.state = 'acknowledged')::int AS acknowledged_alerts,
           array_agg(DISTINCT a.kind ORDER BY a.kind) AS alert_kinds,
           (%(severities)s::text[])[max(array_position(%(severities)s::text[], a.severity))]
               AS top_severity,
           (%(severities)s::text[])[max(array_position(%(severities)s::text[], a.severity))
                                    FILTER (WHERE a.kind = ANY(%(protocol_kinds)s::text[]))]
               AS protocol_severity
    FROM alerts a JOIN pts USING (patient_id)
    WHERE a.state <> 'resolved' AND (%(ward)s::text IS NULL OR a.ward_id = %(ward)s)
    GROUP BY a.patient_id
){_DETAIL if detail else ""}
SELECT pts.patient_id, pts.ward_id, pts.display_name, pts.name, pts.time_zone,
       pts.admitted_at,
       s.time AS score_time, s.total, s.band, s.max_single, s.complete, s.missing,
       s.sub_scores, s.inputs, s.spo2_scale, s.overridden, s.overridden_parameters,
       s.adjusted_total, s.adjusted_band, s.input_times, s.stale, s.monitoring_band,
       c.measured_at AS last_complete_set, o.time AS last_reading,
       pts.protocol, pr.time AS protocol_reading_time, pr.value AS protocol_reading_value,
       coalesce(live.open_alerts, 0) AS open_alerts,
       coalesce(live.acknowledged_alerts, 0) AS acknowledged_alerts,
       coalesce(live.alert_kinds, '{{}}') AS alert_kinds, live.top_severity,
       live.protocol_severity,
       {_DETAIL_COLUMNS if detail else _NO_DETAIL_COLUMNS}
FROM pts
LEFT JOIN LATERAL (
    SELECT time, total, band, max_single, complete, missing, sub_scores, inputs, spo2_scale,
           overridden, overridden_parameters, adjusted_total, adjusted_band, input_times,
           stale, monitoring_band
    FROM scores WHERE scores.patient_id = pts.patient_id ORDER BY time DESC LIMIT 1) s ON true
LEFT JOIN LATERAL last_complete_set(pts.patient_id) c ON true
LEFT JOIN LATERAL (  -- nothing read on a NEWS2 ward (a one-time filter)
    SELECT ob.time, ob.value FROM observations ob
    WHERE pts.protocol <> %(news2)s AND ob.patient_id = pts.patient_id
      AND ob.type = (SELECT m.t FROM unnest(%(protocols)s::text[], %(readings)s::text[])
                     AS m(n, t) WHERE m.n = pts.protocol) AND ob.time <= %(now)s
    ORDER BY ob.time DESC, ob.value LIMIT 1) pr ON true
LEFT JOIN LATERAL (
    SELECT time FROM observations WHERE observations.patient_id = pts.patient_id
    ORDER BY time DESC LIMIT 1) o ON true
LEFT JOIN live USING (patient_id){_DETAIL_JOINS if detail else ""}
ORDER BY {score_view.acuity_level_sql(score_view.effective_band_sql("s"),
                                       "live.protocol_severity")} DESC NULLS LAST,
         s.total DESC NULLS LAST, coalesce(live.open_alerts, 0) DESC, pts.patient_id
"""


# Constants, so that `vward bench web` can time the statement alone.
WARD_SUMMARY_SQL = _summary_sql(detail=False)
WARD_VIEW_SQL = _summary_sql(detail=True)


def ward_summary_params(ward_id: str | None, now: datetime,
                        freshness: timedelta = timedelta(hours=12)) -> dict:
    return {"ward": ward_id, "now": now, "fresh": freshness, "bands": list(BANDS),
            "severities": list(SEVERITIES), "trend": timedelta(hours=TREND_HOURS),
            "news2": NEWS2, "protocols": list(_PROTOCOL_READINGS),
            "protocol_kinds": list(PROTOCOL_ALERT_KINDS),
            "readings": list(_PROTOCOL_READINGS.values())}


def ward_summary(conn: psycopg.Connection, ward_id: str | None, now: datetime, *,
                 detail: bool = False,
                 freshness: timedelta = timedelta(hours=12)) -> list[SummaryRow]:
    """Every admitted patient of the ward (all wards when ``ward_id`` is None), highest
    risk first; with ``detail`` their devices and the trend of their total, each hour's
    the latest score within ``freshness`` of it."""
    with conn.cursor(row_factory=class_row(SummaryRow)) as cur:
        return cur.execute(WARD_VIEW_SQL if detail else WARD_SUMMARY_SQL,
                           ward_summary_params(ward_id, now, freshness)).fetchall()


def latest_score(conn: psycopg.Connection, patient_id: str) -> ScoreRow | None:
    """The patient's latest score (by measurement time), None if never scored."""
    with conn.cursor(row_factory=class_row(ScoreRow)) as cur:
        return cur.execute(
            f"SELECT {SCORE_COLUMNS} FROM scores WHERE patient_id = %s"
            " ORDER BY time DESC LIMIT 1", (patient_id,)).fetchone()


def overdue(now: datetime, *, last_complete: Sequence[datetime | None],
            monitoring_band: Sequence[str | None], admitted_at: Sequence[datetime],
            alert_kinds: Sequence[Sequence[str]],
            protocols: Sequence[tuple[str, datetime | None, float | None]] = ()) -> list[bool]:
    """Per patient, whether the ward view shows them overdue: the engine's own rule
    (ward/overdue.py) on what the engine judges (the last complete set, the monitoring
    band of the latest score, admission), judged here so that it holds while the
    engine is down; or the engine's live overdue alert.  ``protocols``: per patient,
    the ward's protocol and the latest reading of its type (SummaryRow's): a patient
    on a protocol ward is judged by the protocol's rule as the engine judges them
    (ward/protocol_rules.py ``protocol_overdue``)."""
    if not last_complete:
        return []
    bands = [b or "" for b in monitoring_band]
    late = overdue_rule.overdue(overdue_rule.times64(list(last_complete)), bands, now,
                                overdue_rule.times64(list(admitted_at)))
    on = [i for i, row in enumerate(protocols) if row[0] not in ("", NEWS2)]
    if on:
        judged = protocol_rules.protocol_overdue(
            [protocol(protocols[i][0]) for i in on],
            overdue_rule.times64([admitted_at[i] for i in on]),
            overdue_rule.times64([protocols[i][1] for i in on]),
            [np.nan if protocols[i][2] is None else protocols[i][2] for i in on],
            overdue_rule.times64([last_complete[i] for i in on]), [bands[i] for i in on], now)
        late[on] = judged.overdue
    return [bool(x) or overdue_rule.ALERT_KIND in kinds
            for x, kinds in zip(late, alert_kinds, strict=True)]
