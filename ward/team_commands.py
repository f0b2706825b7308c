"""`vward team ...`: who is on which ward's team (issue 14, item 6: a
clinician sees the wards of their teams, and of their rota; an admin every
ward).  Loaded by ward/cli.py; writes through ward/team_store.py."""

from __future__ import annotations

import argparse
import getpass

from ward.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("team", help="who is on which ward's team: a clinician sees only the"
                       " wards of their teams (and of their rota)"
                       ).add_subparsers(dest="team_command", required=True, metavar="ACTION")
    a = t.add_parser("add", help="make a team on a ward")
    a.add_argument("ward")
    a.add_argument("team")
    a.set_defaults(func=_cmd_add)
    for name, func, text in (("join", _cmd_join, "put a person on a ward's team"),
                             ("leave", _cmd_leave, "take a person off a ward's team")):
        p = t.add_parser(name, help=text)
        p.add_argument("ward")
        p.add_argument("--user", required=True)
        p.add_argument("--team", default=None,
                       help="the team (default: the ward's own team, 'ward team')")
        p.set_defaults(func=func)
    ls = t.add_parser("list", help="teams and their members, with the wards each person sees")
    ls.add_argument("--ward", default=None)
    ls.set_defaults(func=_cmd_list)


def join_wards(conn, user: str, wards: list[str], *, by: str) -> list[str]:
    """`vward user add --ward W ...`: the person on each ward's own team; lines
    to print."""
    from ward import team_store

    lines = []
    for ward_id in wards:
        team_store.join(conn, ward_id, user, by=by)
        lines.append(f"{user} is on {ward_id}'s team ({team_store.DEFAULT_TEAM})")
    return lines


def _by() -> str:
    return f"{getpass.getuser()} (vward team)"


def _team(args: argparse.Namespace) -> str:
    from ward import team_store

    return args.team if args.team is not None else team_store.DEFAULT_TEAM


def _cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, team_store

    with db.connect(settings, autocommit=True) as conn:
        team_store.add_team(conn, args.ward, args.team)
    print(f"team {args.team.strip()!r} on {args.ward}")
    return 0


def _cmd_join(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, team_store

    with db.connect(settings, autocommit=True) as conn:
        added = team_store.join(conn, args.ward, args.user, by=_by(), team=_team(args))
    print(f"{args.user} {'joined' if added else 'was already on'} {args.ward}'s team"
          f" {_team(args)!r}")
    return 0


def _cmd_leave(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, team_store
    from ward.errors import NotFound

    with db.connect(settings, autocommit=True) as conn:
        if not team_store.leave(conn, args.ward, args.user, team=_team(args)):
            raise NotFound(f"{args.user} is not on {args.ward}'s team {_team(args)!r}")
    print(f"{args.user} left {args.ward}'s team {_team(args)!r} (on {args.ward}'s rota they"
          " still see it)")
    return 0


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, team_store

    with db.connect(settings, autocommit=True) as conn:
        teams = team_store.teams(conn, args.ward)
        members = team_store.memberships(conn, ward_id=args.ward)
    print(f"{'WARD':<16} {'TEAM':<20} MEMBERS")
    for ward_id, team, _count in teams:
        names = [m.user for m in members if (m.ward_id, m.team) == (ward_id, team)]
        print(f"{ward_id:<16} {team:<20} {', '.join(names) or '-'}")
    print(f"{len(teams)} teams")
    return 0
