"""`vward ward capacity|flow` and `vward patient source|readmitted`: capacity
and flow (issue 14, item 5).  Loaded by ward/cli.py (the `ward` group) and
alerts/commands.py (under `vward patient`); records through ward/flow_store.py,
as the API does, decides nothing itself (ward/flow.py)."""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from datetime import UTC, date, datetime

from ward import flow
from ward.settings import Settings


def register(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `vward ward` group; returned so that other ward actions join it."""
    w = sub.add_parser("ward", help="a ward's capacity and its monthly flow figures"
                       ).add_subparsers(dest="ward_command", required=True, metavar="ACTION")
    c = w.add_parser("capacity", help="show the beds a ward runs and every change of them;"
                     " with --beds, set them (admins: kept with who and when)")
    c.add_argument("ward")
    c.add_argument("--beds", type=int, help="the ward runs this many beds ...")
    c.add_argument("--from", dest="valid_from", type=_day, metavar="DAY",
                   help="... from this day of the ward's calendar (YYYY-MM-DD; default today)")
    c.add_argument("--reason", default="", help="why, kept with the change")
    c.add_argument("--by", default=None, help="who sets it (default: your login)")
    c.set_defaults(func=_cmd_capacity)
    f = w.add_parser("flow", help="a month's flow as CSV on stdout: occupancy by day,"
                     " admissions, discharges, los, capacity")
    f.add_argument("ward")
    f.add_argument("--month", required=True, help="YYYY-MM, in the ward's time zone")
    f.add_argument("--table", choices=flow.TABLES, default="occupancy")
    f.set_defaults(func=_cmd_flow)
    return w


def register_patient(patient: argparse._SubParsersAction) -> None:
    """Under `vward patient`: where a patient came from, and a readmission."""
    s = patient.add_parser("source", help="record where an admitted patient came from:"
                           " step-up (home, the community) or step-down (a hospital bed)")
    s.add_argument("patient_id", metavar="PATIENT")
    s.add_argument("source", choices=flow.SOURCES)
    s.set_defaults(func=_cmd_source)
    r = patient.add_parser("readmitted", help="a discharged patient was admitted to hospital"
                           f" on DAY (within {flow.READMISSION_DAYS} days of the discharge)")
    r.add_argument("patient_id", metavar="PATIENT")
    r.add_argument("--on", dest="day", type=_day, required=True, metavar="DAY",
                   help="YYYY-MM-DD")
    r.add_argument("--by", required=True, help="who records it")
    r.set_defaults(func=_cmd_readmitted)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day: {text!r} (YYYY-MM-DD)") from None


def _cmd_capacity(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, flow_store
    from ward.rota import load_zone

    now = datetime.now(UTC)
    with db.connect(settings, autocommit=True) as conn:
        today = flow.local_day(now, load_zone(conn, args.ward))
        if args.beds is not None:
            by = args.by or f"{getpass.getuser()} (vward ward capacity)"
            c = flow_store.set_capacity(conn, args.ward, args.beds,
                                        valid_from=args.valid_from or today, by=by,
                                        reason=args.reason, now=now)
            print(f"ward {args.ward}: {c.beds} beds from {c.valid_from}, set by {c.set_by}")
        changes = flow_store.capacity_changes(conn, args.ward)
    for c in changes:
        print(f"{c.valid_from}  {c.beds:>6} beds  set by {c.set_by} at"
              f" {c.set_at.astimezone(UTC):%Y-%m-%d %H:%M}Z  {c.reason}".rstrip())
    beds = flow.capacity_by_day(changes, [today])[0]
    print(f"ward {args.ward} runs {beds} beds today ({today})" if beds is not None
          else f"ward {args.ward}: no capacity set (vward ward capacity {args.ward} --beds N)")
    return 0


def _cmd_flow(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, flow_store
    from ward.rota import load_zone

    with db.connect(settings, autocommit=True) as conn:
        m = flow_store.load_month(conn, args.ward, args.month, now=datetime.now(UTC))
        header, rows = flow.table(m, args.table, load_zone(conn, args.ward))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(header)
    out.writerows(rows)
    return 0


def _cmd_source(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, flow_store

    with db.connect(settings, autocommit=True) as conn:
        flow_store.record_source(conn, args.patient_id, args.source)
    print(f"patient {args.patient_id}: admitted {args.source}")
    return 0


def _cmd_readmitted(args: argparse.Namespace, settings: Settings) -> int:
    from ward import access, db, flow_store

    with db.connect(settings, autocommit=True) as conn:
        access.check_acting(conn, args.by, args.patient_id)
        flow_store.record_readmission(conn, args.patient_id, args.day, by=args.by,
                                      now=datetime.now(UTC))
    print(f"patient {args.patient_id}: readmitted to hospital on {args.day}, recorded by"
          f" {args.by}")
    return 0
