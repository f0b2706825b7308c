"""`vward rota ...`: who is on call for a ward, by tier, day and hour.
Loaded by ward/cli.py; writes through ward/rota_store.py, decides nothing
itself (ward/rota.py)."""

from __future__ import annotations

import argparse
import getpass

from ward.settings import Settings

# One character per hour in `rota show`'s week: how many are on call.
_GAP_MARK = "!"


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("rota", help="who is on call for a ward: tiers 1 (hub nurse), 2 (senior"
                       " clinician), 3 (consultant on call), by day and local hour"
                       ).add_subparsers(dest="rota_command", required=True, metavar="ACTION")
    s = r.add_parser("set", help="put a person on call in a tier: their shifts in that tier"
                     " become these (--add keeps the ones they have)")
    s.add_argument("ward")
    s.add_argument("--tier", type=int, choices=(1, 2, 3), required=True)
    s.add_argument("--user", required=True, help="a user with a contact (vward user contact)")
    s.add_argument("--days", default="mon-sun",
                   help="mon-sun (default), mon-fri, sat,sun, fri-mon ...")
    s.add_argument("--hours", default="00-24",
                   help="local wall-clock hours: 00-24 (default), 08-20; 20-08 is the night"
                   " starting on each of --days, to 08:00 the next morning")
    s.add_argument("--team", help="the team they are on call with (created when new)")
    s.add_argument("--add", action="store_true",
                   help="add these hours to the person's shifts in this tier, keeping the others")
    s.set_defaults(func=_cmd_set)
    rm = r.add_parser("remove", help="take a person off one tier of a ward's rota")
    rm.add_argument("ward")
    rm.add_argument("--tier", type=int, choices=(1, 2, 3), required=True)
    rm.add_argument("--user", required=True)
    rm.set_defaults(func=_cmd_remove)
    sh = r.add_parser("show", help="the week per tier, and every hour nobody is on call")
    sh.add_argument("ward")
    sh.set_defaults(func=_cmd_show)
    tz = r.add_parser("timezone", help="show or set the ward's timezone: the rota's hours are"
                      " its wall-clock hours (default Europe/London)")
    tz.add_argument("ward")
    tz.add_argument("zone", nargs="?", help="an IANA name such as Europe/London")
    tz.set_defaults(func=_cmd_timezone)


def _by() -> str:
    return f"{getpass.getuser()} (vward rota)"


def _cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, rota_store

    line = rota_store.Assignment(args.tier, args.user, args.days, args.hours, args.team)
    with db.connect(settings, autocommit=True) as conn:
        change = rota_store.set_person(conn, args.ward, line, by=_by(), keep=args.add)
        lines = _report(conn, args.ward)
    pieces = " and ".join(f"{s.start_hour:02d}-{s.end_hour:02d} on {_days(s.days)}"
                          for s in change.added)
    print(f"{args.user} on call for {args.ward} as tier {args.tier}: {pieces}"
          + (f" (ended {change.ended} earlier shift(s) of theirs in tier {args.tier})"
             if change.ended else ""))
    for text in lines:
        print(text)
    return 0


def _cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, rota_store

    with db.connect(settings, autocommit=True) as conn:
        ended = rota_store.remove_person(conn, args.ward, args.tier, args.user, by=_by())
        lines = _report(conn, args.ward)
    if not ended:
        print(f"{args.user} was not on tier {args.tier} of {args.ward}'s rota")
        return 1
    print(f"{args.user} taken off tier {args.tier} of {args.ward} ({ended} shift(s) ended)")
    for text in lines:
        print(text)
    return 0


def _cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, rota, rota_store

    with db.connect(settings, autocommit=True) as conn:
        zone = rota_store.ward_zone_name(conn, args.ward)
        rows = rota_store.rows(conn, args.ward)
    shifts = [r.shift for r in rows]
    print(f"rota of {args.ward} (hours are {zone} wall-clock; '{_GAP_MARK}' = nobody on call,"
          " a digit = how many)")
    for tier in rota.TIERS:
        print(f"\ntier {tier} ({rota.TIER_NAMES[tier]})")
        mine = [r for r in rows if r.tier == tier]
        for r in mine:
            team = f"  team {r.team}" if r.team else ""
            print(f"  {r.user:<24} {r.days_text:<16} {r.hours_text}{team}")
        if not mine:
            print("  (nobody)")
        print("       " + "".join(f"{h:02d}    " for h in range(0, 24, 6)))
        for day, hours in enumerate(rota.week(shifts, args.ward, tier)):
            cells = "".join(_cell(len(names)) for names in hours)
            print(f"  {rota.DAY_NAMES[day]}  {cells}")
    warnings = rota.warnings(shifts, args.ward)
    print()
    for text in warnings:
        print(f"WARNING: {text}")
    if not warnings:
        print("every hour of the week has somebody on call in every tier")
    return 0


def _cmd_timezone(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, rota_store

    with db.connect(settings, autocommit=True) as conn:
        if args.zone is None:
            print(rota_store.ward_zone_name(conn, args.ward))
            return 0
        name = rota_store.set_zone(conn, args.ward, args.zone)
    print(f"{args.ward}: timezone {name} (the rota's hours are its wall-clock hours)")
    return 0


def _report(conn, ward_id: str) -> list[str]:
    """The warnings after a change, so that a gap made is seen at once."""
    from ward import rota

    found = rota.warnings(rota.load_shifts(conn, ward_id), ward_id)
    return [f"WARNING: {text}" for text in found] or [
        "every hour of the week has somebody on call in every tier"]


def _cell(count: int) -> str:
    return _GAP_MARK if count == 0 else (str(count) if count < 10 else "+")


def _days(days: frozenset[int]) -> str:
    from ward import rota

    return rota.days_text(days)
