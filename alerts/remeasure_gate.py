"""The engine's re-measure gate: between the alerts the lifecycle would open and
their write, an urgent NEWS2 alert raised by one spot check is held while its
device is asked to measure again (alerts/remeasure.py decides; remeasure_store.py
reads and writes).  Every call also judges the pending requests of the engine's
wards, so an answer scored in any batch, or a deadline passing at a tick, is
acted on at once: the held alert opens (confirmed, unanswered), or the episode
is recorded as resolved by re-measurement and nothing opens.  The commands go
out through the alerts outbox's broker connection (``publish_commands``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import psycopg

from alerts import remeasure, rules
from alerts import remeasure_store as store
from alerts.alert_store import write_changes as write_alert_changes
from alerts.errors import OutboxError
from alerts.lifecycle import ALERT_KINDS, NEWS2, Change, Event
from alerts.remeasure import Protocol
from alerts.rules import Severity
from ward.news2_chart import BAND_SEVERITY

log = logging.getLogger("alerts.remeasure")

_NOT_ALLOWED = Protocol(allowed=False, deadline=timedelta(0))
_COMMAND_ACK_TIMEOUT = 10.0  # [s] for the broker to take a batch of commands


def write_changes(conn: psycopg.Connection, changes: list[Change], now: datetime,
                  actor: str, wards: Sequence[str] = ()) -> int:
    """``alert_store.write_changes`` with the gate in front; returns events written.
    ``changes`` becomes, in place, what was written, so that the engine's counts of
    events (it counts them from its list after the write) say what happened."""
    gated, opened_by = hold(conn, list(changes), now, wards)
    changes[:] = gated
    events = write_alert_changes(conn, gated, now, actor)
    store.link_alerts(conn, opened_by)
    return events


def hold(conn: psycopg.Connection, changes: list[Change], now: datetime,
         wards: Sequence[str] = ()) -> tuple[list[Change], list[int]]:
    """The changes to write, and the requests whose held alert opens among them."""
    candidates = {c.patient_id: c for c in changes if _opens_news2(c)}
    waiting = store.pending(conn, wards)
    if not candidates and not waiting:
        return changes, []
    swap: dict[int, Change | None] = {}  # id(change) -> its replacement, None: held
    extra: list[Change] = []
    opened_by: list[int] = []
    for r in waiting:
        c = candidates.pop(r.patient_id, None)
        result, text = _judge(conn, r, now)
        if result is None:  # still waiting
            if c is not None:
                swap[id(c)] = None
            continue
        log.info("re-measurement %d of patient %s: %s", r.request_id, r.patient_id, result)
        if not remeasure.opens(result):
            if c is not None:
                swap[id(c)] = None
            continue
        opened_by.append(r.request_id)
        detail = {"remeasure": {"request_id": r.request_id, "outcome": result}}
        if c is not None:
            swap[id(c)] = _with_words(c, text, detail)
        else:
            extra.append(_held_alert(r, now, text, detail))
    if candidates:
        swap.update(_ask(conn, list(candidates.values()), now))
    kept = [swap.get(id(c), c) for c in changes]
    return [c for c in kept if c is not None] + extra, opened_by


def _opens_news2(c: Change) -> bool:
    return (c.alert_id is None and c.kind == NEWS2 and c.condition_time is not None
            and any(e.event == "opened" for e in c.events))


def _judge(conn: psycopg.Connection, r: store.Pending, now: datetime,
           ) -> tuple[remeasure.Outcome | None, str]:
    """A pending request's outcome at ``now`` (None: wait), recorded when decided."""
    if r.discharged:
        result: remeasure.Outcome | None = remeasure.CANCELLED
        a = None
    else:
        a = store.answer(conn, r)
        severity = BAND_SEVERITY[a.latest_band] if a.latest_band else None
        result = remeasure.outcome(r.types, a.types, severity, r.deadline, now)
    if result is None:
        return None, ""
    said = (remeasure.answer_text([(t, v) for t, v, _ in a.readings], a.latest_total,
                                  a.latest_band) if a is not None and a.readings else None)
    text = remeasure.outcome_text(result, device_id=r.device_id, asked_at=r.asked_at,
                                  deadline=r.deadline, answer=said)
    store.decide(conn, r.request_id, result, now, a, text)
    return result, text


def _ask(conn: psycopg.Connection, candidates: list[Change], now: datetime,
         ) -> dict[int, Change | None]:
    """Candidates held for a new re-measurement (None), or dropped as settled."""
    out: dict[int, Change | None] = {}
    protocols = store.protocols(conn, sorted({c.ward_id for c in candidates}))
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the command says ms
    for c in candidates:
        assert c.condition_time is not None
        settled = store.settled_until(conn, c.patient_id)
        if settled is not None and c.condition_time <= settled:
            out[id(c)] = None  # the episode a re-measurement stood down
            continue
        if c.state.clear_since is not None:
            continue  # from late readings, already clear: nothing to measure again
        verdict = remeasure.needs_remeasure(
            c.state.severity, store.set_sources(conn, c.patient_id, c.condition_time),
            protocols.get(c.ward_id, _NOT_ALLOWED), store.last_asked(conn, c.patient_id), now,
            measured_at=c.condition_time)
        if verdict.ask is None:
            if c.state.severity == Severity.URGENT:
                log.debug("patient %s: urgent alert opens at once: %s", c.patient_id, verdict.why)
            continue
        ask = verdict.ask
        before = store.score_total(conn, c.patient_id, c.condition_time)
        request_id = store.insert(conn, store.NewRequest(
            c.patient_id, c.ward_id, ask.device_id, ask.types, now, ask.deadline,
            c.condition_time, before if before is not None else 0, c.state.band,
            tuple(sorted(c.state.red)), c.reason))
        log.info("patient %s: urgent NEWS2 held; re-measurement %s asked of %s (%s) until %s",
                 c.patient_id, request_id, ask.device_id, ", ".join(ask.types),
                 f"{ask.deadline:%H:%M:%S}Z")
        out[id(c)] = None
    return out


def _with_words(c: Change, text: str, detail: dict) -> Change:
    reason = f"{c.reason}. {text}"
    events = tuple(Event(e.event, f"{e.reason}. {text}", {**e.detail, **detail})
                   for e in c.events)
    return replace(c, reason=reason, events=events)


def _held_alert(r: store.Pending, now: datetime, text: str, detail: dict) -> Change:
    """The alert the request held, opening now as it would have (its score, band, red
    parameters and words); the lifecycle follows the score from here."""
    red = frozenset(r.red)
    state, names = rules.step(None, Severity.URGENT, now, kind=NEWS2, band=r.band, red=red,
                              hold=ALERT_KINDS[NEWS2].hold)
    assert state is not None
    reason = f"{r.reason}. {text}"
    condition = r.score_time.isoformat().replace("+00:00", "Z")
    event_detail = {"severity": "urgent", "condition_time": condition, "band": r.band,
                    **({"red": sorted(red)} if red else {}), **detail}
    return Change(alert_id=None, patient_id=r.patient_id, ward_id=r.ward_id, kind=NEWS2,
                  category=ALERT_KINDS[NEWS2].category, device_id="", state=state,
                  reason=reason, condition_time=r.score_time,
                  events=tuple(Event(n, reason, event_detail) for n in names))


def publish_commands(conn: psycopg.Connection, outbox, now: datetime,
                     wards: Sequence[str] = ()) -> int:
    """Publish the commands not yet sent through the outbox's broker connection (the
    engine's own user, alerts@vward, may write commands topics); each is marked sent
    once the broker took it, in the same transaction (at least once: a device may get
    a command twice and measures twice).  Only ``wards``' (all when empty), as the
    engine that asked.  Returns how many went."""
    if not outbox.connected:
        return 0
    try:
        with conn.transaction():
            rows = store.unsent(conn, now, wards)
            if not rows:
                return 0
            outbox.publisher.publish([(topic, body) for _, topic, body in rows],
                                     timeout=_COMMAND_ACK_TIMEOUT)
            store.mark_sent(conn, [rid for rid, _, _ in rows], now)
    except OutboxError as exc:
        log.warning("re-measure commands not sent (%s); will retry", exc)
        return 0
    return len(rows)
