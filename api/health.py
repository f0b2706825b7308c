"""The shape of `GET /api/v1/health` (pydantic, the HTTP edge), built from
ward/health.py's judgement.  Pure: the route gathers, this shapes.

Who sees what.  A load balancer or a monitor calls health without a
credential, so the anonymous answer carries no secret and nothing about the
ward's layout: the status, one sentence, and each part's ok with its times and
counts.  A signed-in person (clinician or admin, token or session) also gets
the reasons and each engine and worker: names, hosts, pids, ward sets."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ward import health

Status = Literal["ok", "degraded", "alerting_stopped", "database_unreachable"]


class PartOut(BaseModel):
    ok: bool
    detail: str | None = Field(None, description="Why (signed in only)")


class EngineOut(BaseModel):
    instance_id: str
    host: str
    pid: int
    wards: list[str] = Field(description="Its ward set; empty: every ward")
    interval_seconds: float = Field(description="Its tick interval [s]")
    state: Literal["ticking", "waiting", "starting", "stopped"]
    started_at: datetime
    beat_at: datetime
    last_tick_at: datetime | None
    stopped_at: datetime | None = Field(description="When it stopped cleanly (SIGTERM)")
    clock_ahead: bool = Field(description="A time of it lies ahead of the database's clock"
                                          " and is not believed")


class WardSetOut(BaseModel):
    wards: list[str] = Field(description="Empty: every ward")
    running: bool
    last_tick_at: datetime | None = Field(description="The latest tick of an engine covering"
                                                      " these wards")


class AlertingOut(BaseModel):
    ok: bool
    since: datetime | None = Field(description="Stopped since: the latest completed tick of an"
                                               " engine covering the stopped wards (null while"
                                               " running, or when none ever ticked)")
    last_tick_at: datetime | None = Field(description="The latest tick of any engine")
    engines_total: int
    engines_ticking: int
    ward_sets: list[WardSetOut] | None = Field(None, description="Signed in only")
    engines: list[EngineOut] | None = Field(None, description="Signed in only")


class WorkerOut(BaseModel):
    instance_id: str
    host: str
    pid: int
    running: bool
    interval_seconds: float
    started_at: datetime
    beat_at: datetime
    last_batch_at: datetime | None = Field(description="Its latest batch committed")
    messages: int | None = Field(description="Received since it started")
    readings: int | None
    broker_connected: bool | None
    stopped_at: datetime | None


class IngestOut(BaseModel):
    workers_total: int
    workers_running: int
    last_batch_at: datetime | None = Field(description="The latest batch any worker committed")
    workers: list[WorkerOut] | None = Field(None, description="Signed in only")


class NotifiersOut(BaseModel):
    notifiers_total: int = Field(description="`vward notifier` processes that have run")
    notifiers_running: int = Field(description="Those beating now: none running, nobody is"
                                               " paged (the ward is degraded)")


class HealthOut(BaseModel):
    status: Status = Field(description="alerting_stopped and database_unreachable answer 503")
    message: str
    checked_at: datetime = Field(description="The database's clock (the web host's when the"
                                             " database cannot be read)")
    signed_in: bool = Field(description="Whether the details were included")
    database: PartOut
    broker: PartOut
    alerting: AlertingOut | None = Field(description="null: the database cannot be read")
    ingest: IngestOut | None
    notifiers: NotifiersOut | None = None


def health_out(h: health.Health, *, full: bool) -> HealthOut:
    a = h.alerting
    return HealthOut(
        status=h.status,  # type: ignore[arg-type]
        message=(h.message if full or a is None else a.headline),
        checked_at=h.now, signed_in=full,
        database=PartOut(ok=h.database.ok, detail=h.database.detail if full else None),
        broker=PartOut(ok=h.broker.ok, detail=h.broker.detail if full else None),
        alerting=None if a is None else _alerting(a, full),
        ingest=None if a is None else _ingest(h.ingest, full),
        notifiers=None if a is None else NotifiersOut(
            notifiers_total=len(h.notifiers),
            notifiers_running=sum(n.running for n in h.notifiers)))


def _alerting(a: health.Alerting, full: bool) -> AlertingOut:
    return AlertingOut(
        ok=a.running, since=a.since, last_tick_at=a.last_tick, engines_total=len(a.engines),
        engines_ticking=sum(e.state == health.TICKING for e in a.engines),
        ward_sets=[WardSetOut(wards=list(s.wards), running=s.running, last_tick_at=s.last_tick)
                   for s in a.ward_sets] if full else None,
        engines=[EngineOut(
            instance_id=e.row.instance_id, host=e.row.host, pid=e.row.pid, wards=list(e.wards),
            interval_seconds=e.row.interval_seconds, state=e.state,  # type: ignore[arg-type]
            started_at=e.row.started_at, beat_at=e.row.beat_at, last_tick_at=e.row.last_tick_at,
            stopped_at=e.row.stopped_at, clock_ahead=e.skewed) for e in a.engines]
        if full else None)


def _ingest(workers: tuple[health.IngestState, ...], full: bool) -> IngestOut:
    batches = [w.row.last_batch_at for w in workers if w.row.last_batch_at is not None]
    return IngestOut(
        workers_total=len(workers), workers_running=sum(w.running for w in workers),
        last_batch_at=max(batches) if batches else None,
        workers=[WorkerOut(
            instance_id=w.row.instance_id, host=w.row.host, pid=w.row.pid, running=w.running,
            interval_seconds=w.row.interval_seconds, started_at=w.row.started_at,
            beat_at=w.row.beat_at, last_batch_at=w.row.last_batch_at, messages=w.row.messages,
            readings=w.row.readings, broker_connected=w.row.broker_connected,
            stopped_at=w.row.stopped_at) for w in workers] if full else None)
