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
    a.add_argument("--ward", action="append", default=[], metavar="WARD",
                   help="put them on this ward's team (repeatable): a clinician sees only the"
                        " wards of their teams and rota; an admin sees every ward")
    _contact_arguments(a)
    a.set_defaults(func=_cmd_user_add)
    c = users.add_parser("contact", help="how a person is reached when on call (an empty"
                         " value removes one): email, phone for SMS, webhook URL")
    c.add_argument("name")
    _contact_arguments(c)
    c.set_defaults(func=_cmd_user_contact)
    users.add_parser("list", help="users, roles and token use").set_defaults(func=_cmd_user_list)
    pw = users.add_parser("password", help="give a user a new password; prints it when it is"
                          " generated")
    pw.add_argument("name")
    pw.add_argument("--password", help="at least 8 characters; left out, one is generated")
    pw.set_defaults(func=_cmd_user_password)
    un = users.add_parser("unlock", help="lift the lock-out of an account (or of an address)"
                          " after repeated failed sign-ins; without arguments, list the locks")
    un.add_argument("name", nargs="?", help="the account to unlock")
    un.add_argument("--address", help="unlock this client address instead (as listed)")
    un.set_defaults(func=_cmd_user_unlock)

    au = sub.add_parser("audit", help="who read a patient's record, when and through what"
                        " (API, FHIR, dashboard), newest first")
    au.add_argument("--patient", required=True)
    au.add_argument("--since", metavar="TIME",
                    help="ISO 8601 (naive = UTC) or an age such as 90m, 2h, 1d")
    au.add_argument("--limit", type=int, default=1000)
    au.set_defaults(func=_cmd_audit)


def register_patient(patient: argparse._SubParsersAction) -> None:
    """`vward patient discharge`, in the `patient` group alerts/commands.py makes."""
    d = patient.add_parser("discharge", help="discharge a patient with a summary for their GP;"
                           " prints the discharge document's path (/fhir/Bundle/ID) on the"
                           " last line")
    d.add_argument("patient_id", metavar="PATIENT")
    d.add_argument("--by", required=True, help="the discharging clinician (a clinician user)")
    d.add_argument("--summary", required=True,
                   help="the clinician's summary for the GP: what happened, what to watch"
                        " for, follow-up")
    d.add_argument("--outcome", choices=["home", "hospital", "died"],
                   help="where the patient went (left out: not recorded)")
    d.add_argument("--admission-reason", metavar="TEXT",
                   help="the reason for admission, as the document should state it")
    d.set_defaults(func=_cmd_patient_discharge)


def _cmd_patient_discharge(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from api import admission
    from ward import access, db

    with db.connect(settings, autocommit=True) as conn:
        access.check_acting(conn, args.by, args.patient_id)  # only a patient of NAME's wards
        made = admission.discharge_with_summary(
            conn, args.patient_id, by=args.by, summary=args.summary, now=datetime.now(UTC),
            outcome=args.outcome, admission_reason=args.admission_reason)
    print(f"patient {args.patient_id} discharged by {args.by}"
          f" (to: {args.outcome or 'not recorded'}): {len(made.unassigned_devices)} device(s)"
          f" unassigned, {len(made.resolved_alerts)} alert(s) resolved")
    print(f"PDF: /api/v1/patients/{args.patient_id}/discharge-summary.pdf")
    print(made.path)
    return 0


def _cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from api import accounts, auth
    from ward import db, team_commands

    with db.connect(settings, autocommit=True) as conn:
        if args.if_missing and accounts.find_user(conn, args.name) is not None:
            # Its wards still joined: a demo's re-run puts its clinicians on their wards.
            lines = team_commands.join_wards(conn, args.name, args.ward,
                                             by=f"{getpass.getuser()} (vward user add)")
            print(f"user {args.name} exists already; left as it is", *lines, sep="\n")
            return 0
        password = args.password or auth.new_password()
        with conn.transaction():
            user = accounts.create_user(conn, args.name, args.role, password, _contact(args))
            lines = team_commands.join_wards(conn, args.name, args.ward,
                                             by=f"{getpass.getuser()} (vward user add)")
        token = accounts.issue_user_token(conn, user, "vward user add")
    print(f"user {user.name} ({user.role}) created", *lines, sep="\n")
    if not args.password:
        print(f"password: {password}")
    print(token)
    return 0


def _contact_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--email", metavar="ADDRESS", help="for notifications by email")
    p.add_argument("--phone", metavar="NUMBER", help="for SMS, international: +44 7700 900123")
    p.add_argument("--webhook", metavar="URL", help="https URL notifications are POSTed to"
                   " (signed JSON; http only to this machine)")


def _contact(args: argparse.Namespace):
    from api import accounts

    return accounts.ContactChange(args.email, args.phone, args.webhook)


def _cmd_user_contact(args: argparse.Namespace, settings: Settings) -> int:
    from api import accounts
    from ward import db

    with db.connect(settings, autocommit=True) as conn:
        row = accounts.set_contact(conn, args.name, _contact(args))
    print(f"user {row.name}: email {row.email or '-'}, phone {row.phone or '-'},"
          f" webhook {row.webhook_url or '-'}")
    if not any((row.email, row.phone, row.webhook_url)):
        print(f"note: {row.name} has no contact: an alert cannot reach them, and they cannot"
              " be put on a rota")
    return 0


def _cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    from api import accounts
    from ward import db

    with db.connect(settings, autocommit=True) as conn:
        rows = accounts.list_users(conn)
    print(f"{'NAME':<24} {'ROLE':<10} {'CREATED':<17} {'TOKENS':>6}  {'LAST USED':<17} CONTACT")
    for r in rows:
        used = f"{r.last_used:%Y-%m-%d %H:%M}" if r.last_used else "never"
        reach = " ".join(x for x in (r.email, r.phone, r.webhook_url) if x) or "-"
        print(f"{r.name:<24} {r.role:<10} {r.created_at:%Y-%m-%d %H:%M} {r.tokens:>6}"
              f"  {used:<17} {reach}")
    print(f"{len(rows)} users")
    return 0


def _cmd_user_password(args: argparse.Namespace, settings: Settings) -> int:
    from api import accounts, auth, signin
    from ward import db
    from ward.errors import WardError

    password = args.password or auth.new_password()
    if not settings.demo and password == signin.PUBLIC_PASSWORD:
        raise WardError("that is the public demo password: choose another")
    with db.connect(settings, autocommit=True) as conn:
        accounts.set_password(conn, args.name, password)
    print(f"user {args.name}: password changed; their sessions are ended, their tokens kept")
    if not args.password:
        print(f"password: {password}")
    return 0


def _cmd_user_unlock(args: argparse.Namespace, settings: Settings) -> int:
    import getpass
    from datetime import UTC, datetime

    from api import signin, throttle
    from ward import db
    from ward.errors import WardError

    now = datetime.now(UTC)
    with db.connect(settings, autocommit=True) as conn:
        if args.name is None and args.address is None:
            locks = signin.live_locks(conn, now)
            for lock in locks:
                print(f"{lock.scope:<8} {lock.key:<40} until {lock.locked_until:%Y-%m-%d %H:%M}"
                      f" UTC, {lock.failures} failures, last from {lock.last_address}")
            print(f"{len(locks)} locks")
            return 0
        if args.name is not None and args.address is not None:
            raise WardError("give an account name or --address, not both")
        scope: throttle.Scope = "account" if args.name is not None else "address"
        key = args.name if args.name is not None else throttle.address_key(args.address)
        lifted = signin.lift(conn, scope, key, by=f"{getpass.getuser()} (vward user unlock)",
                             now=now)
    if not lifted:
        print(f"{scope} {key} is not locked")
        return 1
    print(f"{scope} {key} unlocked")
    return 0


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from ward import access_log, db, times

    since = times.parse_time(args.since, datetime.now(UTC)) if args.since else None
    with db.connect(settings, autocommit=True) as conn:
        rows = access_log.list_reads(conn, args.patient, since=since, limit=args.limit)
    print(f"{'TIME (UTC)':<20} {'WHO':<24} {'ROLE':<10} {'VIA':<10} {'WHAT':<14} ADDRESS")
    for r in rows:
        print(f"{times.iso(r.at):<20} {r.actor:<24} {r.role:<10} {r.via:<10} {r.what:<14}"
              f" {r.address or '-'}")
    print(f"{len(rows)} reads of patient {args.patient}"
          + (f" since {times.iso(since)}" if since else ""))
    return 0


def public_password_users(settings: Settings) -> list[str]:
    """Users whose password is the public demo one: one scrypt check each
    (~60 ms), so `vward web` asks in a thread of its own, not before serving."""
    from api import auth, signin
    from ward import db

    with db.connect(settings, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('users')").fetchone() == (None,):
            return []
        rows = conn.execute("SELECT name, password_hash FROM users ORDER BY name").fetchall()
    return [name for name, hashed in rows if auth.verify_password(signin.PUBLIC_PASSWORD, hashed)]


def _warn_of_public_passwords(settings: Settings) -> None:
    try:
        names = public_password_users(settings)
    except Exception as exc:  # a warning's failure must not stop the web app
        print(f"warning: could not check for the public demo password: {exc}", flush=True)
        return
    for name in names:
        print(f"warning: user {name} has the public demo password and cannot sign in while"
              f" VWARD_DEMO is false: give it a new one with `vward user password {name}`",
              flush=True)


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
    import threading

    import uvicorn

    from api.app import create_app

    app = create_app(settings)
    print(f"web: http://{settings.web_host}:{settings.web_port}/  (API docs /docs, FHIR /fhir)",
          flush=True)
    if settings.demo:
        print(ensure_demo_user(settings), flush=True)
    else:
        threading.Thread(target=_warn_of_public_passwords, args=(settings,), daemon=True,
                         name="public-password-check").start()
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
