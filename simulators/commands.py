"""`vward simulate`: a simulated ward of patients at home and their devices,
registered like real ones and publishing through the real broker."""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from simulators import protocol_runner
from simulators import scenario as scenarios
from simulators.errors import SimulatorError
from simulators.pacing import Timeline, choose_start, format_progress
from simulators.plan import Simulation
from ward import durations
from ward.settings import Settings

# Patients are admitted, and their devices assigned, this long before the
# simulated start: a skewed device clock stamps readings up to
# clock_skew_minutes early.  Not longer: the overdue rule counts from
# admission, and a patient admitted a day before their first set is overdue.
_ASSIGNED_BEFORE = timedelta(hours=1)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a ward of patients at home and their devices",
        description="Register simulated patients and devices (as `vward device add` does) and"
        " publish their readings through the broker, stamped in simulated time.  Stops after"
        " --duration, or on Ctrl-C / SIGTERM (a second one drops every connection at once).",
    )
    p.add_argument(
        "--patients", type=_int_at_least(1), metavar="N",
        help="how many patients (default: the scenario's)",
    )
    p.add_argument(
        "--scenario",
        default="mixed",
        metavar="NAME|FILE",
        help=f"{', '.join(scenarios.BUILTIN)} or a TOML file (default: mixed)",
    )
    p.add_argument(
        "--speed",
        type=_positive_float,
        metavar="X",
        help="simulated seconds per real second (default: the scenario's)",
    )
    p.add_argument(
        "--duration",
        type=_duration,
        metavar="D",
        help="stop after this much real time: 90, 90s, 10m, 2h (default: until stopped)",
    )
    p.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=1,
        metavar="S",
        help="the same seed (and --start) gives the same run (default: 1)",
    )
    p.add_argument("--ward", metavar="W", help="ward id (default: the scenario's)")
    p.add_argument(
        "--start",
        type=_start,
        metavar="TIME",
        help="simulated start, ISO 8601 (default: the run ends at the present or,"
        " without --duration, catches up with it)",
    )
    p.add_argument(
        "--abrupt-stop",
        action="store_true",
        help="at the end, drop every connection without saying goodbye, so the"
        " broker publishes each device's last will",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="connect the devices over TLS on VWARD_MQTT_TLS_PORT, trusting the broker's CA"
        " (as devices at home do; default: VWARD_MQTT_TLS)",
    )
    p.set_defaults(func=_cmd_simulate)
    protocol_runner.register(subparsers)  # `vward simulate-protocol`


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from simulators import summary
    from simulators.enrol import enrol
    from simulators.runner import Runner
    from ward import devices
    from ward.broker_names import mqtt_protocol
    from ward.tls import mqtt_endpoint

    sc = scenarios.load(args.scenario)
    if args.ward:
        sc = replace(sc, ward_id=devices.check_id(args.ward, "ward id"))
    speed = args.speed or sc.speed
    now = datetime.now(UTC)
    start = args.start or choose_start(now, speed, args.duration)
    _check_start(start, now, settings.max_age_days)
    sim = Simulation(sc, n_patients=args.patients, seed=args.seed, speed=speed, start=start)
    for line in summary.describe(
        sim, Timeline(speed, (now - sim.start).total_seconds()), args.duration
    ):
        print(line, flush=True)
    passwords = enrol(settings, sim, valid_from=sim.start - _ASSIGNED_BEFORE)
    if settings.mqtt_external:
        print(
            "note: the broker is external (VWARD_MQTT_EXTERNAL): give it the simulated"
            " devices' credentials yourself",
            file=sys.stderr,
        )
    where = mqtt_endpoint(settings, use_tls=args.tls or None)
    print(
        f"registered {len(sim.devices):,} devices; connecting to the broker at"
        f" {where.host}:{where.port}{' over TLS' if where.ca_file else ''} ...",
        flush=True,
    )
    runner = Runner(
        sim,
        passwords,
        host=where.host,
        port=where.port,
        tls_ca=where.ca_file,
        protocol=mqtt_protocol(settings),
        progress=lambda p: print(format_progress(p), flush=True),
        abrupt_stop=args.abrupt_stop,
        answers=_answer_rates(settings),
        show=lambda line: print(line, flush=True),
    )
    previous = _on_signals(runner)
    try:
        report = runner.run(duration_s=args.duration)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for line in summary.final(report, sim.start):
        print(line, flush=True)
    return 0


def _answer_rates(settings: Settings):
    from simulators.remeasure import AnswerRates

    try:
        return AnswerRates(settings.sim_remeasure_confirm, settings.sim_remeasure_not_confirm)
    except ValueError as exc:
        raise SimulatorError(f"VWARD_SIM_REMEASURE_CONFIRM and _NOT_CONFIRM: {exc}") from None


def _check_start(start: datetime, now: datetime, max_age_days: int) -> None:
    """Refuse a start whose readings the ingest would refuse: too old, or to come."""
    if start < now - timedelta(days=max_age_days):
        raise SimulatorError(
            f"--start {start:%Y-%m-%dT%H:%M:%SZ} is more than {max_age_days} days"
            " ago: the ingest refuses readings that old (VWARD_MAX_AGE_DAYS)"
        )
    if start > now:
        raise SimulatorError(
            f"--start {start:%Y-%m-%dT%H:%M:%SZ} is in the future: the ingest"
            " refuses readings from the future"
        )


def _on_signals(runner) -> dict[int, object]:
    """SIGINT/SIGTERM stop the run cleanly; a second one drops the connections."""

    def handler(signum, frame) -> None:
        runner.stop(abrupt=runner.stopping)

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _int_at_least(low: int):
    """An argparse type: a whole number >= ``low``, or a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _duration(text: str) -> float:
    try:
        return durations.parse(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _start(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)
