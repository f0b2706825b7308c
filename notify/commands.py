"""The notifier's subcommands of `vward`: the notifier itself, and the demo's
local SMTP sink."""

from __future__ import annotations

import argparse

from ward.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    n = sub.add_parser("notifier", help="send alert notifications to the people on call"
                                        " (email, signed webhook, SMS)")
    n.set_defaults(func=_cmd_notifier)
    m = sub.add_parser("mail-sink", help="a local SMTP server that keeps every message in"
                                         " VWARD_HOME/mail (a Maildir): the demo's inbox")
    m.add_argument("--host", default="127.0.0.1")
    m.add_argument("--port", type=int, default=None, help="default VWARD_SMTP_PORT")
    m.set_defaults(func=_cmd_mail_sink)


def _cmd_notifier(args: argparse.Namespace, settings: Settings) -> int:
    from notify.service import serve

    return serve(settings)


def _cmd_mail_sink(args: argparse.Namespace, settings: Settings) -> int:
    from notify.mail_sink import serve

    return serve(settings, host=args.host, port=args.port or settings.smtp_port)
