"""`vward simulate-protocol`: a protocol ward's simulated patients
(simulators/protocol_sim.py) on their ward, each with its one device (an
oximeter, a scale), publishing through the broker in simulated time.  The ward
is made running the protocol (ward/protocol_store.py, as `vward ward add`),
patients and devices as `vward device add` makes them.  Readings are never
from the future: simulated time stops at the present and the run waits there
until the next reading is due or --duration is up."""

from __future__ import annotations

import argparse
import signal
import time
from datetime import UTC, datetime, timedelta

from simulators.protocol_sim import PROTOCOLS, Protocol, Schedule, schedule
from ward.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate-protocol", help="simulate a COVID-19 oximetry or heart-failure ward:"
        " half its patients deteriorate by the course the protocol watches for")
    p.add_argument("--protocol", required=True, choices=tuple(PROTOCOLS))
    p.add_argument("--ward", required=True, metavar="W")
    p.add_argument("--patients", type=int, default=4, metavar="N")
    p.add_argument("--speed", type=float, default=60.0, metavar="X",
                   help="simulated seconds per real second (default: 60)")
    p.add_argument("--hours-back", type=float, default=None, metavar="H",
                   help="the simulated start, this many hours ago (default: 1.5 reading"
                   " intervals of the pathway, so the first readings are there at once)")
    p.add_argument("--every", type=float, default=None, metavar="S",
                   help="simulated seconds between readings (default: the pathway's:"
                   " 8 h oximetry, 24 h weight)")
    p.add_argument("--onset-hours", type=float, default=None, metavar="H",
                   help="deterioration begins this long after the start (default: the"
                   " first interval)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after this many real seconds (default: until stopped)")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=_cmd_simulate_protocol)


def _cmd_simulate_protocol(args: argparse.Namespace, settings: Settings) -> int:
    proto = PROTOCOLS[args.protocol]
    every = args.every or proto.interval_s
    now = datetime.now(UTC).replace(microsecond=0)
    back = timedelta(hours=args.hours_back) if args.hours_back is not None \
        else timedelta(seconds=1.5 * every)
    start = now - back
    onset = args.onset_hours * 3600 if args.onset_hours is not None else every
    horizon = back.total_seconds() + (args.duration or 7 * 86400) * args.speed
    plan = schedule(args.protocol, args.patients, duration_s=horizon, onset_s=onset,
                    interval_s=every, seed=args.seed)
    ids = [(f"{args.ward}-p{i + 1}", f"{args.ward}-{proto.device_kind}{i + 1}")
           for i in range(args.patients)]
    passwords = _enrol(settings, args.ward, proto, ids, start)
    for (patient, device), c in zip(ids, plan.course, strict=True):
        print(f"  {patient} ({proto.courses[c].name}, {proto.name}), device {device}",
              flush=True)
    sent = _run(settings, proto, plan, [(d, passwords[d]) for _, d in ids], start,
                speed=args.speed, duration=args.duration)
    print(f"sent {sent} reading sets of {len(ids)} patients on ward {args.ward}"
          f" ({proto.name})", flush=True)
    return 0


def _enrol(settings: Settings, ward: str, proto: Protocol, ids: list[tuple[str, str]],
           start: datetime) -> dict[str, str]:
    """The ward running the protocol, each patient with its device (as `vward ward add`
    and `vward device add`); the broker's credentials; each device's password."""
    from simulators.errors import SimulatorError
    from ward import broker, db, devices, protocol_store
    from ward.errors import Conflict

    with db.connect(settings) as conn:
        protocol_store.add_ward(conn, ward, proto.name, by="vward simulate-protocol")
        # A rerun on the same ward: the devices get new passwords and stay with their
        # patients (ward.devices.register_devices); readings sent again are duplicates.
        new = [devices.NewDevice(d, p, ward, proto.device_kind) for p, d in ids]
        try:
            passwords = devices.register_devices(conn, new,
                                                 valid_from=start - timedelta(hours=1))
        except Conflict as exc:
            raise SimulatorError(f"{exc}: run on another --ward") from None
        hashes = devices.password_hashes(conn)
        conn.commit()
    if not settings.mqtt_external:
        broker.write_credentials(settings, hashes)
    return passwords


def _run(settings: Settings, proto: Protocol, plan: Schedule, devices: list[tuple[str, str]],
         start: datetime, *, speed: float, duration: float | None) -> int:
    """Publish the schedule's readings as simulated time reaches them (never beyond the
    present); until the schedule ends, ``duration`` real seconds pass, or SIGTERM /
    Ctrl-C.  Returns the reading sets sent."""
    from simulators.device_client import DeviceClient
    from ward.broker_names import mqtt_protocol
    from ward.tls import mqtt_endpoint

    where = mqtt_endpoint(settings, use_tls=None)
    clients = [_connect(settings, lambda d=d, pw=pw: DeviceClient(
        host=where.host, port=where.port, device_id=d, password=pw,
        protocol=mqtt_protocol(settings), tls_ca=where.ca_file)) for d, pw in devices]
    stop = {"now": False}
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    began, sent, column = time.monotonic(), 0, 0
    first = proto.courses[0]
    try:
        while not stop["now"] and column < len(plan.times_s):
            elapsed = time.monotonic() - began
            if duration is not None and elapsed > duration:
                break
            sim_now = min(start + timedelta(seconds=elapsed * speed), datetime.now(UTC))
            while column < len(plan.times_s) and \
                    start + timedelta(seconds=float(plan.times_s[column])) <= sim_now:
                at = start + timedelta(seconds=float(plan.times_s[column]))
                stamp = at.isoformat().replace("+00:00", "Z")
                for i, client in enumerate(clients):
                    readings = [{"time": stamp, "type": first.reading,
                                 "value": float(plan.values[i, column])}]
                    if first.also:
                        readings.append({"time": stamp, "type": first.also,
                                         "value": float(plan.also[i, column])})
                    client.send_readings(readings, message_id=f"{client.device_id}-{stamp}")
                    sent += 1
                column += 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for client in clients:
            client.close()
    return sent


def _connect(settings: Settings, new_client, tries: int = 4):
    """Connect a device; refused, give the broker the database's users again and retry:
    `make demo` enrols three simulated wards at once, and a broker sync that read the
    users before this ward's devices were committed would leave them out."""
    from simulators.device_client import DeviceError
    from ward import broker, db, devices

    for attempt in range(tries):
        try:
            return new_client().connect()  # a refused client is closed: a new one
        except DeviceError:
            if attempt == tries - 1:
                raise
            time.sleep(1.0 + attempt)
            if not settings.mqtt_external:
                with db.connect(settings) as conn:
                    broker.write_credentials(settings, devices.password_hashes(conn))
    raise AssertionError("unreachable")
