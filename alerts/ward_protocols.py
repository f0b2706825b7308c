"""The engine's two calls for ward protocols (ward/protocols.py): read what a
protocol judges (ward/protocol_store.py), call the pure rules
(alerts/protocol_conditions.py), hand the conditions to the engine's one
writer of alerts with the NEWS2 ones.  Patients on NEWS2 wards cost one small
query per batch and per tick (which wards run a protocol), nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from alerts import store
from alerts.lifecycle import Condition, Key
from alerts.protocol_conditions import protocol_conditions, protocol_overdue_conditions
from ward import protocol_store
from ward.protocol_rules import latest
from ward.protocols import ALERT_TITLES, protocol

KINDS: tuple[str, ...] = tuple(ALERT_TITLES)


def scored(conn: psycopg.Connection, pids: Sequence[str], wards: Sequence[str],
           now: datetime, live: set[Key]) -> list[Condition]:
    """After a batch is scored: the protocol alerts of its patients on protocol wards."""
    on = protocol_store.ward_protocols(conn, sorted(set(wards)))
    if not on:
        return []
    idx = [i for i, w in enumerate(wards) if w in on]
    ids = [pids[i] for i in idx]
    protos = [protocol(on[wards[i]]) for i in idx]
    readings = protocol_store.load_readings(conn, ids, protos, now)
    return protocol_conditions(protos, ids, [wards[i] for i in idx], readings, live)


def ticked(conn: psycopg.Connection, wards: Sequence[str], states: list[tuple], now: datetime,
           live: set[Key]) -> tuple[list[Condition], set[str]]:
    """At the tick: the protocol alerts and ``overdue`` of every admitted patient on a
    protocol ward (so that an alert escalates, and a silent patient is seen by the
    protocol's own monitoring).  ``states`` are alert_store.patient_states rows.
    Returns the conditions and the patients they judged overdue for (the engine
    leaves those out of NEWS2's own overdue rule)."""
    on = protocol_store.ward_protocols(conn, wards)
    mine = [s for s in states if s[1] in on]
    if not mine:
        return [], set()
    pid, ward, admitted, band, complete, _ = (list(x) for x in zip(*mine, strict=True))
    protos = [protocol(on[w]) for w in ward]
    readings = protocol_store.load_readings(conn, pid, protos, now)
    value, when = latest(readings, len(pid))
    found = protocol_conditions(protos, pid, ward, readings, live)
    found += protocol_overdue_conditions(protos, pid, ward, store.as_times(admitted), when,
                                         value, store.as_times(complete), band, now, live)
    return found, set(pid)
