"""A sample ward for the README screenshot, the browser tests and a quick
look: patients in every band with a day of readings, their scores, devices and
alerts.  Each table is written by its one writer: readings and device status go
through ingest's public door (``ingest.DirectIngest``, judged and stored as a
device's messages);
settings through ward.clinical; scores by the alerts engine's own scoring and
writer (``alerts.score_history``), so that each carries its values' measurement
times, stale values, monitoring band and any adjusted score exactly as the
engine's would; the live alerts are those the engine's rules raise for the
latest scores, and they and a week of handled ones are written through the
alert lifecycle and its one writer (``alerts.record_past_alert``)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

import alerts
import ingest
from ward import clinical, devices
from ward import overdue as overdue_rule
from ward.news2_chart import ACVPU, BANDS, PARAMETERS
from ward.severity import Severity

NAN = math.nan
_BASELINE = (16.0, 97.0, 0.0, 125.0, 75.0, 0.0, 36.9)
FRESHNESS = timedelta(hours=12)  # VWARD_FRESHNESS_MINUTES' default
_SETTING_BY = "dr.sample"


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    vitals: tuple[float, ...]  # in ward.news2_chart.PARAMETERS order, NaN = not measured
    last_set_minutes: float = 10  # how long ago the latest set was measured
    deteriorating: bool = False  # rose from a normal baseline over the last 8 h
    spo2_scale: int = 1
    online: bool = True
    battery: float = 80.0
    no_readings: bool = False
    # Parameters last measured this many hours before the latest set (a device that
    # sends only SpO2 and pulse): their values age, go stale and leave the set incomplete.
    stale: tuple[str, ...] = ()
    stale_hours: float = 0.0
    accepted: tuple[str, float, float] | None = None  # a clinician's accepted range


# Synthetic names; vitals chosen to cover every band and flag (news2.md).
PROFILES: tuple[Profile, ...] = (
    Profile("Rowan Avery", (26, 91, 1, 95, 125, 0, 38.9), 3, deteriorating=True),
    Profile("Morgan Blake", (24, 93, 1, 105, 105, 0, 38.5), 6, deteriorating=True),
    Profile("Jordan Casey", (21, 94, 1, 112, 95, 0, 38.1), 12),
    Profile("Taylor Drew", (21, 93, 0, 120, 95, 0, 37.5), 20, deteriorating=True),
    Profile("Riley Ellis", (22, 95, 0, 108, 112, 0, 37.8), 35),
    Profile("Quinn Foster", (23, 92, 0, NAN, 118, 0, NAN), 15),
    Profile("Avery Grant", (26, 97, 0, 125, 80, 0, 37.0), 25),
    Profile("Casey Hughes", (18, 97, 0, 130, 78, 1, 36.8), 40),
    Profile("Drew Irving", (20, 95, 0, 118, 92, 0, 37.2), 55,
            stale=("respiratory_rate", "systolic_bp", "consciousness", "temperature"),
            stale_hours=11),
    Profile("Emery Jones", (21, 96, 0, 125, 115, 0, 38.2), 70,
            accepted=("heart_rate", 111, 120)),
    Profile("Finley Kerr", (19, 94, 0, NAN, 96, 0, NAN), 30),
    Profile("Harper Lowe", (16, 96, 0, 122, 95, 0, 37.0), 5 * 60 + 10),
    Profile("Jamie Moss", (11, 96, 0, 135, 50, 0, 36.0), 90),
    Profile("Kendall Nash", (16, 97, 0, 125, 72, 0, 36.8), 120),
    Profile("Logan Owen", (14, 98, 0, 132, 64, 0, 36.5), 180),
    Profile("Marley Price", (17, 89, 0, 128, 70, 0, 36.9), 45, spo2_scale=2),
    Profile("Noel Reid", (15, 97, 0, 120, 68, 0, 36.6), 200, online=False),
    Profile("Parker Shaw", (16, 98, 0, 118, 74, 0, 36.7), 50, battery=12),
    Profile("Reese Turner", (15, 97, 0, 126, 70, 0, 36.9), 13 * 60),
    Profile("Sage Upton", (NAN,) * 7, no_readings=True),
)


def _trajectory(p: Profile, n: int, rng: random.Random) -> np.ndarray:
    """(n, 7) readings every 30 min, oldest first, ending at the profile's values."""
    target = np.array(p.vitals, dtype=float)
    base = np.where(np.isnan(target), np.nan, np.array(_BASELINE))
    if not p.deteriorating:
        base = target
    out = np.empty((n, 7))
    for i in range(n):
        ramp = min(1.0, max(0.0, (i - (n - 16)) / 15)) if p.deteriorating else 1.0
        row = base + (target - base) * ramp
        row[[2, 5]] = np.round(row[[2, 5]])  # oxygen and ACVPU are codes, not amounts
        jitter = np.array([rng.choice((-1, 0, 0, 1)), rng.choice((-1, 0, 0, 1)), 0,
                           rng.randint(-4, 4), rng.randint(-3, 3), 0,
                           rng.choice((-0.1, 0, 0.1))])
        out[i] = row if i == n - 1 else row + jitter
    out[:, 1] = np.minimum(out[:, 1], 100)
    return out


def build_ward(conn: psycopg.Connection, *, now: datetime, ward_id: str = "ward-sample",
               ward_name: str = "Virtual ward A", time_zone: str = "Europe/London",
               prefix: str = "sample", profiles: tuple[Profile, ...] = PROFILES,
               seed: int = 7) -> list[str]:
    """Create the ward and its patients; returns the patient ids, profile order.
    Leaves ``conn`` in UTC (the alerts engine's writer sets it)."""
    rng = random.Random(seed)
    ids = [f"{prefix}-{i + 1:02d}" for i in range(len(profiles))]
    admitted = now - timedelta(days=3)
    conn.execute("INSERT INTO wards (ward_id, name, time_zone) VALUES (%s, %s, %s)"
                 " ON CONFLICT (ward_id) DO NOTHING", (ward_id, ward_name, time_zone))
    devices.register_devices(conn, [devices.NewDevice(f"{pid}-ox", pid, ward_id, "oximeter")
                                    for pid in ids], valid_from=admitted)
    ingest.prepare_connection(conn)
    door = ingest.DirectIngest(ingest.Limits())
    with conn.cursor() as cur:
        cur.executemany("UPDATE patients SET display_name = %s, admitted_at = %s"
                        " WHERE patient_id = %s",
                        [(p.name, admitted, pid) for p, pid in zip(profiles, ids, strict=True)])
        for p, pid in zip(profiles, ids, strict=True):
            _patient(conn, cur, door, p, pid, now, admitted, rng)
    table = alerts.score_history(conn, ids, now - timedelta(days=2), now, FRESHNESS)
    latest = _latest(table, len(ids))
    for i, (p, pid) in enumerate(zip(profiles, ids, strict=True)):
        for past in _alerts(p, pid, ward_id, f"{pid}-ox", now, admitted, table, latest[i],
                            _last_complete(table, i), rng):
            alerts.record_past_alert(conn, past)
    if not conn.autocommit:
        conn.commit()
    return ids


def _patient(conn: psycopg.Connection, cur: psycopg.Cursor, door: ingest.DirectIngest,
             p: Profile, pid: str, now: datetime, admitted: datetime,
             rng: random.Random) -> None:
    device = f"{pid}-ox"
    last = now - timedelta(minutes=p.last_set_minutes)
    status = json.dumps({"online": p.online, "battery": p.battery}).encode()
    if not door.status(conn, device, status, now - timedelta(minutes=2),
                       kept_as=f"sample:{device}"):
        raise ValueError(f"ingest refused the sample's status of {device}")
    # Settings as a clinician makes them (each with its review date, 14 days ahead).
    if p.spo2_scale == 2:
        clinical.set_spo2_scale(conn, pid, 2, by=_SETTING_BY, now=admitted,
                                reason="COPD with confirmed hypercapnic respiratory failure,"
                                       " target 88-92 %")
    if p.accepted:
        parameter, low, high = p.accepted
        clinical.set_accepted_range(conn, pid, parameter, low, high, by=_SETTING_BY,
                                    now=admitted, reason="Known resting tachycardia, stable"
                                                         " for years (GP letter)")
    if not p.no_readings:
        _readings(conn, door, p, pid, device, now, last, rng)
    # After its messages (ingest marks a device seen when one arrives): seen at its last
    # set, or 3 h ago when offline.
    cur.execute("UPDATE devices SET last_seen = %s WHERE device_id = %s",
                (last if p.online else now - timedelta(hours=3), device))


def _readings(conn: psycopg.Connection, door: ingest.DirectIngest, p: Profile, pid: str,
              device: str, now: datetime, last: datetime, rng: random.Random) -> None:
    """A day of sets every 30 min, sent by the patient's oximeter as one readings
    message and stored by ingest, as a device catching up would be, received 10 s
    after its last set was measured (the ward figures count reading to alert from
    the time the ward received the reading)."""
    n = 48
    times = [last - timedelta(minutes=30 * (n - 1 - i)) for i in range(n)]
    values = _trajectory(p, n, rng)
    cutoff = last - timedelta(hours=p.stale_hours)
    sent = np.array([t <= cutoff for t in times])
    for name in p.stale:
        j = PARAMETERS.index(name)
        values[~sent, j] = np.nan  # the device stopped sending it
        values[np.flatnonzero(sent)[-1], j] = p.vitals[j]  # last sent as the profile says
    readings = [{"time": t.astimezone(UTC).isoformat().replace("+00:00", "Z"), "type": name,
                 "value": _value(name, float(v))}
                for t, row in zip(times, values, strict=True)
                for name, v in zip(PARAMETERS, row, strict=True) if not math.isnan(v)]
    payload = json.dumps({"id": f"{pid}-day", "readings": readings}).encode()
    done = door.readings(conn, device, payload, min(now, last + timedelta(seconds=10)),
                         kept_as=f"sample:{device}")
    if done.refused or done.stored != len(readings):
        raise ValueError(f"ingest refused the sample's readings of {pid}: {done.refused[:3]}")


def _value(name: str, value: float) -> float | str | bool:
    """A value as a device sends it: ACVPU as its letter, oxygen as on or off."""
    if name == "consciousness":
        return ACVPU[round(value)]
    if name == "on_oxygen":
        return value >= 0.5
    return value


def _latest(table: alerts.ScoreTable, n: int) -> list[int | None]:
    """Each patient's latest row in ``table`` (sorted by patient, time), None if none."""
    out: list[int | None] = [None] * n
    for row, patient in enumerate(table.patient):
        out[int(patient)] = row
    return out


def _last_complete(table: alerts.ScoreTable, patient: int) -> datetime | None:
    rows = np.flatnonzero((table.patient == patient) & table.complete)
    if not len(rows):
        return None
    return table.time[rows[-1]].astype("datetime64[us]").item().replace(tzinfo=UTC)


def _alerts(p: Profile, pid: str, ward_id: str, device: str, now: datetime,
            admitted: datetime, table: alerts.ScoreTable, row: int | None,
            last_complete: datetime | None, rng: random.Random) -> list[alerts.PastAlert]:
    """A week of handled alerts (for the ward's own figures), then the live alerts the
    engine's rules raise for the latest score (urgent and emergency NEWS2 bands on the
    band alerts follow, overdue sets, silent devices, low batteries), oldest first.  A
    low band's alert is left out: on a steady low baseline the engine raised it once,
    days ago, and it was dealt with."""
    live = _live(p, device, now, admitted, table, row, last_complete)
    out = []
    for day in range(1, 8):
        if rng.random() < 0.35:
            condition = now - timedelta(days=day, hours=rng.randint(0, 12))
            opened = condition + timedelta(seconds=rng.randint(20, 240))
            ack = (opened + timedelta(minutes=rng.randint(2, 40)), "nurse.sample",
                   "Reviewed by phone", rng.random() < 0.4)
            kind = rng.choice(("news2", "news2", "score_rising", "spo2_falling", "overdue"))
            severity = rng.choice(("urgent", "low", "emergency"))
            out.append(alerts.PastAlert(pid, ward_id, kind, "", Severity[severity.upper()],
                                        "Sample history", condition, opened, acknowledged=ack,
                                        resolved_at=ack[0] + timedelta(hours=2)))
    out.sort(key=lambda a: a.opened_at)
    for i, (kind, dev, severity, reason, band, condition) in enumerate(live):
        opened = condition + timedelta(seconds=20 + 7 * i)
        acknowledged = severity is Severity.URGENT and band == "medium" \
            and p.name.startswith("Riley")
        out.append(alerts.PastAlert(
            pid, ward_id, kind, dev, severity, reason, condition, opened, band=band or "",
            acknowledged=(opened + timedelta(minutes=6), "nurse.sample",
                          "Phoned the patient; GP visit arranged", True)
            if acknowledged else None))
    return out


def _live(p: Profile, device: str, now: datetime, admitted: datetime, table: alerts.ScoreTable,
          row: int | None, last_complete: datetime | None) -> list[tuple]:
    """(kind, device, severity, reason, band, condition time) of each live alert."""
    live: list[tuple] = []
    last = now - timedelta(minutes=p.last_set_minutes)
    if row is not None:
        last = table.time[row].astype("datetime64[us]").item().replace(tzinfo=UTC)
        band = BANDS[int(table.effective_level[row])]
        severity = alerts.band_alert(band, int(table.max_single[row]))
        if severity is not None and severity >= Severity.URGENT:
            reason = f"NEWS2 {int(table.total[row])} ({table.band[row]})"
            if table.overridden[row].any():
                reason += (f", adjusted {int(table.adjusted_total[row])}"
                           f" ({table.adjusted_band[row]}) by an accepted range")
            if int(table.max_single[row]) >= 3:
                reason += ": a single parameter scores 3"
            live.append(("news2", "", severity, reason, band, last))
        monitoring = str(table.monitoring_band[row])
        late = overdue_rule.overdue(np.array([_np(last_complete)]), [monitoring], now,
                                    np.array([_np(admitted)]))
        if late[0]:
            since = ("No complete set in two days" if last_complete is None
                     else f"No complete set since {last_complete:%H:%M}Z")
            live.append(("overdue", "", alerts.overdue_severity(monitoring),
                         f"{since}: the {monitoring} band asks for one more often",
                         monitoring, last))
    if not p.online:
        live.append(("device_offline", device, Severity.LOW,
                     f"{device} has missed its last two reports", None, last))
    if p.battery < 20:
        live.append(("battery_low", device, Severity.INFO,
                     f"{device} battery at {p.battery:.0f} %", None, last))
    return live


def _np(t: datetime | None) -> np.datetime64:
    if t is None:
        return np.datetime64("NaT", "us")
    return np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us")
