"""`vward web` and `vward user ...`: loaded by ward/cli.py."""

from __future__ import annotations

import argparse

from ward.settings import Settings

DEMO_USER = "demo"
_GRACE = 5  # [s] for requests in flight at a stop: every process stops within 10 s


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("web", help="serve the REST API, FHIR and the dashboard (one app)")
    w.set_defaults(func=_cmd_web)

    users = sub.add_parser("user", help="people who sign in to the dashboard and the API"
                           ).add_subparsers(dest="user_command", required=True, metavar="ACTION")
    a = users.add_parser("add", help="create a clinician or an admin; prints a bearer token on"
                         " the last line (and the password, when it is generated)")
    a.add_argument("name")
    a.add_argument("--role", choices=["clinician", "admin"], required=True)
    a.add_argument("--password", help="at least 8 characters; left out, one is generated")
    a.add_argument("--if-missing", action="store_true",
                   help="do nothing (and succeed) when the user exists already")
    a.set_defaults(func=_cmd_user_add)
    users.add_parser("list", help="users, roles and token use").set_defaults(func=_cmd_user_list)


def _cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from api import accounts, auth
    from ward import db

    with db.connect(settings, autocommit=True) as conn:
        if args.if_missing and accounts.find_user(conn, args.name) is not None:
            print(f"user {args.name} exists already; left as it is")
            return 0
        password = args.password or auth.new_password()
        user = accounts.create_user(conn, args.name, args.role, password)
        token = accounts.issue_user_token(conn, user, "vward user add")
    print(f"user {user.name} ({user.role}) created")
    if not args.password:
        print(f"password: {password}")
    print(token)
    return 0


def _cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    from api import accounts
    from ward import db

    with db.connect(settings, autocommit=True) as conn:
        rows = accounts.list_users(conn)
    print(f"{'NAME':<24} {'ROLE':<10} {'CREATED':<17} {'TOKENS':>6}  LAST USED")
    for r in rows:
        used = f"{r.last_used:%Y-%m-%d %H:%M}" if r.last_used else "never"
        print(f"{r.name:<24} {r.role:<10} {r.created_at:%Y-%m-%d %H:%M} {r.tokens:>6}  {used}")
    print(f"{len(rows)} users")
    return 0


def ensure_demo_user(settings: Settings) -> str:
    """In demo mode, a clinician to sign in with: `demo` and settings.demo_password."""
    from api import accounts
    from ward import db
    from ward.errors import ServiceError

    with db.connect(settings, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('users')").fetchone() == (None,):
            raise ServiceError("the database has no users table: run `vward up` (migration 003)")
        if accounts.find_user(conn, DEMO_USER) is None:
            accounts.create_user(conn, DEMO_USER, "clinician", settings.demo_password)
        elif accounts.authenticate(conn, DEMO_USER, settings.demo_password) is None:
            return (f"demo login: user {DEMO_USER} exists with a password other than"
                    " VWARD_DEMO_PASSWORD")
    return f"demo login: {DEMO_USER} / {settings.demo_password}"


def _cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    import uvicorn

    from api.app import create_app

    app = create_app(settings)
    print(f"web: http://{settings.web_host}:{settings.web_port}/  (API docs /docs, FHIR /fhir)",
          flush=True)
    if settings.demo:
        print(ensure_demo_user(settings), flush=True)
    # uvicorn stops gracefully on SIGINT and SIGTERM (requests finished, at
    # most _GRACE s; the pool closed), then raises the signal again under the
    # handlers it found: SIGTERM's default would end a clean stop as killed
    # (-15), so exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(app, host=settings.web_host, port=settings.web_port, log_level="info",
                access_log=False, timeout_graceful_shutdown=_GRACE)
    return 0


def _exit_cleanly(signum, frame) -> None:
    raise SystemExit(0)
