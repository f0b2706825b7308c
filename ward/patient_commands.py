"""`vward patient link|unlink` and `vward ward phone`: the patient's own view
(issue 14, item 4; docs/patient-view.md).  Loaded by alerts/commands.py (under
`vward patient`) and ward/cli.py (the `ward` group); stores through
ward/patient_access.py, as the API does."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime, timedelta

from ward import patient_links
from ward.settings import Settings


def register_patient(patient: argparse._SubParsersAction) -> None:
    """Under `vward patient`: make and cancel a patient's links to their page."""
    k = patient.add_parser("link", help="a one-time link to the patient's own page (their"
                           " readings, their questions); prints the URL on the last line")
    k.add_argument("patient_id", metavar="PATIENT")
    k.add_argument("--by", default=None, help="who gives it (default: your login)")
    k.add_argument("--hours", type=int, default=None,
                   help="how long it works (default VWARD_PATIENT_LINK_HOURS)")
    k.set_defaults(func=_cmd_link)
    u = patient.add_parser("unlink", help="cancel the patient's unused links and sign them"
                           " out of their page everywhere")
    u.add_argument("patient_id", metavar="PATIENT")
    u.add_argument("--by", default=None, help="who cancels (default: your login)")
    u.set_defaults(func=_cmd_unlink)
    n = patient.add_parser("nhs-number", help="record an admitted patient's NHS number (10"
                           " digits, its check digit checked): their discharge summary is"
                           " filed under it at the GP's")
    n.add_argument("patient_id", metavar="PATIENT")
    n.add_argument("number", metavar="NUMBER", help="e.g. '943 476 5919'")
    n.set_defaults(func=_cmd_nhs_number)


def register_ward(ward: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Under `vward ward`: the number the ward's patients call when they feel worse;
    returns the group, so that other ward actions join it."""
    p = ward.add_parser("phone", help="show, set (or with '' remove) the number the ward's"
                        " patients call when they feel worse (shown on their page)")
    p.add_argument("ward")
    p.add_argument("number", nargs="?", default=None)
    p.set_defaults(func=_cmd_phone)
    return ward


def _cmd_nhs_number(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, devices

    with db.connect(settings, autocommit=True) as conn:
        number = devices.set_nhs_number(conn, args.patient_id, args.number)
    print(f"patient {args.patient_id}: NHS number {number[:3]} {number[3:6]} {number[6:]}")
    return 0


def _cmd_link(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, patient_access
    from ward.errors import WardError

    hours = args.hours if args.hours is not None else settings.patient_link_hours
    if not 1 <= hours <= 336:
        raise WardError("--hours: 1 to 336 (14 days): a link is a credential")
    with db.connect(settings, autocommit=True) as conn:
        made = patient_access.make_link(conn, args.patient_id, by=args.by or getpass.getuser(),
                                        now=datetime.now(UTC), lifetime=timedelta(hours=hours))
    print(f"link for patient {made.patient_id}: works once, until"
          f" {made.expires_at:%Y-%m-%d %H:%M} UTC")
    if made.ward_phone is None:
        print("note: the ward has no phone number set: the page tells the patient to call the"
              " number their team gave them (set one with `vward ward phone WARD NUMBER`)")
    base = patient_links.base_url(settings.public_url, settings.web_host, settings.web_port)
    print(patient_links.link_url(base, made.token))
    return 0


def _cmd_unlink(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, patient_access

    with db.connect(settings, autocommit=True) as conn:
        links, sessions = patient_access.revoke(conn, args.patient_id,
                                                by=args.by or getpass.getuser(),
                                                now=datetime.now(UTC))
    print(f"patient {args.patient_id}: {links} unused link(s) cancelled, {sessions} session(s)"
          " ended")
    return 0


def _cmd_phone(args: argparse.Namespace, settings: Settings) -> int:
    from ward import db, patient_access

    with db.connect(settings, autocommit=True) as conn:
        if args.number is not None:
            patient_access.set_ward_phone(conn, args.ward, args.number or None)
        phone = patient_access.ward_phone(conn, args.ward)
    print(f"ward {args.ward}: phone {phone or '- (not set)'}")
    return 0
