"""`vward ward add W --protocol news2|covid-oximetry|heart-failure [--name NAME]
[--beds N]`: a ward and the protocol it runs (issue 14, item 3).  Joins the
`ward` group of ward/flow_commands.py; records through ward/protocol_store.py
(and the beds through ward/flow_store.py, as `vward ward capacity` does)."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime

from ward.protocols import NAMES, PROTOCOLS
from ward.settings import Settings


def register(ward: argparse._SubParsersAction) -> None:
    a = ward.add_parser("add", help="create a ward running a protocol (or set the protocol"
                        " of one that exists): " + "; ".join(
                            f"{p.name} ({p.title})" for p in PROTOCOLS.values()))
    a.add_argument("ward")
    a.add_argument("--protocol", choices=NAMES, default=None,
                   help="what the ward watches for beyond NEWS2 (NEWS2 applies on every ward);"
                   " a new ward without it runs news2, an existing one keeps its own")
    a.add_argument("--name", default=None, help="the ward's name as people read it")
    a.add_argument("--beds", type=int, default=None,
                   help="the beds it runs from today (vward ward capacity)")
    a.add_argument("--by", default=None, help="who sets it, kept with a change of protocol"
                   " (default: your login)")
    a.set_defaults(func=_cmd_add)


def _cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, flow, flow_store, protocol_store
    from ward.rota import load_zone

    now = datetime.now(UTC)
    with db.connect(settings, autocommit=True) as conn:
        created = protocol_store.add_ward(conn, args.ward, args.protocol, name=args.name,
                                          by=args.by or getpass.getuser())
        runs = protocol_store.protocol_of(conn, args.ward)
        print(f"ward {args.ward} {'created' if created else 'exists'}: runs"
              f" {runs} ({PROTOCOLS[runs].title})")
        if args.beds is not None:
            c = flow_store.set_capacity(
                conn, args.ward, args.beds, valid_from=flow.local_day(now, load_zone(
                    conn, args.ward)), by=f"{getpass.getuser()} (vward ward add)",
                reason="vward ward add", now=now)
            print(f"ward {args.ward}: {c.beds} beds from {c.valid_from}")
    return 0
