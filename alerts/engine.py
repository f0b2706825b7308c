"""The real-time alerts engine: fetch what changed, call the pure functions, write.

``Engine`` works on one connection with a clock passed in, so tests drive it
step by step: ``run_once(now)`` claims queued patients (score_queue, filled by
ingest in the readings' own transaction), rescores them from their ``since``
with the freshness window of context, writes the scores, reconciles their
alerts and deletes the queue rows, all in one transaction: the queue is the
committed watermark, so a restarted engine carries on where it stopped.
``tick(now)`` does what time alone changes: overdue observations, escalation,
resolution after the hold, devices offline and batteries low.  The process that
runs both, woken by LISTEN, and publishes the alert events is alerts/service.py;
`vward rescore` is alerts/rescore.py.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np
import psycopg

from alerts import (
    alert_store,
    conditions,
    device_rules,
    kept_reads,
    lifecycle,
    remeasure_gate,
    rules,
    score_reads,
    score_writes,
    store,
    ward_protocols,
)
from alerts.context_cache import ContextCache
from alerts.lifecycle import (
    NEWS2,
    RETROSPECTIVE,
    REVIEW_DUE,
    SCORE_RISING,
    SPO2_FALLING,
    Condition,
    LiveAlert,
)
from alerts.news2 import PARAMETERS
from alerts.news2_conditions import news2_conditions
from alerts.numpy_times import as_datetime64, as_timedelta
from alerts.scoring import Observations, ScoreTable, score_rows
from ward.settings import Settings

log = logging.getLogger("alerts")

_SCORE_KINDS = (NEWS2, SCORE_RISING, SPO2_FALLING, RETROSPECTIVE)
# Kinds whose latest resolved alert decides whether a condition reopens (lifecycle.Resolved).
_REOPEN_KINDS = (NEWS2, RETROSPECTIVE, REVIEW_DUE)
_SPO2 = PARAMETERS.index("spo2")
Clock = Callable[[], datetime]
_DB_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
_T = TypeVar("_T")


def wards_of(settings: Settings) -> tuple[str, ...]:
    return tuple(sorted(w.strip() for w in settings.alerts_wards.split(",") if w.strip()))


class Engine:
    """One alerts engine on one connection (autocommit; it opens its own transactions)."""

    def __init__(self, conn: psycopg.Connection, *, engine_id: str, freshness: timedelta,
                 wards: Sequence[str] = (), batch: int = 200,
                 claim_for: timedelta = timedelta(seconds=60),
                 device_interval: timedelta = timedelta(minutes=15),
                 context_cache: bool = True) -> None:
        self.conn = conn
        self.engine_id = engine_id
        self.freshness = freshness
        self.wards = tuple(wards)
        self.batch = batch
        self.claim_for = claim_for
        self.device_interval = device_interval
        self.counts: Counter[str] = Counter()
        self.timings: dict[str, float] = defaultdict(float)  # [s] per scoring step, for the log
        self._last_tick: datetime | None = None
        self._restarted = True
        self.context_cache = context_cache  # False: read every context (tests compare)
        self.cache = ContextCache()
        store.prepare(conn)

    @classmethod
    def from_settings(cls, conn: psycopg.Connection, settings: Settings) -> Engine:
        return cls(conn, engine_id=settings.alerts_engine_id,
                   freshness=timedelta(minutes=settings.freshness_minutes),
                   wards=wards_of(settings), batch=settings.alerts_batch_patients,
                   claim_for=timedelta(seconds=settings.alerts_claim_seconds),
                   device_interval=timedelta(minutes=settings.device_report_minutes))

    # -- scoring -------------------------------------------------------------------------

    def run_once(self, now: datetime) -> int:
        """Claim one batch of queued patients and score them; returns how many."""
        claims = store.claim(self.conn, self.engine_id, self.batch, self.claim_for, self.wards,
                             own=self._restarted)
        self._restarted = False  # own claims only once: one that failed waits for its expiry
        if not claims:
            return 0
        # A patient that still fails alone stays claimed: retried when the claim expires,
        # and counted: the tick raises scoring_failed after rules.SCORING_FAILED_AFTER.
        failed = self.each_alone(claims, lambda part: self._score_claims(part, now),
                                 lambda c: c.patient_id, f"retried in {self.claim_for}")
        for c, error in failed:
            store.record_failure(self.conn, c.patient_id, error, now)
        return len(claims)

    def _score_claims(self, claims: list[store.Claim], now: datetime) -> None:
        try:
            with self.conn.transaction():
                self.score([c.patient_id for c in claims], [c.since for c in claims], now,
                           retrospective=True, keep=self.context_cache)
                self.counts["queue_done"] += store.finish(self.conn, self.engine_id, claims)
        except BaseException:
            self.cache.discard()
            raise
        self.cache.commit()  # what the committed batch left stands for the database
        self.counts["batches"] += 1

    def each_alone(self, items: list[_T], work: Callable[[list[_T]], object],
                   name: Callable[[_T], str], then: str) -> list[tuple[_T, str]]:
        """``work(items)``; should it fail (not the database), ``work([item])`` for each,
        so that a fault in one patient's data never stops the others.  Returns the items
        that failed alone with their error (each logged and counted as ``failed``);
        database errors raise."""
        try:
            work(items)
            return []
        except _DB_ERRORS:
            raise
        except Exception:
            log.exception("a batch of %d patients failed; scoring them one by one", len(items))
        failed = []
        for item in items:
            try:
                work([item])
            except _DB_ERRORS:
                raise
            except Exception as exc:
                self.counts["failed"] += 1
                failed.append((item, f"{type(exc).__name__}: {exc}"))
                log.exception("patient %s could not be scored; %s", name(item), then)
        return failed

    def drain(self, now: datetime | Clock, *, limit: int | None = None,
              stop: Callable[[], bool] = lambda: False) -> int:
        """Score batches until the queue has nothing this engine may claim (or ``stop``)."""
        total = 0
        while (limit is None or total < limit) and not stop():
            n = self.run_once(now() if callable(now) else now)
            if n == 0:
                break
            total += n
        return total

    def score(self, ids: Sequence[str], since: Sequence[datetime], now: datetime, *,
              retrospective: bool = False, keep: bool = False) -> int:
        """Inside the caller's transaction: rescore ``ids`` from ``since`` on, write the
        scores and reconcile their score-driven alerts.  Returns score rows written.
        The one path of the engine and of ``vward rescore``; ``retrospective`` (the
        engine's live path) raises what new readings show that nobody was told of:
        a rescore of history leaves its scores for the chart.  ``keep``: stage what the
        rules can still use of the patients' history for their next batch (context_cache;
        the caller commits it with its transaction)."""
        clock = _Stopwatch(self.timings)
        self.cache.discard()
        patients = store.lock_patients(self.conn, ids)
        wanted = dict(zip(ids, since, strict=True))
        pids = [p.patient_id for p in patients]
        wards = [p.ward_id for p in patients]
        starts = [wanted[p] for p in pids]
        if not pids:
            return 0
        since_np = store.as_times(starts)
        epochs = [p.score_epoch for p in patients]
        got = kept_reads.batch_inputs(self.conn, self.cache if self.context_cache else None,
                                      pids, starts, [e - 1 for e in epochs], now, self.freshness)
        obs = got.obs
        setting_rows = store.load_settings(self.conn, pids)
        live = alert_store.live_alerts(self.conn, patients=pids,
                                       kinds=_SCORE_KINDS + ward_protocols.KINDS)
        resolved = alert_store.last_resolved(self.conn, pids, _REOPEN_KINDS)
        covered = (alert_store.alerted_times(self.conn, pids, (NEWS2, RETROSPECTIVE), min(starts))
                   if retrospective else None)
        clock.lap("read")
        table = score_rows(got.carry.inputs.followed_by(obs), setting_rows, since_np,
                           as_datetime64(now), np.timedelta64(self.freshness),
                           seed=got.carry.level)
        clock.lap("score")
        rewritten = self._rewritten(live, table, pids, wanted)
        score_writes.write_scores(self.conn, table, pids)
        store.clear_failures(self.conn, pids)
        clock.lap("write")
        history = got.context.merged(table)
        keys = {a.key for a in live}
        spo2 = obs.param == _SPO2
        readings = Observations(obs.patient[spo2], obs.time[spo2], obs.param[spo2],
                                obs.value[spo2])
        found = (news2_conditions(history, pids, wards, keys,
                                  since=since_np if retrospective else None,
                                  covered=covered)
                 + conditions.trend_conditions(history, readings.patient, readings.time,
                                               readings.value, now, pids, wards, keys)
                 + ward_protocols.scored(self.conn, pids, wards, now, keys))
        changes = lifecycle.reconcile(live, found, now, resolved=resolved, rewritten=rewritten)
        self._write(changes, now)
        if keep:
            self.cache.stage(pids, epochs, np.isin(np.arange(len(pids)), table.patient),
                             history, kept_reads.by_time(readings), as_datetime64(now))
        clock.lap("alerts")
        self.counts["patients"] += len(pids)
        self.counts["observations"] += len(obs)
        self.counts["scores"] += len(table)
        return len(table)

    def _rewritten(self, live: list[LiveAlert], table: ScoreTable, pids: list[str],
                   since: dict[str, datetime]) -> dict[lifecycle.Key, str]:
        """Live NEWS2 alerts whose raising score is being rescored to something else."""
        basis = [a for a in live if a.kind == NEWS2 and a.condition_time is not None
                 and a.condition_time >= since[a.patient_id]]
        old = score_reads.scores_at(self.conn, [(a.patient_id, a.condition_time) for a in basis
                                          if a.condition_time is not None])
        index = {p: i for i, p in enumerate(pids)}
        out = {}
        for a in basis:
            assert a.condition_time is not None
            before = old.get((a.patient_id, a.condition_time))
            at = np.flatnonzero((table.patient == index[a.patient_id])
                                & (table.time == as_datetime64(a.condition_time)))
            after = (int(table.total[at[0]]), str(table.band[at[0]])) if len(at) else None
            if before is not None and after != before:
                now_text = f"{after[0]} ({after[1]})" if after else "no score"
                out[a.key] = (f"Late readings rescored the set that raised this alert: NEWS2 at"
                              f" {a.condition_time:%Y-%m-%d %H:%M}Z was {before[0]}"
                              f" ({before[1]}), now {now_text}")
        return out

    # -- the clock -------------------------------------------------------------------------

    def tick(self, now: datetime) -> int:
        """Overdue, escalation, hold, devices: what time alone changes.  One engine per
        ward set ticks at a time (advisory lock); returns events written (-1: skipped)."""
        clock = _Stopwatch(self.timings)
        with self.conn.transaction():
            got = self.conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))",
                                    (f"vward-alerts-tick:{','.join(self.wards)}",)).fetchone()
            if not got or not got[0]:
                return -1
            after = self._last_tick or now - timedelta(days=1)
            self.counts["settings_ended"] += store.enqueue_ended_settings(self.conn, after, now)
            live = alert_store.live_alerts(self.conn, wards=self.wards)
            keys = {a.key for a in live}
            states = alert_store.patient_states(self.conn, self.wards)
            clock.lap("tick: states")
            found = self._patient_conditions(states, now, keys)
            clock.lap("tick: patients")
            found += self._device_conditions(now, keys)
            clock.lap("tick: devices")
            found += (self._score_conditions(live, states, now, keys)
                      + conditions.standing_conditions(live))
            clock.lap("tick: scores")
            resolved = alert_store.last_resolved(
                self.conn, sorted({c.patient_id for c in found}), _REOPEN_KINDS)
            changes = lifecycle.reconcile(live, found, now, resolved=resolved)
            events = self._write(changes, now)
            clock.lap("tick: reconcile")
        self._last_tick = now
        self.counts["ticks"] += 1
        return events

    def _patient_conditions(self, states: list[tuple], now: datetime,
                            keys: set) -> list[Condition]:
        """Overdue sets, settings due for review and patients that cannot be scored."""
        if not states:
            return []
        # A ward's protocol judges its own patients' silence (and its own alerts).
        found, judged = ward_protocols.ticked(self.conn, self.wards, states, now, keys)
        wards = {s[0]: s[1] for s in states}
        news2 = [s for s in states if s[0] not in judged]
        if news2:
            pid, ward, admitted, band, complete, _ = zip(*news2, strict=True)
            found += conditions.overdue_conditions(pid, ward, store.as_times(admitted),
                                                   store.as_times(complete), band, now, keys)
        return (found
                + conditions.review_conditions(
                    alert_store.lapsed_settings(self.conn, self.wards, now), wards, keys)
                + conditions.scoring_failed_conditions(
                    alert_store.failing_patients(self.conn, self.wards), wards, keys))

    def _device_conditions(self, now: datetime, keys: set) -> list[Condition]:
        rows = alert_store.device_states(self.conn, self.wards, now)
        if not rows:
            return []
        dev, kind, pid, ward, seen, assigned, registered, online, online_at, battery = zip(
            *rows, strict=True)
        last_seen = store.as_times(seen)
        gone = device_rules.said_offline(store.as_floats(online), store.as_times(online_at),
                                         last_seen)
        return conditions.device_conditions(
            dev, kind, pid, ward, last_seen, store.as_times(assigned), gone,
            store.as_floats(battery), now, self.device_interval, keys,
            registered_at=store.as_times(registered))

    def _score_conditions(self, live: list[LiveAlert], states: list[tuple], now: datetime,
                          keys: set) -> list[Condition]:
        """Score-driven alerts judged again on the stored scores (hold, escalation, an
        acknowledgement lapsing), for every patient with a live one and every patient
        whose latest score demands an urgent alert or more: an alert resolved by hand
        while its condition holds is back within one tick.  The band is judged on each
        patient's latest score alone (it carries its monitoring band), the trends on
        their windows, for the patients with a live trend alert."""
        demanding = {row[0] for row in states if row[5] is not None
                     and (rules.BAND_SEVERITY[row[5]] or 0) >= rules.Severity.URGENT}
        band_pids = sorted({a.patient_id for a in live if a.kind == NEWS2} | demanding)
        trend_pids = sorted({a.patient_id for a in live if a.kind in (SCORE_RISING,
                                                                      SPO2_FALLING)})
        wards = {a.patient_id: a.ward_id for a in live} | {row[0]: row[1] for row in states}
        found: list[Condition] = []
        if band_pids:
            latest = score_reads.latest_score_times(self.conn, band_pids)
            band_pids = [p for p in band_pids if p in latest]
            history = score_reads.load_scores(self.conn, band_pids, [latest[p] for p in band_pids],
                                        [None] * len(band_pids))
            found += [c for c in news2_conditions(
                history, band_pids, [wards[p] for p in band_pids], keys)
                if c.key in keys or (c.patient_id in demanding and c.cleared_at is None)]
        if trend_pids:
            history, kept = kept_reads.trend_scores(
                self.conn, self.cache if self.context_cache else None, trend_pids, now)
            self.counts["tick_trends_kept"] += kept
            spo2 = store.spo2_readings(self.conn, trend_pids,
                                       now - as_timedelta(rules.SPO2_FALL_WINDOW))
            found += conditions.trend_conditions(history, *spo2, now, trend_pids,
                                                 [wards[p] for p in trend_pids], keys)
        return found

    def _write(self, changes: list[lifecycle.Change], now: datetime) -> int:
        events = remeasure_gate.write_changes(self.conn, changes, now, self.engine_id,
                                              self.wards)  # holds what waits on a re-measure
        for c in changes:
            for e in c.events:
                self.counts[f"event:{e.event}"] += 1
        return events

    def report(self) -> None:
        c = self.counts
        events = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(c.items())
                           if k.startswith("event:")) or "none"
        depth = self.conn.execute("SELECT count(*) FROM score_queue").fetchone()
        log.info("scored %d patients in %d batches: %d observations read, %d scores written;"
                 " %d ticks; alert events: %s; queue depth %d", c["patients"], c["batches"],
                 c["observations"], c["scores"], c["ticks"], events, depth[0] if depth else -1)
        if c["batches"]:
            t = self.timings
            log.info("per batch: read %.1f ms, score %.1f ms, write %.1f ms, alerts %.1f ms;"
                     " kept history used for %d patients, read for %d",
                     *(1000 * t[k] / c["batches"] for k in ("read", "score", "write", "alerts")),
                     self.cache.hits, self.cache.misses)
        if c["ticks"]:
            parts = {k.split(": ")[1]: v for k, v in self.timings.items() if k.startswith("tick: ")}
            log.info("per tick: %.1f ms (%s)", 1000 * sum(parts.values()) / c["ticks"],
                     ", ".join(f"{k} {1000 * v / c['ticks']:.1f} ms" for k, v in parts.items()))


class _Stopwatch:
    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] += now - self.last
        self.last = now
