"""The real-time alerts engine: fetch what changed, call the pure functions, write.

``Engine`` works on one connection with a clock passed in, so tests drive it
step by step: ``run_once(now)`` claims queued patients (score_queue, filled by
ingest in the readings' own transaction), rescores them from their ``since``
with the freshness window of context, writes the scores, reconciles their
alerts and deletes the queue rows, all in one transaction: the queue is the
committed watermark, so a restarted engine carries on where it stopped.
``tick(now)`` does what time alone changes: overdue observations, escalation,
resolution after the hold, devices offline and batteries low.  ``serve`` runs
both, woken by LISTEN, and publishes the alert events (``outbox``).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
import psycopg

from alerts import alert_store, conditions, device_rules, lifecycle, rules, score_writes, store
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
from alerts.scoring import ScoreTable, score_rows
from ward.heartbeats import Heartbeat
from ward.retry import DATABASE, Backoff
from ward.settings import Settings
from ward.topics import ALERT_EVENTS_CHANNEL, NEW_OBSERVATIONS_CHANNEL

log = logging.getLogger("alerts")

_SCORE_KINDS = (NEWS2, SCORE_RISING, SPO2_FALLING, RETROSPECTIVE)
# Kinds whose latest resolved alert decides whether a condition reopens (lifecycle.Resolved).
_REOPEN_KINDS = (NEWS2, RETROSPECTIVE, REVIEW_DUE)
_SPO2 = PARAMETERS.index("spo2")
_CONTEXT = max(rules.SCORE_RISE_WINDOW, np.timedelta64(rules.HOLD))  # scores kept for trends
# Scoring runs in slices of this length between ticks and publishing, so that
# neither waits for a backlog to clear (H19).
_SLICE_SECONDS = 0.25
_REPORT_EVERY = 10.0  # [s] between counter lines in the log
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
                 device_interval: timedelta = timedelta(minutes=15)) -> None:
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
        store.prepare(conn)
        score_writes.prepare(conn)

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
        with self.conn.transaction():
            self.score([c.patient_id for c in claims], [c.since for c in claims], now,
                       retrospective=True)
            self.counts["queue_done"] += store.finish(self.conn, self.engine_id, claims)
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
              retrospective: bool = False) -> int:
        """Inside the caller's transaction: rescore ``ids`` from ``since`` on, write the
        scores and reconcile their score-driven alerts.  Returns score rows written.
        The one path of the engine and of ``vward rescore``; ``retrospective`` (the
        engine's live path) raises what new readings show that nobody was told of:
        a rescore of history leaves its scores for the chart."""
        clock = _Stopwatch(self.timings)
        patients = store.lock_patients(self.conn, ids)
        wanted = dict(zip(ids, since, strict=True))
        pids = [p.patient_id for p in patients]
        wards = [p.ward_id for p in patients]
        starts = [wanted[p] for p in pids]
        if not pids:
            return 0
        carry = store.load_carry(self.conn, pids, starts)
        # A patient whose last score carries its inputs is read from ``since`` on (see
        # store.Carry); one without (never scored, or scored before migration 005) over
        # the whole freshness window before it.  SpO2 over the fall rule's window.
        obs = store.load_observations(
            self.conn, pids,
            [s if known else s - self.freshness for s, known in zip(starts, carry.known,
                                                                   strict=True)],
            [now - _td(rules.SPO2_FALL_WINDOW)] * len(pids))
        setting_rows = store.load_settings(self.conn, pids)
        context = store.load_scores(self.conn, pids,
                                    [min(s, now - _td(_CONTEXT)) for s in starts], starts)
        live = alert_store.live_alerts(self.conn, patients=pids, kinds=_SCORE_KINDS)
        resolved = alert_store.last_resolved(self.conn, pids, _REOPEN_KINDS)
        covered = (alert_store.alerted_times(self.conn, pids, (NEWS2, RETROSPECTIVE), min(starts))
                   if retrospective else None)
        clock.lap("read")
        since_np = store.as_times(starts)
        table = score_rows(carry.inputs.followed_by(obs), setting_rows, since_np, _np(now),
                           np.timedelta64(self.freshness), seed=carry.level)
        clock.lap("score")
        rewritten = self._rewritten(live, table, pids, wanted)
        score_writes.write_scores(self.conn, table, pids)
        store.clear_failures(self.conn, pids)
        clock.lap("write")
        history = context.merged(table)
        keys = {a.key for a in live}
        spo2 = obs.param == _SPO2
        found = (news2_conditions(history, pids, wards, keys,
                                  since=since_np if retrospective else None,
                                  covered=covered)
                 + conditions.trend_conditions(history, obs.patient[spo2], obs.time[spo2],
                                               obs.value[spo2], now, pids, wards, keys))
        changes = lifecycle.reconcile(live, found, now, resolved=resolved, rewritten=rewritten)
        self._write(changes, now)
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
        old = store.scores_at(self.conn, [(a.patient_id, a.condition_time) for a in basis
                                          if a.condition_time is not None])
        index = {p: i for i, p in enumerate(pids)}
        out = {}
        for a in basis:
            assert a.condition_time is not None
            before = old.get((a.patient_id, a.condition_time))
            at = np.flatnonzero((table.patient == index[a.patient_id])
                                & (table.time == _np(a.condition_time)))
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
            found = (self._patient_conditions(states, now, keys)
                     + self._device_conditions(now, keys)
                     + self._score_conditions(live, states, now, keys)
                     + conditions.standing_conditions(live))
            resolved = alert_store.last_resolved(
                self.conn, sorted({c.patient_id for c in found}), _REOPEN_KINDS)
            changes = lifecycle.reconcile(live, found, now, resolved=resolved)
            events = self._write(changes, now)
        self._last_tick = now
        self.counts["ticks"] += 1
        return events

    def _patient_conditions(self, states: list[tuple], now: datetime,
                            keys: set) -> list[Condition]:
        """Overdue sets, settings due for review and patients that cannot be scored."""
        if not states:
            return []
        pid, ward, admitted, band, complete, _ = zip(*states, strict=True)
        wards = dict(zip(pid, ward, strict=True))
        return (conditions.overdue_conditions(pid, ward, store.as_times(admitted),
                                              store.as_times(complete), band, now, keys)
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
            latest = store.latest_score_times(self.conn, band_pids)
            band_pids = [p for p in band_pids if p in latest]
            history = store.load_scores(self.conn, band_pids, [latest[p] for p in band_pids],
                                        [None] * len(band_pids))
            found += [c for c in news2_conditions(
                history, band_pids, [wards[p] for p in band_pids], keys)
                if c.key in keys or (c.patient_id in demanding and c.cleared_at is None)]
        if trend_pids:
            window = now - _td(_CONTEXT)
            history = store.load_scores(self.conn, trend_pids, [window] * len(trend_pids),
                                        [None] * len(trend_pids))
            spo2 = store.spo2_readings(self.conn, trend_pids,
                                       now - _td(rules.SPO2_FALL_WINDOW))
            found += conditions.trend_conditions(history, *spo2, now, trend_pids,
                                                 [wards[p] for p in trend_pids], keys)
        return found

    def _write(self, changes: list[lifecycle.Change], now: datetime) -> int:
        events = alert_store.write_changes(self.conn, changes, now, self.engine_id)
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
            log.info("per batch: read %.1f ms, score %.1f ms, write %.1f ms, alerts %.1f ms",
                     *(1000 * t[k] / c["batches"] for k in ("read", "score", "write", "alerts")))


def rescore(engines: Engine | Sequence[Engine], ids: Sequence[str], since: datetime,
            now: datetime, *, chunk: int, progress: bool = True) -> list[str]:
    """Rescore ``ids`` from ``since`` in chunks of patients, one transaction each: the
    engine's own scoring path (`vward rescore`, and the benchmark).  Given several
    engines (each on its own connection), they take chunks in turn from one list in
    threads of their own, so that the database writes one chunk while Python reads
    and scores another.  Returns the patients that could not be scored (logged; the
    others are scored all the same)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    crew = [engines] if isinstance(engines, Engine) else list(engines)
    parts = [list(ids[i:i + chunk]) for i in range(0, len(ids), chunk)]
    failed: list[str] = []
    lock = threading.Lock()
    with tqdm(total=len(ids), unit="patient", disable=not progress, file=sys.stderr) as bar:

        def work(engine: Engine) -> None:
            def score(part: list[str]) -> None:
                with engine.conn.transaction():
                    engine.score(part, [since] * len(part), now)

            while True:
                with lock:
                    if not parts:
                        return
                    part = parts.pop(0)
                lost = [p for p, _ in engine.each_alone(part, score, str, "left as it was")]
                with lock:
                    failed.extend(lost)
                    bar.update(len(part))

        with ThreadPoolExecutor(len(crew)) as pool:
            for done in [pool.submit(work, e) for e in crew]:
                done.result()
    return failed


class _Stopwatch:
    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] += now - self.last
        self.last = now


def serve(settings: Settings, *, stop: threading.Event | None = None,
          clock: Clock = lambda: datetime.now(UTC)) -> int:
    """`vward alerts`: score what is queued, tick, publish; until SIGINT, SIGTERM or ``stop``."""
    from alerts.outbox import Outbox

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        # SIGINT too, or it stays ignored where a shell started us in the
        # background (make demo): Ctrl-C left the engine running (finding 11).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    outbox = Outbox(settings)
    outbox.start()
    log.info("alerts engine %s started (wards: %s); publishing alert events to %s",
             settings.alerts_engine_id, ", ".join(wards_of(settings)) or "all", outbox.where)
    backoff = Backoff(DATABASE)  # starts over once connected: an outage waits 0.5 s first
    try:
        while not stop.is_set():
            try:
                _serve_connected(settings, stop, clock, outbox, connected=backoff.reset)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                delay = backoff.next_delay()
                log.warning("database unreachable (%s); retrying in %s s",
                            str(exc).strip().splitlines()[0] if str(exc) else exc, delay)
                stop.wait(delay)
    finally:
        outbox.stop()
    log.info("alerts engine %s stopped", settings.alerts_engine_id)
    return 0


def _serve_connected(settings: Settings, stop: threading.Event, clock: Clock, outbox, *,
                     connected: Callable[[], None]) -> None:
    tick_every = timedelta(seconds=settings.alerts_tick_seconds)
    with psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as work, \
            psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as listen:
        listen.execute(f"LISTEN {NEW_OBSERVATIONS_CHANNEL}")
        listen.execute(f"LISTEN {ALERT_EVENTS_CHANNEL}")
        engine = Engine.from_settings(work, settings)
        heart = Heartbeat("alerts", engine.engine_id, interval=settings.alerts_tick_seconds,
                          wards=engine.wards)  # read by `vward status` and /api/v1/health
        heart.beat(work)
        log.info("connected to the database; catching up on the queue")
        connected()
        next_tick = clock()
        last_report = time.monotonic()
        try:
            while not stop.is_set():
                # Score for one slice at most, then tick and publish: under a backlog
                # that never empties, draining to the end starved both: alert events
                # waited behind every queued set and overdue checks stopped (H19).
                until = time.monotonic() + _SLICE_SECONDS
                engine.drain(clock, stop=lambda u=until: stop.is_set() or time.monotonic() >= u)
                behind = time.monotonic() >= until  # the slice ended, not the queue
                if clock() >= next_tick:
                    heart.beat(work, ticked=engine.tick(clock()) >= 0)  # -1: another ticked
                    next_tick = clock() + tick_every
                engine.counts["published"] += outbox.publish_pending(work)
                if time.monotonic() - last_report >= _REPORT_EVERY:
                    engine.report()
                    log.info("published %d alert events", engine.counts["published"])
                    last_report = time.monotonic()
                if behind:
                    continue
                wait = min(1.0, max(0.05, (next_tick - clock()).total_seconds()))
                for _ in listen.notifies(timeout=wait, stop_after=1):
                    pass
        finally:
            if not work.closed:
                store.release(work, engine.engine_id)
                engine.report()
                if stop.is_set():
                    heart.stopped(work)


def _np(t: datetime) -> np.datetime64:
    """An aware datetime as a naive-UTC datetime64[us]."""
    return np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us")


def _td(d: np.timedelta64 | timedelta) -> timedelta:
    if isinstance(d, timedelta):
        return d
    return timedelta(microseconds=int(d / np.timedelta64(1, "us")))
