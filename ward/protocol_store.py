"""psycopg only: a ward's protocol (wards.protocol, migration 020) as `vward ward
add` and the API set and read it, and the protocol readings of its patients
that the alerts engine and the dashboard judge (by ward/protocol_rules.py).
Which protocols exist, and what each watches, is ward/protocols.py's table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import psycopg

from ward import devices
from ward.errors import NotFound, WardError
from ward.overdue import times64
from ward.protocol_rules import ProtocolReadings
from ward.protocols import NAMES, NEWS2, Protocol


def check(protocol: str) -> str:
    if protocol not in NAMES:
        raise WardError(f"unknown protocol {protocol!r}; a ward runs one of: {', '.join(NAMES)}")
    return protocol


def add_ward(conn: psycopg.Connection, ward_id: str, protocol: str | None, *, by: str,
             name: str | None = None) -> bool:
    """Create the ward running ``protocol`` (None: NEWS2), or, for a ward that exists,
    set its protocol when ``protocol`` is given (None leaves it as it is: a command run
    again for its beds or name must never turn a COVID-19 ward back to NEWS2) and its
    name when given.  Every change is recorded with ``by`` (ward_protocol_changes).
    Returns whether the ward was created."""
    devices.check_id(ward_id, "ward id")
    if protocol is not None:
        check(protocol)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO wards (ward_id, name, protocol) VALUES (%s, %s, %s)"
            " ON CONFLICT (ward_id) DO UPDATE SET"
            " name = CASE WHEN %s THEN EXCLUDED.name ELSE wards.name END"
            " RETURNING (xmax = 0), protocol",
            (ward_id, name or ward_id, protocol or NEWS2, name is not None)).fetchone()
        assert row is not None
        created, current = bool(row[0]), row[1]
        if created:
            _record(conn, ward_id, current, None, by)
        elif protocol is not None and protocol != current:
            conn.execute("UPDATE wards SET protocol = %s WHERE ward_id = %s",
                         (protocol, ward_id))
            _record(conn, ward_id, protocol, current, by)
    return created


def set_protocol(conn: psycopg.Connection, ward_id: str, protocol: str, *, by: str) -> None:
    """An existing ward runs ``protocol`` from now on (NotFound if there is none);
    recorded with ``by`` when it changes."""
    check(protocol)
    with conn.transaction():
        row = conn.execute("SELECT protocol FROM wards WHERE ward_id = %s FOR UPDATE",
                           (ward_id,)).fetchone()
        if row is None:
            raise NotFound(f"no ward {ward_id}")
        if row[0] != protocol:
            conn.execute("UPDATE wards SET protocol = %s WHERE ward_id = %s",
                         (protocol, ward_id))
            _record(conn, ward_id, protocol, row[0], by)


def _record(conn: psycopg.Connection, ward_id: str, protocol: str, previous: str | None,
            by: str) -> None:
    conn.execute("INSERT INTO ward_protocol_changes (ward_id, protocol, previous, changed_by)"
                 " VALUES (%s, %s, %s, %s)", (ward_id, protocol, previous, by))


def changes(conn: psycopg.Connection, ward_id: str) -> list[tuple[str, str | None, str,
                                                                 datetime]]:
    """The ward's protocol changes, oldest first: (protocol, previous, by, at)."""
    return [tuple(r) for r in conn.execute(  # type: ignore[misc]
        "SELECT protocol, previous, changed_by, changed_at FROM ward_protocol_changes"
        " WHERE ward_id = %s ORDER BY changed_at, change_id", (ward_id,)).fetchall()]


def protocol_of(conn: psycopg.Connection, ward_id: str) -> str:
    row = conn.execute("SELECT protocol FROM wards WHERE ward_id = %s", (ward_id,)).fetchone()
    if row is None:
        raise NotFound(f"no ward {ward_id}")
    return row[0]


def ward_protocols(conn: psycopg.Connection, wards: Sequence[str]) -> dict[str, str]:
    """The wards of ``wards`` (all, if empty) that run a protocol other than NEWS2 alone:
    {ward_id: protocol}.  Empty for a NEWS2-only deployment, which then reads nothing
    more (the engine's NEWS2 path stays as it was)."""
    where = "AND ward_id = ANY(%s)" if wards else ""
    rows = conn.execute(f"SELECT ward_id, protocol FROM wards WHERE protocol <> %s {where}",
                        [NEWS2, list(wards)] if wards else [NEWS2]).fetchall()
    return {r[0]: r[1] for r in rows}


def reach(p: Protocol) -> timedelta:
    """How far before its latest reading a protocol's rules look."""
    return max((g.window + g.slack for g in p.gains), default=timedelta(0))


def load_readings(conn: psycopg.Connection, ids: Sequence[str], protocols: Sequence[Protocol],
                  now: datetime) -> ProtocolReadings:
    """Per patient ``ids[i]``, its protocol's reading measured at or before ``now``: the
    latest and those within ``reach`` before it (one index scan each)."""
    wanted = [(pid, p.reading.value, reach(p)) for pid, p in zip(ids, protocols, strict=True)
              if p.reading is not None]
    if not wanted:
        return ProtocolReadings.empty()
    pids, types, reaches = (list(x) for x in zip(*wanted, strict=True))
    rows = conn.execute(
        "SELECT array_position(%(all)s::text[], q.p) - 1, o.time, o.value"
        " FROM unnest(%(ids)s::text[], %(types)s::text[], %(reach)s::interval[]) AS q(p, type, r)"
        " CROSS JOIN LATERAL (SELECT max(time) AS t FROM observations"
        "      WHERE patient_id = q.p AND type = q.type AND time <= %(now)s) l"
        " CROSS JOIN LATERAL (SELECT time, value FROM observations o WHERE o.patient_id = q.p"
        "      AND o.type = q.type AND o.time >= l.t - q.r AND o.time <= l.t) o",
        {"all": list(ids), "ids": pids, "types": types, "reach": reaches, "now": now}).fetchall()
    if not rows:
        return ProtocolReadings.empty()
    cols = list(zip(*rows, strict=True))
    return ProtocolReadings(np.array(cols[0], dtype=np.int64), times64(list(cols[1])),
                            np.array(cols[2], dtype=np.float64))
