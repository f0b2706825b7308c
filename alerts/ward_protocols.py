"""The engine's two calls for ward protocols (ward/protocols.py): read what a
protocol judges (ward/protocol_store.py), call the pure rules
(alerts/protocol_conditions.py), hand the conditions to the engine's one
writer of alerts with the NEWS2 ones.  Patients on NEWS2 wards cost one small
query per batch and per tick (which wards run a protocol), nothing more."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import psycopg

from alerts import store
from alerts.lifecycle import Condition, Key
from alerts.protocol_conditions import protocol_conditions, protocol_overdue_conditions
from ward import protocol_store
from ward.protocol_rules import ProtocolReadings, latest
from ward.protocols import ALERT_TITLES, protocol

KINDS: tuple[str, ...] = tuple(ALERT_TITLES)
log = logging.getLogger("alerts")


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
    stale = _no_longer_raised(on, states, live)
    mine = [s for s in states if s[1] in on]
    if not mine:
        return stale, set()
    pid, ward, admitted, band, complete, _ = (list(x) for x in zip(*mine, strict=True))
    protos = [protocol(on[w]) for w in ward]
    readings = protocol_store.load_readings(conn, pid, protos, now)

    def judge(i: list[int]) -> list[Condition]:
        r = readings if len(i) == len(pid) else _one(readings, i[0])
        value, when = latest(r, len(i))
        ids, wards_ = [pid[k] for k in i], [ward[k] for k in i]
        ps = [protos[k] for k in i]
        return (protocol_conditions(ps, ids, wards_, r, live)
                + protocol_overdue_conditions(
                    ps, ids, wards_, store.as_times([admitted[k] for k in i]), when, value,
                    store.as_times([complete[k] for k in i]), [band[k] for k in i], now,
                    live))

    everyone = list(range(len(pid)))
    try:
        return stale + judge(everyone), set(pid)
    except ValueError:  # a reading the rules refuse (hazard log H63): judge one by one
        log.exception("protocol rules refused a reading; judging patients one by one")
    found: list[Condition] = stale
    for k in everyone:
        try:
            found += judge([k])
        except ValueError as exc:
            log.error("patient %s: protocol rules refused its readings: %s", pid[k], exc)
    return found, set(pid)


def _no_longer_raised(on: dict[str, str], states: list[tuple],
                      live: set[Key]) -> list[Condition]:
    """Live protocol alerts of patients whose ward no longer runs a protocol that
    raises them (an admin changed it): clear, so that they resolve after the hold
    rather than stand for ever with nothing to judge them."""
    ward_of = {s[0]: s[1] for s in states}
    out = []
    for patient, kind, device in live:
        if kind not in KINDS or patient not in ward_of:
            continue
        p = protocol(on.get(ward_of[patient]))
        raised = {p.threshold.kind} if p.threshold else set()
        raised |= {p.gain_kind} if p.gains else set()
        if kind not in raised:
            out.append(Condition(patient, ward_of[patient], kind, None,
                                 f"the ward now runs {p.title}, which does not raise it",
                                 device_id=device))
    return out


def _one(r: ProtocolReadings, k: int) -> ProtocolReadings:
    """Patient ``k``'s readings alone, as patient 0."""
    rows = r.patient == k
    return ProtocolReadings(np.zeros(int(rows.sum()), dtype=np.int64), r.time[rows],
                            r.value[rows])
