"""`vward`: the ward's one command.  Each subcommand builds the settings,
calls into its stage, and prints what an operator needs to read.  The
composition root: the only module of ward/ that imports the stages."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from ward import flow_commands, patient_commands, protocol_commands, rota_commands, team_commands
from ward.errors import WardError
from ward.settings import Settings
from ward.topics import readings_topic

Handler = Callable[[argparse.Namespace, Settings], int]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
    )
    # httpx logs each request to the broker's admin API at INFO: no news to an operator.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)


# ---------------------------------------------------------------- services


def _cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import mqtt_session
    from ward import services

    for line in services.up(settings, nodes=args.nodes,
                            progress=lambda line: print(line, flush=True),
                            ingest_session=mqtt_session.ensure):
        print(line)
    return 0


def _cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    from ward import services

    for line in services.down(settings):
        print(line)
    return 0


def _cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    from ward import pg_auth, redaction

    env = settings.as_env()
    if args.show_secrets and settings.own_database:
        env["VWARD_DATABASE_URL"] = pg_auth.owner_url(settings)
    for key, value in env.items():
        if args.show_secrets:
            pass
        elif "PASSWORD" in key or "SECRET" in key:
            value = redaction.MASK
        elif key.endswith(("_URL", "_URLS")):
            value = redaction.redact(value)
        print(f"{key}={value}")
    return 0


def _cmd_psql(args: argparse.Namespace, settings: Settings) -> int:
    import os
    import shutil

    from ward import pg_auth

    psql = shutil.which("psql")
    if psql is None:
        raise WardError("psql is not installed (apt-get install postgresql-client)")
    argv, env = pg_auth.psql_command(settings, superuser=args.superuser)
    extra = args.psql_args[1:] if args.psql_args[:1] == ["--"] else args.psql_args
    if args.command:
        extra = ["-c", args.command, *extra]
    os.execve(psql, [psql, *argv[1:], *extra], {**os.environ, **env})
    return 0  # not reached


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, health, heartbeats, probes

    if args.forget:
        with db.connect(settings, autocommit=True) as conn:
            gone = heartbeats.forget(conn, args.forget)
        print(f"forgot {args.forget}" if gone else f"no heartbeat of {args.forget}")
        return 0 if gone else 1
    checked = probes.check(settings)
    for line in health.status_lines(checked):
        print(line)
    return 1 if checked.failing else 0


# ---------------------------------------------------------------- devices


def _sync_broker(settings: Settings, conn, device_id: str) -> None:
    from ward import broker

    if not broker.manages_users(settings):
        print(
            "note: the broker is external (VWARD_MQTT_EXTERNAL): give it this device's "
            "credentials yourself",
            file=sys.stderr,
        )
        return
    broker.sync_users(settings, conn, new=[device_id])


def _cmd_device_add(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from ward import db, devices, times

    now = datetime.now(UTC)
    start = now
    if args.valid_from is not None:
        start = times.backdated(
            times.parse_time(args.valid_from, now), now, what="--from",
            max_future=timedelta(seconds=settings.max_future_seconds),
            max_age=timedelta(days=settings.max_age_days))
    with db.connect(settings) as conn:
        new = devices.NewDevice(args.device_id, args.patient, args.ward, args.kind)
        passwords = devices.register_devices(conn, [new], valid_from=start, now=now)
        if args.source:
            from ward import flow_store

            flow_store.record_source(conn, args.patient, args.source)
        refused = devices.refused_unassigned(conn, args.device_id, start)
        _sync_broker(settings, conn, args.device_id)
    topic = readings_topic(args.device_id)
    since = f" from {times.iso(start)}" if start < now else ""
    print(f"device {args.device_id} assigned to patient {args.patient} on ward {args.ward}{since}")
    if refused:
        print(
            f"note: {refused} message(s) it sent since {times.iso(start)} were refused before"
            " this assignment (unassigned_device) and stay refused in rejected_messages:"
            " the device must send them again"
        )
    for line in _device_connection(settings, args.device_id, topic):
        print(line)
    print(passwords[args.device_id])
    return 0


def _device_connection(settings: Settings, device_id: str, topic: str) -> list[str]:
    """What a device needs to connect: at home, over TLS (the plain port
    listens on loopback only, for the ward's own processes)."""
    from ward import tls
    from ward.broker_names import RABBITMQ

    versions = "3.1.1" if settings.broker == RABBITMQ else "5 or 3.1.1"
    return [
        f"MQTT over TLS {settings.mqtt_host}:{settings.mqtt_tls_port}, CA certificate"
        f" {tls.ca_file(settings)} (MQTT {versions}, TLS 1.2 or later)",
        f"client id {device_id}, user {device_id}, publish to {topic}",
        f"(plain MQTT {settings.mqtt_host}:{settings.mqtt_port} on this host only)",
    ]


def _cmd_device_list(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, devices

    with db.connect(settings) as conn:
        rows = devices.list_devices(conn)
    now = datetime.now(UTC)
    print(f"{'DEVICE':<28} {'KIND':<12} {'PATIENT':<16} {'WARD':<10} {'LAST SEEN':<20} BATTERY")
    for r in rows:
        seen = _ago(now, r.last_seen) if r.last_seen else "never"
        battery = f"{r.battery:.0f} %" if r.battery is not None else "-"
        state = "" if r.online is None else ("online" if r.online else "OFFLINE")
        print(
            f"{r.device_id:<28} {r.kind:<12} {r.patient_id or '(unassigned)':<16} "
            f"{r.ward_id or '-':<10} {seen:<20} {battery} {state}"
        )
    print(f"{len(rows)} devices")
    return 0


def _cmd_device_unassign(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, devices

    with db.connect(settings) as conn:
        ok = devices.unassign_device(conn, args.device_id)
    print(
        f"device {args.device_id} unassigned" if ok else f"device {args.device_id} was not assigned"
    )
    return 0 if ok else 1


def _ago(now: datetime, then: datetime) -> str:
    from ward import durations

    if then > now:
        return f"{durations.text(then - now, finest='min')} ahead"
    return f"{durations.text(now - then, finest='min')} ago"


# ---------------------------------------------------------------- stages


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.service import run

    return run(settings, retire=args.retire)


def _cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    # Only the bench asked for is imported: the web bench alone loads Dash.
    match args.what:
        case "ingest":
            from benchmarks import ingest as bench
        case "scoring":
            from benchmarks import scoring as bench
        case "simulate":
            from benchmarks import simulate as bench
        case "web":
            from benchmarks import web as bench
        case "durability":
            from benchmarks import durability as bench
        case "realtime":
            from benchmarks import realtime as bench
        case "partition":
            from benchmarks import partition as bench
        case _:
            raise WardError(f"no bench {args.what!r}")
    return bench.main(args, settings)


def _patient_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: patient counts such as 100,300") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every load needs at least 1 patient")
    return counts


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vward", description="The virtual ward.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_service_commands(sub)
    _add_device_commands(sub)
    _add_ingest_and_bench(sub)
    rota_commands.register(sub)
    team_commands.register(sub)
    protocol_commands.register(patient_commands.register_ward(flow_commands.register(sub)))
    for register in _stage_commands():
        register(sub)
    return p


Subcommands = argparse._SubParsersAction


def _add_service_commands(sub: Subcommands) -> None:
    up = sub.add_parser(
        "up", help="start PostgreSQL+TimescaleDB and the broker (RabbitMQ, or Mosquitto with"
        " VWARD_BROKER=mqtt), apply migrations, sync the broker's users"
    )
    up.add_argument("--nodes", type=int, choices=range(1, 10), metavar="N",
                    help="RabbitMQ nodes to run on this host as one cluster"
                    " (default VWARD_BROKER_NODES)")
    up.set_defaults(func=_cmd_up)
    sub.add_parser("down", help="stop the services `up` started").set_defaults(func=_cmd_down)
    c = sub.add_parser("config", help="print the effective settings as KEY=VALUE")
    c.add_argument("--show-secrets", action="store_true",
                   help="show passwords too (and the password in VWARD_DATABASE_URL)")
    c.set_defaults(func=_cmd_config)
    q = sub.add_parser(
        "psql", help="psql on the ward's database, as the role the ward's processes use"
        " (password from VWARD_HOME/secrets, never on the command line)")
    q.add_argument("--superuser", action="store_true",
                   help="as the superuser postgres (the PostgreSQL `vward up` runs)")
    q.add_argument("-c", "--command", help="run this SQL and exit")
    q.add_argument("psql_args", nargs=argparse.REMAINDER, metavar="-- PSQL_ARGS",
                   help="more arguments for psql, after --")
    q.set_defaults(func=_cmd_psql)
    st = sub.add_parser(
        "status",
        help="database, broker, alerts engines and ingest workers, one line each;"
        " exits 1 when alerting has stopped or the database is unreachable",
    )
    st.add_argument(
        "--forget",
        metavar="ID",
        help="remove the heartbeat of an engine or worker retired for good",
    )
    st.set_defaults(func=_cmd_status)


def _add_device_commands(sub: Subcommands) -> None:
    dev = sub.add_parser("device", help="register and list devices").add_subparsers(
        dest="device_command", required=True, metavar="ACTION"
    )
    a = dev.add_parser(
        "add",
        help="register a device and assign it to a patient; "
        "prints its MQTT password on the last line",
    )
    a.add_argument("device_id")
    a.add_argument("--patient", required=True)
    a.add_argument("--ward", default="ward-1")
    a.add_argument(
        "--kind", default="generic", help="oximeter, bp_cuff, thermometer, patch, tablet or generic"
    )
    a.add_argument(
        "--from",
        dest="valid_from",
        metavar="TIME",
        help="the assignment began then (the device was handed out before it was registered):"
        " ISO 8601 (naive = UTC) or an age such as 90m, 2h, 1d; a new patient is admitted then",
    )
    a.add_argument("--source", choices=["step-up", "step-down"],
                   help="where a new patient came from: step-up (home, the community) or"
                   " step-down (a hospital bed); for the ward's flow figures")
    a.set_defaults(func=_cmd_device_add)
    dev.add_parser("list", help="devices, patients and last-seen times").set_defaults(
        func=_cmd_device_list
    )
    u = dev.add_parser("unassign", help="end a device's assignment to its patient")
    u.add_argument("device_id")
    u.set_defaults(func=_cmd_device_unassign)


def _add_ingest_and_bench(sub: Subcommands) -> None:
    i = sub.add_parser("ingest", help="run an ingest worker (the broker → TimescaleDB)")
    i.add_argument(
        "--retire",
        action="store_true",
        help="remove this worker for good: with the MQTT v5 option drain its queued"
        " messages, leave the shared subscription and end its session; with RabbitMQ"
        " (nothing waits for a worker there) stop consuming and forget its heartbeat",
    )
    i.set_defaults(func=_cmd_ingest)

    b = sub.add_parser("bench", help="benchmarks that print figures")
    b.add_argument("what", choices=["ingest", "scoring", "simulate", "web", "durability",
                                    "realtime", "partition"])
    b.add_argument("--quick", action="store_true", help="a smaller run, for a smoke test")
    b.add_argument("--loads", type=_patient_counts, metavar="N,N,...",
                   help="realtime: patients per load, each a set a second"
                   " (default 100,300,1000,3000)")
    b.add_argument("--seconds", type=float, help="realtime: seconds each load lasts (default 20)")
    b.add_argument("--history-days", type=float,
                   help="realtime: days of history every patient has first (default 3)")
    b.add_argument("--broker", choices=["rabbitmq", "mqtt"],
                   help="realtime: the broker of the bench's own services (default VWARD_BROKER)")
    b.add_argument("--record", action="store_true",
                   help="realtime: append this run to benchmarks/results.jsonl (figures that go"
                   " into the README)")
    b.add_argument("--patients", type=int, metavar="N",
                   help="partition: patients, each a set a second (default 1500)")
    b.set_defaults(func=_cmd_bench)


def _stage_commands() -> list[Callable[[Subcommands], None]]:
    """The stages' own subcommands (alerts, simulate, web, user ...).  The stages ship
    in this one distribution, so they are imported directly: a missing one is a broken
    install, said as such.  This module is the composition root, the one module of
    ward/ that imports the stages (the exception the import-linter contract in
    pyproject.toml names)."""
    from alerts import commands as alerts_commands
    from api import commands as api_commands
    from notify import commands as notify_commands
    from simulators import commands as simulators_commands

    return [partial(alerts_commands.register, patient_actions=[api_commands.register_patient]),
            simulators_commands.register, api_commands.register, notify_commands.register]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        settings = Settings()
        return args.func(args, settings)
    except WardError as exc:
        print(f"vward: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
