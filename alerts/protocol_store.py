"""psycopg only: what the engine reads to judge a ward's protocol (ward/protocols.py):
which wards run one, and each patient's protocol readings.  The decisions are
alerts/protocol_conditions.py's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import psycopg

from alerts import store
from alerts.protocol_conditions import ProtocolReadings
from ward.protocols import NEWS2, Protocol


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
    return ProtocolReadings(np.array(cols[0], dtype=np.int64), store.as_times(cols[1]),
                            store.as_floats(cols[2]))
