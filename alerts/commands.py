"""The alerts stage's subcommands of `vward`: run the engine, rescore, and the
clinician's actions (through ward.clinical, as the API and dashboard do)."""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime

from alerts import pause_commands, remeasure_commands
from alerts.errors import CommandError
from ward import flow_commands, patient_commands, times
from ward.errors import WardError
from ward.settings import Settings
from ward.severity import SEVERITIES

# `patient` actions of the stages above this one, added to the group made here
# (ward/cli.py passes api's `vward patient discharge`).
PatientActions = Sequence[Callable[[argparse._SubParsersAction], None]]


def register(sub: argparse._SubParsersAction, *, patient_actions: PatientActions = ()) -> None:
    a = sub.add_parser("alerts", help="run the alerts engine (score, alert, publish on MQTT)")
    a.set_defaults(func=_cmd_alerts)

    r = sub.add_parser("rescore", help="recompute stored scores from the raw observations")
    r.add_argument("--since", type=_time_arg, default=None,
                   help="from this time (ISO 8601, UTC unless it says; or 6h, 2d ago);"
                        " default: all history")
    r.add_argument("--patient", action="append", default=None, metavar="ID",
                   help="only this patient (repeatable); default: every patient")
    r.add_argument("--chunk", type=int, default=None, help="patients per transaction")
    r.add_argument("--jobs", type=int, default=2,
                   help="database connections rescoring at once (default 2: one writes while"
                        " the other reads and scores)")
    r.set_defaults(func=_cmd_rescore)

    alert = sub.add_parser("alert", help="list, acknowledge and resolve alerts").add_subparsers(
        dest="alert_command", required=True, metavar="ACTION")
    ls = alert.add_parser("list", help="live alerts, most severe first")
    ls.add_argument("--ward", default=None)
    ls.add_argument("--all", action="store_true", help="resolved alerts too (latest 500)")
    ls.set_defaults(func=_cmd_alert_list)
    ack = alert.add_parser("ack", help="acknowledge an alert: you have seen it and acted")
    ack.add_argument("alert_id", type=int, metavar="ID")
    ack.add_argument("--by", required=True, help="who acknowledges (a clinician's name)")
    ack.add_argument("--note", default="")
    ack.add_argument("--action", default="", help="what was done")
    ack.add_argument("--changed-management", choices=["yes", "no"], default=None,
                     help="did the alert change the patient's management?")
    ack.set_defaults(func=_cmd_alert_ack)
    res = alert.add_parser("resolve", help="close an alert by hand")
    res.add_argument("alert_id", type=int, metavar="ID")
    res.add_argument("--by", required=True)
    res.add_argument("--note", default="", help="why (required for urgent and emergency)")
    res.set_defaults(func=_cmd_alert_resolve)

    patient = sub.add_parser("patient", help="a patient's scoring settings and"
                                                " alert pauses").add_subparsers(
        dest="patient_command", required=True, metavar="ACTION")
    sc = patient.add_parser("scale", help="SpO2 scale 1, or 2 for confirmed hypercapnic"
                                          " respiratory failure")
    sc.add_argument("patient_id", metavar="PATIENT")
    sc.add_argument("scale", type=int, choices=[1, 2])
    _setting_args(sc)
    sc.set_defaults(func=_cmd_patient_scale)
    acc = patient.add_parser("accept", help="a range of one parameter that is this patient's"
                                            " normal: its 1s and 2s count 0 in the adjusted"
                                            " score (never a 3, never SpO2)")
    acc.add_argument("patient_id", metavar="PATIENT")
    acc.add_argument("parameter", metavar="PARAM")
    acc.add_argument("low", type=_number)
    acc.add_argument("high", type=_number)
    _setting_args(acc)
    acc.set_defaults(func=_cmd_patient_accept)
    pause_commands.register(patient)
    flow_commands.register_patient(patient)
    patient_commands.register_patient(patient)
    for add in patient_actions:
        add(patient)
    remeasure_commands.register(sub)


def _setting_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", required=True, help="the clinician setting it")
    p.add_argument("--reason", required=True, help="the clinical reason")
    p.add_argument("--until", type=_time_arg, default=None,
                   help="review date (ISO 8601), at most and by default 14 days ahead; the"
                        " setting lapses then with a review_due alert")


def _number(text: str) -> float:
    """A finite number: 'nan' or 'inf' would make a range that hides every value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _time_arg(text: str) -> datetime:
    """ISO 8601 or an age such as 6h or 2d, as every command reads a time (ward/times.py)."""
    try:
        return times.parse_time(text, datetime.now(UTC))
    except WardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# --- the engine --------------------------------------------------------------------------


def _cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.service import serve

    return serve(settings)


def _cmd_rescore(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.engine import Engine
    from alerts.rescore import rescore
    from ward import db

    since = args.since or datetime(1970, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    chunk = args.chunk or settings.alerts_batch_patients
    if chunk < 1:
        raise CommandError("--chunk must be at least 1")
    if args.jobs < 1:
        raise CommandError("--jobs must be at least 1")
    started = time.perf_counter()
    with ExitStack() as stack:
        conns = [stack.enter_context(db.connect(settings, autocommit=True))
                 for _ in range(args.jobs)]
        engines = [Engine.from_settings(c, settings) for c in conns]
        for e in engines:
            e.engine_id = "vward rescore"
        ids = [r[0] for r in conns[0].execute(
            "SELECT patient_id FROM patients WHERE %s::text[] IS NULL OR patient_id = ANY(%s)"
            " ORDER BY patient_id", (args.patient, args.patient)).fetchall()]
        if args.patient:
            unknown = sorted(set(args.patient) - set(ids))
            if unknown:
                raise CommandError(f"no patient {', '.join(unknown)}")
        failed = rescore(engines, ids, since, now, chunk=chunk)
    c = sum((e.counts for e in engines), Counter())
    events = sum(v for k, v in c.items() if k.startswith("event:"))
    print(f"rescored {c['patients']} patients from {since:%Y-%m-%d %H:%M}Z:"
          f" {c['observations']:,} observations → {c['scores']:,} scores,"
          f" {events} alert events, in {time.perf_counter() - started:.1f} s")
    if failed:
        raise CommandError(f"{len(failed)} patients could not be scored (see the log):"
                           f" {', '.join(failed[:10])}{' …' if len(failed) > 10 else ''}")
    return 0


# --- clinicians' actions -----------------------------------------------------------------


def _cmd_alert_list(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db

    where, params = [], []
    if not args.all:
        where.append("state <> 'resolved'")
    if args.ward:
        where.append("ward_id = %s")
        params.append(args.ward)
    sql = ("SELECT alert_id, ward_id, patient_id, kind, device_id, severity, state, opened_at,"
           " reason FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY state = 'resolved', array_position(%s::text[], severity) DESC NULLS LAST,"
           " opened_at DESC LIMIT 500")
    with db.connect(settings) as conn:
        rows = conn.execute(sql, [*params, list(SEVERITIES)]).fetchall()
    print(f"{'ID':>7} {'WARD':<12} {'PATIENT':<18} {'KIND':<15} {'SEVERITY':<10}"
          f" {'STATE':<13} {'OPENED (UTC)':<17} REASON")
    for alert_id, ward, patient, kind, device, severity, state, opened, reason in rows:
        what = f"{kind}:{device}" if device else kind
        print(f"{alert_id:>7} {ward:<12} {patient:<18} {what:<15} {severity:<10} {state:<13}"
              f" {opened.astimezone(UTC):%Y-%m-%d %H:%M} {reason}")
    print(f"{len(rows)} alerts")
    return 0


def _cmd_alert_ack(args: argparse.Namespace, settings: Settings) -> int:
    from alerts import clinician
    from ward import access, db

    changed = None if args.changed_management is None else args.changed_management == "yes"
    with db.connect(settings, autocommit=True) as conn:
        access.check_acting_on_alert(conn, args.by, args.alert_id)
        row = clinician.acknowledge(conn, args.alert_id, by=args.by, now=datetime.now(UTC),
                                    via="cli", note=args.note, action=args.action,
                                    changed_management=changed)
    print(f"alert {row.alert_id} ({row.kind}, patient {row.patient_id}) acknowledged by"
          f" {row.acknowledged_by}")
    return 0


def _cmd_alert_resolve(args: argparse.Namespace, settings: Settings) -> int:
    from alerts import clinician
    from ward import access, db

    with db.connect(settings, autocommit=True) as conn:
        access.check_acting_on_alert(conn, args.by, args.alert_id)
        row = clinician.resolve(conn, args.alert_id, by=args.by, now=datetime.now(UTC),
                                note=args.note)
    print(f"alert {row.alert_id} ({row.kind}, patient {row.patient_id}) resolved by {args.by}")
    return 0


def _cmd_patient_scale(args: argparse.Namespace, settings: Settings) -> int:
    from ward import access, clinical, db

    with db.connect(settings, autocommit=True) as conn:
        access.check_acting(conn, args.by, args.patient_id)
        row = clinical.set_spo2_scale(conn, args.patient_id, args.scale, by=args.by,
                                      reason=args.reason, now=datetime.now(UTC),
                                      until=args.until)
    print(f"patient {row.patient_id}: SpO2 scale {row.spo2_scale} from"
          f" {_at(row.valid_from)}{_review(row.valid_to)}, set by {row.set_by}")
    return 0


def _cmd_patient_accept(args: argparse.Namespace, settings: Settings) -> int:
    from ward import access, clinical, db

    with db.connect(settings, autocommit=True) as conn:
        access.check_acting(conn, args.by, args.patient_id)
        row = clinical.set_accepted_range(conn, args.patient_id, args.parameter, args.low,
                                          args.high, by=args.by, reason=args.reason,
                                          now=datetime.now(UTC), until=args.until)
    print(f"patient {row.patient_id}: {row.parameter} {row.low:g}–{row.high:g} accepted (its 1s"
          f" and 2s count 0 in the adjusted score) from {_at(row.valid_from)}"
          f"{_review(row.valid_to)}, set by {row.set_by}")
    return 0


def _at(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M}Z"


def _review(t: datetime | None) -> str:
    return f" until its review {_at(t)}" if t else ""
