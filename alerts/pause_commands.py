"""`vward patient pause|unpause|pauses`: quiet hours without quiet patients
(issue 13).  A pause stops the notifying of one alert kind for one patient, for
at most 24 h, with a reason; the alert still opens and shows.  The rules are
ward/pauses.py's, the records ward/pause_records.py's (as the API and the
dashboard use them)."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime, timedelta

from ward import durations
from ward.pauses import MAX_PAUSE, PAUSABLE_KINDS, Pause
from ward.settings import Settings


def register(patient: argparse._SubParsersAction) -> None:
    """The pause subcommands, under `vward patient`."""
    p = patient.add_parser(
        "pause", help="stop notifying one alert kind for a patient for a while (at most 24 h;"
                      " never an emergency): the alert still opens and shows")
    p.add_argument("patient_id", metavar="PATIENT")
    # No argparse choices: ward/pauses.validate refuses another kind with the reason
    # ("an emergency is never paused"), where argparse would only list the choices.
    p.add_argument("--kind", required=True, metavar="KIND",
                   help=f"the alert kind: {', '.join(PAUSABLE_KINDS)}")
    p.add_argument("--for", dest="length", required=True, type=_length, metavar="LENGTH",
                   help=f"how long, such as 8h or 90m (at most {_hours(MAX_PAUSE)})")
    p.add_argument("--reason", required=True, help="the clinical reason, kept in the record")
    _by(p)
    p.set_defaults(func=_cmd_pause)
    u = patient.add_parser("unpause", help="end a patient's pauses now (one kind, or all)")
    u.add_argument("patient_id", metavar="PATIENT")
    u.add_argument("--kind", default=None, help="only this kind (default: every pause)")
    u.add_argument("--reason", default="", help="why it ends early")
    _by(u)
    u.set_defaults(func=_cmd_unpause)
    ls = patient.add_parser("pauses", help="a patient's pauses, latest first: who, why, until")
    ls.add_argument("patient_id", metavar="PATIENT")
    ls.set_defaults(func=_cmd_pauses)


def _by(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", default=None,
                   help="the clinician acting (default: the account running vward)")


def _length(text: str) -> timedelta:
    try:
        return durations.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _hours(t: timedelta) -> str:
    return f"{t.total_seconds() / 3600:g} h"


def _who(args: argparse.Namespace) -> str:
    return args.by if args.by is not None else getpass.getuser()


def _cmd_pause(args: argparse.Namespace, settings: Settings) -> int:
    from ward import access, db, pause_records

    with db.connect(settings, autocommit=True) as conn:
        access.check_acting(conn, _who(args), args.patient_id)
        row = pause_records.set_pause(conn, args.patient_id, args.kind, args.length,
                                      by=_who(args), reason=args.reason,
                                      now=datetime.now(UTC))
    print(f"patient {row.patient_id}: {row.kind} not notified until {_at(row.ends_at)}"
          f" (pause {row.pause_id}, by {row.created_by}); the alert still opens and shows;"
          " an emergency is always notified")
    return 0


def _cmd_unpause(args: argparse.Namespace, settings: Settings) -> int:
    from ward import access, db, pause_records

    with db.connect(settings, autocommit=True) as conn:
        access.check_acting(conn, _who(args), args.patient_id)
        ended = pause_records.end_kind(conn, args.patient_id, args.kind, by=_who(args),
                                       now=datetime.now(UTC), reason=args.reason)
    for row in ended:
        print(f"patient {row.patient_id}: {row.kind} notified again (pause {row.pause_id}"
              f" ended by {row.ended_by})")
    return 0


def _cmd_pauses(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, pause_records

    now = datetime.now(UTC)
    with db.connect(settings) as conn:
        rows = pause_records.history(conn, args.patient_id)
    for row in rows:
        print(_line(row, now))
    print(f"{len(rows)} pauses")
    return 0


def _line(row: Pause, now: datetime) -> str:
    state = "in force" if row.in_force(now) else "ended" if row.ended_at else "lapsed"
    end = (f", ended {_at(row.ended_at)} by {row.ended_by}"
           + (f" ({row.end_reason})" if row.end_reason else "")) if row.ended_at else ""
    return (f"{row.pause_id:>6} {row.kind:<15} {state:<8} {_at(row.starts_at)} → "
            f"{_at(row.ends_at)} by {row.created_by}: {row.reason}{end}")


def _at(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M}Z"
