"""Runs a simulation over the network: connects its devices
(connections.Connections, one thread), then plans slice by slice what
`plan.Simulation` says to publish and sends each message when the simulated
clock (pacing.Timeline) reaches its time; counts, reports progress, and
stops cleanly after a duration or when asked."""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paho.mqtt.enums import MQTTProtocolVersion

from simulators import messages as m
from simulators.connections import DROPPED, FAILED, POLL_S, Connections
from simulators.devices import KINDS
from simulators.pacing import LagRecorder, Progress, RunReport, Timeline
from simulators.plan import Simulation
from simulators.remeasure import Answerer, AnswerRates

log = logging.getLogger(__name__)

_SEND_BUDGET = 2_000  # sends between two looks at the sockets
_SPOT_CHECK_S = 3600.0  # [s] a kind measuring this seldom or less is a spot check


class Runner:
    """Connects the simulation's devices and publishes what it plans, in time.

    passwords : MQTT password per device id (ward.devices.register_devices).
    protocol : paho's MQTT version, the broker's (ward.broker_names.mqtt_protocol).
    tls_ca : the CA to trust on the broker's TLS port (None: plain MQTT).
    wave : connection handshakes under way at once.  slice_real_s : real
    seconds of simulated time planned per `Simulation.tick`.  progress :
    called with a Progress every progress_every_s.  lag_from_s : sends planned
    before this simulated second are left out of the lag (a warm-up).
    abrupt_stop : end every connection without DISCONNECT, so the broker
    publishes the devices' last wills.  answers : how the spot-check devices
    answer the ward's re-measure commands (None: they do not subscribe to their
    commands topic); show : where the tablets' prompts are printed.
    """

    def __init__(
        self,
        sim: Simulation,
        passwords: dict[str, str],
        *,
        host: str,
        port: int,
        protocol: MQTTProtocolVersion,
        tls_ca: Path | str | None = None,
        wave: int = 64,
        slice_real_s: float = 0.5,
        progress: Callable[[Progress], None] | None = None,
        progress_every_s: float = 5.0,
        lag_from_s: float = 0.0,
        abrupt_stop: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        answers: AnswerRates | None = None,
        show: Callable[[str], None] = log.info,
    ) -> None:
        self.sim = sim
        wills = [sim.last_will(i) for i in range(len(sim.devices))]
        # Spot-check devices (measured when the patient takes a reading) can be asked again.
        listen = [answers is not None and KINDS[d.kind].interval_s >= _SPOT_CHECK_S
                  for d in sim.devices]
        self.net = Connections(
            sim.devices, passwords, wills, host=host, port=port, protocol=protocol, wave=wave,
            monotonic=monotonic, tls_ca=tls_ca, listen=listen,
        )  # fmt: skip
        self.answerer = (Answerer(sim.devices, answers, sim.seed, show)
                         if answers is not None else None)
        self._slice_s = slice_real_s * sim.speed
        self._progress = progress or (lambda p: log.info("%s", p))
        self._progress_every = progress_every_s
        self._lag_from = lag_from_s
        self._monotonic, self._wall = monotonic, wall
        self._stop = False
        self._abrupt = abrupt_stop
        self.lag = LagRecorder()
        self._timeline: Timeline | None = None
        self._origin = 0.0
        self._last_report = (monotonic(), 0)

    @property
    def stopping(self) -> bool:
        return self._stop

    def stop(self, *, abrupt: bool = False) -> None:
        """Stop soon (safe from a signal handler); `abrupt` ends every
        connection without DISCONNECT, so the broker publishes the wills."""
        self._abrupt = self._abrupt or abrupt
        self._stop = True

    def run(self, *, duration_s: float | None = None) -> RunReport:
        """Connect, then publish in time until `duration_s` real seconds of
        sending have passed (everything planned before the simulated time
        they reach is sent) or stop() is called; then disconnect."""
        net = self.net
        connect_s = net.connect_all(stopped=lambda: self._stop, tick=self._report)
        self._report(force=True)
        # A full collection walks every paho client (~70 ms for 10,000): keep
        # the long-lived ones out of it while sending, so no send waits for it.
        gc.collect()
        gc.freeze()
        try:
            return self._send_until(net, connect_s, duration_s)
        finally:
            gc.unfreeze()

    def _send_until(
        self, net: Connections, connect_s: float, duration_s: float | None
    ) -> RunReport:
        origin, cpu0 = self._monotonic(), time.process_time()
        timeline = Timeline(self.sim.speed, (self._wall() - self.sim.start).total_seconds())
        self._timeline, self._origin, self._last_report = timeline, origin, (origin, 0)
        end = timeline.sim_at(duration_s) if duration_s is not None else float("inf")
        pending: deque[m.Outgoing] = deque()
        planned, last = 0.0, origin
        while not self._stop:
            sim_now = min(timeline.sim_at(self._monotonic() - origin), end)
            while planned < end and planned < sim_now + self._slice_s:
                pending.extend(self.sim.tick(planned, planned + self._slice_s))
                planned += self._slice_s
            budget = _SEND_BUDGET
            while pending and pending[0].at <= sim_now and pending[0].at < end and budget:
                o = pending.popleft()
                if net.send(o) and o.at >= self._lag_from:
                    self.lag.add(self._monotonic() - origin - timeline.real_at(o.at))
                if self.answerer is not None:
                    self.answerer.sent(o)
                budget -= 1
            self._answer(sim_now)
            if sim_now >= end and (not pending or pending[0].at >= end):
                break
            if not budget:
                timeout = 0.0  # behind: look at the sockets, then send on
            elif pending:
                wait = timeline.real_at(pending[0].at) - (self._monotonic() - origin)
                timeout = min(max(wait, 0.0), POLL_S)
            else:
                timeout = POLL_S
            net.pump(timeout)
            net.retry_due()
            now = self._monotonic()
            net.misc(now - last)
            last = now
            self._report()
        run_s, cpu_s = self._monotonic() - origin, time.process_time() - cpu0
        self._report(force=True)
        connected = net.connected
        net.close(abrupt=lambda: self._abrupt)  # waits for the broker's last acks
        return RunReport(
            devices=len(net),
            connected=connected,
            failed=net.count(FAILED),
            sent=net.sent,
            acked=net.acked,
            refused=net.refused,
            connect_s=connect_s,
            run_s=run_s,
            cpu_s=cpu_s,
            sim_seconds=min(timeline.sim_at(run_s), end),
            lag_p50_s=self.lag.percentile(50),
            lag_p99_s=self.lag.percentile(99),
            lag_max_s=self.lag.max,
            stopped_by="signal" if self._stop else "duration",
        )

    def _answer(self, sim_now: float) -> None:
        """Act on the commands that arrived, and send the answers now due."""
        a, net = self.answerer, self.net
        while net.commands:
            device, payload = net.commands.popleft()
            if a is not None:
                a.command(device, payload, sim_now, self._stamp)
        if a is not None:
            for o in a.due(sim_now):
                net.send(o)

    def _stamp(self, sim_s: float) -> str:
        return self.sim.time(sim_s).isoformat(timespec="seconds").replace("+00:00", "Z")

    def _report(self, *, force: bool = False) -> None:
        now = self._monotonic()
        since, sent_before = self._last_report
        if not force and now - since < self._progress_every:
            return
        net = self.net
        sent = sum(net.sent.values())
        self._last_report = (now, sent)
        sim_s = self._timeline.sim_at(now - self._origin) if self._timeline else 0.0
        try:
            self._progress(
                Progress(
                    patients=len(self.sim.patients),
                    devices=len(net),
                    connected=net.connected,
                    sent=sent,
                    acked=net.acked,
                    refused=net.refused,
                    rate=(sent - sent_before) / (now - since) if now > since else 0.0,
                    sim_time=self.sim.start + timedelta(seconds=sim_s),
                    speed=self.sim.speed,
                    lag_s=self.lag.last,
                    dropped=net.count(DROPPED),
                )
            )
        except Exception:
            log.exception("progress")
