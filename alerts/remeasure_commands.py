"""`vward remeasure set|show|list`: a ward's re-measure protocol (issue 13, docs/alerts.md
"Re-measure before a spot-check alarm") and the re-measurements asked, with what
came of each.  The decisions are alerts/remeasure.py's; the rows remeasure_store's."""

from __future__ import annotations

import argparse
from datetime import timedelta

from alerts import remeasure_store
from alerts.remeasure import Protocol
from ward import durations
from ward.errors import NotFound
from ward.settings import Settings

MAX_DEADLINE = timedelta(minutes=15)  # the urgent alert's own escalation (migration 016)


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("remeasure", help="re-measure before a spot-check alarm: a ward's"
                                         " protocol and the re-measurements asked"
                       ).add_subparsers(dest="remeasure_command", required=True,
                                        metavar="ACTION")
    s = r.add_parser("set", help="whether a ward asks for re-measurements, and how long an"
                                 " urgent alert waits for the answer")
    s.add_argument("ward_id", metavar="WARD")
    s.add_argument("--allowed", required=True, choices=["yes", "no"])
    s.add_argument("--deadline", type=_deadline, default=None, metavar="LENGTH",
                   help="such as 10m or 90s (default: unchanged; 10 min for a new ward;"
                        " at most 15 min)")
    s.set_defaults(func=_cmd_set)
    sh = r.add_parser("show", help="a ward's protocol")
    sh.add_argument("ward_id", metavar="WARD")
    sh.set_defaults(func=_cmd_show)
    ls = r.add_parser("list", help="re-measurements asked, latest first, with their outcome")
    ls.add_argument("--ward", default=None)
    ls.add_argument("--patient", default=None)
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=_cmd_list)


def _deadline(text: str) -> timedelta:
    try:
        length = durations.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if length > MAX_DEADLINE:
        raise argparse.ArgumentTypeError(
            f"{text!r}: at most 15 min, the urgent alert's own escalation time")
    return length


def _cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db

    with db.connect(settings, autocommit=True) as conn:
        found = remeasure_store.set_protocol(conn, args.ward_id, args.allowed == "yes",
                                             args.deadline)
    if found is None:
        raise NotFound(f"no ward {args.ward_id}")
    print(_protocol_line(args.ward_id, found))
    return 0


def _cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db

    with db.connect(settings) as conn:
        found = remeasure_store.protocols(conn, [args.ward_id]).get(args.ward_id)
    if found is None:
        raise NotFound(f"no ward {args.ward_id}")
    print(_protocol_line(args.ward_id, found))
    return 0


def _protocol_line(ward: str, p: Protocol) -> str:
    wait = durations.text(p.deadline, parts=durations.EXACT)
    if p.allowed:
        return (f"ward {ward}: an urgent NEWS2 alert from one spot check waits up to {wait}"
                " for its device to measure again")
    return f"ward {ward}: no re-measurements; urgent alerts open at once (deadline {wait})"


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db

    with db.connect(settings) as conn:
        rows = remeasure_store.history(conn, ward=args.ward, patient=args.patient,
                                       limit=args.limit)
    if not rows:
        print("no re-measurements asked")
        return 0
    for r in rows:
        outcome = r.outcome or "waiting"
        print(f"{r.request_id:>6} {r.asked_at:%Y-%m-%d %H:%M:%S}Z {r.ward_id} {r.patient_id}"
              f" {r.device_id} [{', '.join(r.types)}] NEWS2 {r.score_before}: {outcome}"
              + (f" — {r.answer}" if r.answer else ""))
    return 0
