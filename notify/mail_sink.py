"""`vward mail-sink`: the demo's SMTP server (aiosmtpd), keeping every message it
is given in a Maildir under VWARD_HOME/mail, which the dashboard's admin page
reads (``latest``).  For the demo and tests only: it accepts mail for anyone
from anyone, on loopback, and relays nothing."""

from __future__ import annotations

import email
import email.policy
import logging
import mailbox
import threading
from dataclasses import dataclass
from pathlib import Path

from ward import processes
from ward.settings import Settings

log = logging.getLogger("notify.mail_sink")


def maildir_path(settings: Settings) -> Path:
    return settings.home / "mail"


def serve(settings: Settings, *, host: str, port: int,
          stop: threading.Event | None = None) -> int:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    stop = processes.stop_event(stop)
    folder = maildir_path(settings)
    folder.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    controller = Controller(Mailbox(folder), hostname=host, port=port)
    controller.start()
    log.info("mail sink listening on %s:%d, keeping messages in %s", host, port, folder)
    try:
        stop.wait()
    finally:
        controller.stop()
    log.info("mail sink stopped")
    return 0


@dataclass(frozen=True, slots=True)
class Kept:
    """One message of the sink, as the admin page lists it."""

    date: str
    to: str
    subject: str
    message_id: str
    body: str


def latest(settings: Settings, limit: int = 50) -> list[Kept]:
    """The sink's latest messages, newest first (none when it never ran)."""
    folder = maildir_path(settings)
    if not (folder / "new").is_dir() and not (folder / "cur").is_dir():
        return []
    box = mailbox.Maildir(str(folder), create=False)
    found = []
    for key in box.iterkeys():
        path = _path_of(folder, key)
        try:
            raw = path.read_bytes() if path else box.get_bytes(key)
        except (FileNotFoundError, KeyError):
            continue  # removed while we read
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",))
        found.append((path.stat().st_mtime if path else 0.0, Kept(
            str(msg.get("Date", "")), str(msg.get("To", "")), str(msg.get("Subject", "")),
            str(msg.get("Message-ID", "")), part.get_content() if part is not None else "")))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [k for _, k in found[:limit]]


def _path_of(folder: Path, key: str) -> Path | None:
    for sub in ("new", "cur"):
        for p in (folder / sub).glob(f"{key}*"):
            return p
    return None
