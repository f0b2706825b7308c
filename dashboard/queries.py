"""Every SQL statement of the dashboard, parameterised, psycopg only.

The ward view is the web app's one ward summary (ward/reads.py, shared with
the REST API): one round trip for the whole ward, the latest score row of
each patient (LATERAL ... ORDER BY time DESC LIMIT 1 on the (patient_id,
time DESC) index), open alerts, devices and a 24-hour trend sampled as-of
each hour (a bounded number of index probes per patient, whatever the
reading rate); here it is named as the ward view reads it.  Long ranges of
the patient page are bucketed in the database (time_bucket), never shipped
raw to the browser."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from dashboard.figures import Series, Spread
from ward import reads
from ward.domain import QUANTITY, TYPES
from ward.news2_chart import BANDS
from ward.records import (
    ALERT_EVENT_COLUMNS,
    SETTING_COLUMNS,
    AlertEventRow,
    AlertRow,
    SettingRow,
    select_list,
)
from ward.severity import SEVERITIES as SEVERITIES

# SEVERITIES: as the engine stores them (lower case), least severe first.
BANDS_ORDER: tuple[str, ...] = BANDS
# Types whose value is a code, not a measure (ACVPU, air or oxygen): a bucket of them
# shows its worst (highest), never a mean.
_CODED_TYPES = tuple(str(t) for t, info in TYPES.items() if info.kind != QUANTITY)
# Patient charts: at most this many points per parameter reach the browser.
MAX_POINTS = 720
# Bucket widths to choose from [s]: round numbers a clinician recognises.
_BUCKETS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
            86400)
TREND_HOURS = reads.TREND_HOURS


@dataclass(frozen=True, slots=True)
class Ward:
    ward_id: str
    name: str
    time_zone: str


def wards(conn: psycopg.Connection, only: list[str] | None = None) -> list[Ward]:
    """Every ward, or ``only`` these (the signed-in person's: deps.visible_wards)."""
    with conn.cursor(row_factory=class_row(Ward)) as cur:
        return cur.execute("SELECT ward_id, name, time_zone FROM wards"
                           " WHERE %(only)s::text[] IS NULL OR ward_id = ANY(%(only)s)"
                           " ORDER BY name", {"only": only}).fetchall()


# One line of the ward view is a row of the web app's one ward summary
# (ward.reads), read with the dashboard's detail (devices, trend): a column
# added there is here too, with no second list of fields to keep in step.
WardPatient = reads.SummaryRow


def ward_patients(conn: psycopg.Connection, ward_id: str | None, *, now: datetime,
                  freshness: timedelta) -> list[WardPatient]:
    """Every patient on the ward (all wards when ``ward_id`` is None), read by the
    web app's one ward summary (ward.reads, with the dashboard's devices and trend);
    the order of acuity is dashboard.rows' decision."""
    return reads.ward_summary(conn, ward_id, now, detail=True, freshness=freshness)


@dataclass(frozen=True, slots=True)
class AlertItem(AlertRow):
    """An alert with the patient's name and the ward's time zone to show it in."""

    patient_name: str
    time_zone: str


_ALERT_SELECT = f"""
SELECT {select_list(AlertRow, "a")},
       coalesce(p.display_name, p.patient_id) AS patient_name, w.time_zone
FROM alerts a JOIN patients p USING (patient_id) JOIN wards w ON w.ward_id = a.ward_id
"""
# Unacknowledged first, then the most severe, then the newest.
_ALERT_ORDER = """
ORDER BY (a.state = 'open') DESC,
         array_position(%(severities)s::text[], a.severity) DESC NULLS LAST, a.opened_at DESC
"""


def open_alerts(conn: psycopg.Connection, ward_id: str | None, *,
                limit: int = 500, only: list[str] | None = None) -> list[AlertItem]:
    """Alerts not yet resolved (open or acknowledged) on a ward, most urgent first;
    ``only``: of these wards (the signed-in person's)."""
    with conn.cursor(row_factory=class_row(AlertItem)) as cur:
        return cur.execute(
            _ALERT_SELECT + " WHERE a.state <> 'resolved'"
            " AND (%(ward)s::text IS NULL OR a.ward_id = %(ward)s)"
            " AND (%(only)s::text[] IS NULL OR a.ward_id = ANY(%(only)s))" + _ALERT_ORDER
            + " LIMIT %(limit)s",
            {"ward": ward_id, "severities": list(SEVERITIES), "limit": limit,
             "only": only}).fetchall()


def unacknowledged_emergencies(conn: psycopg.Connection, ward_id: str | None, *,
                               limit: int = 20,
                               only: list[str] | None = None) -> list[AlertItem]:
    """Open EMERGENCY alerts nobody has acknowledged yet: the banner's content;
    ``only``: of these wards (the signed-in person's)."""
    with conn.cursor(row_factory=class_row(AlertItem)) as cur:
        return cur.execute(
            _ALERT_SELECT + " WHERE a.state = 'open' AND a.severity = %(top)s"
            " AND (%(ward)s::text IS NULL OR a.ward_id = %(ward)s)"
            " AND (%(only)s::text[] IS NULL OR a.ward_id = ANY(%(only)s))"
            " ORDER BY a.opened_at DESC LIMIT %(limit)s",
            {"ward": ward_id, "top": SEVERITIES[-1], "limit": limit, "only": only}).fetchall()


def patient_alerts(conn: psycopg.Connection, patient_id: str, *,
                   limit: int = 200) -> list[AlertItem]:
    """A patient's alerts, live ones first, then the newest."""
    with conn.cursor(row_factory=class_row(AlertItem)) as cur:
        return cur.execute(
            _ALERT_SELECT + " WHERE a.patient_id = %(patient)s"
            " ORDER BY (a.state <> 'resolved') DESC, a.opened_at DESC LIMIT %(limit)s",
            {"patient": patient_id, "limit": limit}).fetchall()


def alert_ward(conn: psycopg.Connection, alert_id: int) -> str | None:
    """The ward of an alert; None for no such alert."""
    row = conn.execute("SELECT ward_id FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone()
    return None if row is None else row[0]


def alert_events(conn: psycopg.Connection, alert_id: int) -> list[AlertEventRow]:
    """The audit trail of one alert, oldest first."""
    with conn.cursor(row_factory=class_row(AlertEventRow)) as cur:
        return cur.execute(
            f"SELECT {ALERT_EVENT_COLUMNS} FROM alert_events WHERE alert_id = %s"
            " ORDER BY event_id", (alert_id,)).fetchall()


# ---------------------------------------------------------------- one patient

@dataclass(frozen=True, slots=True)
class PatientInfo:
    patient_id: str
    name: str
    ward_id: str
    ward_name: str
    time_zone: str
    admitted_at: datetime
    discharged_at: datetime | None


def patient(conn: psycopg.Connection, patient_id: str) -> PatientInfo | None:
    with conn.cursor(row_factory=class_row(PatientInfo)) as cur:
        return cur.execute(
            "SELECT p.patient_id, coalesce(p.display_name, p.patient_id) AS name, p.ward_id,"
            " w.name AS ward_name, w.time_zone, p.admitted_at, p.discharged_at"
            " FROM patients p JOIN wards w USING (ward_id) WHERE p.patient_id = %s",
            (patient_id,)).fetchone()


def discharge_document(conn: psycopg.Connection, patient_id: str) -> str | None:
    """The id of the patient's discharge summary (migration 019), None before it."""
    row = conn.execute("SELECT document_id FROM discharge_summaries WHERE patient_id = %s",
                       (patient_id,)).fetchone()
    return None if row is None else row[0]


latest_score = reads.latest_score  # the read layer's, as the REST API reads it


def last_complete_set(conn: psycopg.Connection, patient_id: str) -> datetime | None:
    """When the patient's latest complete set was measured (None: never): the SQL
    function of migration 008, as the engine reads it."""
    row = conn.execute("SELECT measured_at FROM last_complete_set(%s)", (patient_id,)).fetchone()
    return None if row is None else row[0]


def bucket_seconds(span: timedelta, max_points: int = MAX_POINTS) -> int:
    """The narrowest round bucket [s] that keeps ``span`` within ``max_points``."""
    need = span.total_seconds() / max_points
    for b in _BUCKETS:
        if b >= need:
            return b
    return int(math.ceil(need / 86400) * 86400)


def observations(conn: psycopg.Connection, patient_id: str, start: datetime, end: datetime,
                 *, max_points: int = MAX_POINTS) -> tuple[dict[str, Series], int]:
    """Each parameter of a patient in [start, end], bucketed in the database so
    that at most ``max_points`` points per parameter leave it; returns the
    series and the bucket width [s].  Consciousness and oxygen take the worst
    (highest) value of a bucket, the others its mean, with lowest and highest."""
    bucket = bucket_seconds(end - start, max_points)
    rows = conn.execute(
        "SELECT type, time_bucket(%(bucket)s::interval, time) AS t,"
        " CASE WHEN type = ANY(%(coded)s::text[]) THEN max(value)"
        " ELSE avg(value) END, min(value), max(value), count(*)::int"
        " FROM observations WHERE patient_id = %(patient)s"
        " AND time >= %(start)s AND time <= %(end)s"
        " GROUP BY type, t ORDER BY type, t",
        {"bucket": timedelta(seconds=bucket), "patient": patient_id, "start": start,
         "end": end, "coded": list(_CODED_TYPES)}).fetchall()
    grouped: dict[str, tuple[list, list, list, list, list]] = {}
    for kind, t, mean, low, high, n in rows:
        g = grouped.setdefault(kind, ([], [], [], [], []))
        for column, value in zip(g, (t, mean, low, high, n), strict=True):
            column.append(value)
    return {k: Series(*v) for k, v in grouped.items()}, bucket


@dataclass(frozen=True, slots=True)
class ScoreHistory:
    times: list[datetime]
    totals: list[int]
    bands: list[str]
    complete: list[bool]
    bucket: int


def score_history(conn: psycopg.Connection, patient_id: str, start: datetime, end: datetime,
                  *, max_points: int = MAX_POINTS) -> ScoreHistory:
    """The worst score of each bucket (and whether that score was complete)."""
    bucket = bucket_seconds(end - start, max_points)
    rows = conn.execute(
        "SELECT time_bucket(%(bucket)s::interval, time) AS t,"
        " (array_agg(total ORDER BY total DESC, time DESC))[1],"
        " (array_agg(band ORDER BY total DESC, array_position(%(bands)s::text[], band) DESC,"
        "  time DESC))[1],"
        " (array_agg(complete ORDER BY total DESC, time DESC))[1]"
        " FROM scores WHERE patient_id = %(patient)s AND time >= %(start)s AND time <= %(end)s"
        " GROUP BY t ORDER BY t",
        {"bucket": timedelta(seconds=bucket), "patient": patient_id, "start": start,
         "end": end, "bands": list(BANDS_ORDER)}).fetchall()
    return ScoreHistory([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                        [r[3] for r in rows], bucket)


@dataclass(frozen=True, slots=True)
class DeviceState:
    device_id: str
    kind: str
    valid_from: datetime
    valid_to: datetime | None
    last_seen: datetime | None
    status_time: datetime | None
    online: bool | None
    battery: float | None
    firmware: str | None
    signal: float | None


def patient_devices(conn: psycopg.Connection, patient_id: str) -> list[DeviceState]:
    """The patient's devices, current ones first, each with its latest status."""
    with conn.cursor(row_factory=class_row(DeviceState)) as cur:
        return cur.execute(
            "SELECT d.device_id, d.kind, da.valid_from, da.valid_to, d.last_seen,"
            " st.time AS status_time, st.online, st.battery::float8 AS battery, st.firmware,"
            " st.signal::float8 AS signal"
            " FROM device_assignments da JOIN devices d USING (device_id)"
            " LEFT JOIN LATERAL (SELECT time, online, battery, firmware, signal"
            "  FROM device_status s WHERE s.device_id = d.device_id"
            "  ORDER BY s.time DESC LIMIT 1) st ON true"
            " WHERE da.patient_id = %s"
            " ORDER BY (da.valid_to IS NULL) DESC, da.valid_from DESC", (patient_id,)).fetchall()


def settings_history(conn: psycopg.Connection, patient_id: str, *,
                     limit: int = 50) -> list[SettingRow]:
    """The patient's settings, current and ended, newest first."""
    with conn.cursor(row_factory=class_row(SettingRow)) as cur:
        return cur.execute(
            f"SELECT {SETTING_COLUMNS} FROM patient_settings WHERE patient_id = %s"
            " ORDER BY setting_id DESC LIMIT %s", (patient_id, limit)).fetchall()


# ---------------------------------------------------------------- the ward's own figures

@dataclass(frozen=True, slots=True)
class Outcomes:
    patient_days: float
    per_kind: list[tuple[str, int]]  # alerts opened, by kind
    reading_to_alert: list[Spread]  # by kind
    alert_to_ack: list[Spread]  # by severity
    management: list[tuple[str, int, int, int]]  # kind, changed, unchanged, unrecorded


_SPREAD = ("count(*)::int, percentile_cont(ARRAY[0.05, 0.25, 0.5, 0.75, 0.95])"
           " WITHIN GROUP (ORDER BY {x})")


# From the reading as the ward RECEIVED it (observations.received_at) to the alert, not
# from the time the device stamped on it: a device's clock can run minutes off, and a
# clock ahead made this delay negative.  The reading is the patient's measured at the
# alert's condition time, the last of them received before the alert opened (the one
# that completed the picture); an alert without one (a device's, a seeded one) is left out.
_READING_TO_ALERT = "SELECT a.kind, " + _SPREAD.format(
    x="extract(epoch FROM a.opened_at - r.received_at)") + """
FROM alerts a CROSS JOIN LATERAL (
    SELECT max(o.received_at) AS received_at FROM observations o
    WHERE o.patient_id = a.patient_id AND o.time = a.condition_time
      AND o.received_at <= a.opened_at) r
WHERE a.ward_id = %(ward)s AND a.opened_at >= %(start)s AND a.opened_at < %(end)s
  AND r.received_at IS NOT NULL
GROUP BY a.kind ORDER BY a.kind"""


def outcomes(conn: psycopg.Connection, ward_id: str, start: datetime,
             end: datetime) -> Outcomes:
    """The ward's figures over alerts opened in [start, end)."""
    args = {"ward": ward_id, "start": start, "end": end, "severities": list(SEVERITIES)}
    days = conn.execute(
        "SELECT coalesce(sum(extract(epoch FROM least(coalesce(discharged_at, %(end)s), %(end)s)"
        " - greatest(admitted_at, %(start)s))), 0)::float8 / 86400"
        " FROM patients WHERE ward_id = %(ward)s AND admitted_at < %(end)s"
        " AND (discharged_at IS NULL OR discharged_at > %(start)s)", args).fetchone()[0]
    window = (" FROM alerts WHERE ward_id = %(ward)s"
              " AND opened_at >= %(start)s AND opened_at < %(end)s")
    per_kind = [tuple(r) for r in conn.execute(
        "SELECT kind, count(*)::int" + window + " GROUP BY kind ORDER BY count(*) DESC, kind",
        args)]
    to_alert = [_spread(r) for r in conn.execute(_READING_TO_ALERT, args)]
    ack = "extract(epoch FROM acknowledged_at - opened_at)"
    to_ack = [_spread(r) for r in conn.execute(
        "SELECT severity, " + _SPREAD.format(x=ack) + window
        + " AND acknowledged_at IS NOT NULL GROUP BY severity"
        " ORDER BY array_position(%(severities)s::text[], severity) DESC", args)]
    management = [tuple(r) for r in conn.execute(
        "SELECT kind, count(*) FILTER (WHERE changed_management)::int,"
        " count(*) FILTER (WHERE changed_management = false)::int,"
        " count(*) FILTER (WHERE changed_management IS NULL)::int" + window
        + " AND acknowledged_at IS NOT NULL GROUP BY kind ORDER BY kind", args)]
    return Outcomes(float(days), per_kind, to_alert, to_ack, management)


def _spread(row) -> Spread:
    group, n, q = row
    return Spread(group, n, *q)
