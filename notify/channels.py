"""The channels: the network edge of the notifier, one small class each.

A channel sends one rendered notification to one address, or raises
``DeliveryError`` with a line that says why (recorded with the attempt).  It
decides nothing: what to say is notify/message.py's, when to retry
notify/sender.py's.  Another gateway plugs in as another ``Channel``
(docs/notifications.md, "Another channel").
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.policy import default as _default_policy
from email.utils import formatdate
from typing import Protocol

import httpx

from notify import message
from notify.errors import DeliveryError
from notify.message import Facts, Links

# Folding a header at 78 characters split a subject before its first word, which
# mail clients then showed with a leading space; RFC 5322 allows lines of 998.
_POLICY = _default_policy.clone(max_line_length=200)


class Channel(Protocol):
    """Sends one notification to ``address``; ``DeliveryError`` when it did not."""

    name: str

    def send(self, facts: Facts, links: Links, address: str) -> None: ...


class SmtpChannel:
    """Email through any SMTP server (smtplib): plain for a local sink, STARTTLS or
    implicit TLS with the server's certificate verified, a login when given."""

    name = "email"

    def __init__(self, *, host: str, port: int, sender: str, tls: str = "none",
                 user: str = "", password: str = "", timeout: float = 10.0,
                 ca_file: str = "") -> None:
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"VWARD_SMTP_TLS={tls!r}: none, starttls or ssl")
        self.host, self.port, self.sender, self.tls = host, port, sender, tls
        self.user, self.password, self.timeout = user, password, timeout
        self.ca_file = ca_file or None
        self.domain = sender.rpartition("@")[2] or "vward"

    def send(self, facts: Facts, links: Links, address: str) -> None:
        mail = message.email(facts, links, domain=self.domain)
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = self.sender
        msg["To"] = address
        msg["Subject"] = mail.subject
        msg["Date"] = formatdate(usegmt=True)
        # The same for every attempt: a mail client, or a rule, drops the repeat.
        msg["Message-ID"] = mail.message_id
        msg["X-Vward-Idempotency-Key"] = facts.key
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a page
        msg.set_content(mail.body)
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {_words(exc)}") from exc

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self._context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.tls == "starttls":
            try:
                smtp.starttls(context=self._context())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _context(self) -> ssl.SSLContext:
        """The server's certificate verified, and its name, against VWARD_SMTP_CA_FILE
        or the system's CAs."""
        return ssl.create_default_context(cafile=self.ca_file)


class WebhookChannel:
    """A JSON POST signed with HMAC-SHA256 (notify/message.py says the scheme), with
    the idempotency key in ``Idempotency-Key``.  A 2xx answer is delivery; any other
    answer, a timeout or a refused connection is a failed attempt.  Redirects are not
    followed: a signed clinical message goes where the contact says, nowhere else."""

    name = "webhook"

    def __init__(self, *, key: bytes, timeout: float = 10.0) -> None:
        self.key, self.timeout = key, timeout

    def send(self, facts: Facts, links: Links, address: str) -> None:
        body = message.webhook_body(facts, links)
        ts = int(time.time())
        headers = {"Content-Type": "application/json", message.KEY_HEADER: facts.key,
                   message.TIMESTAMP_HEADER: str(ts),
                   message.SIGNATURE_HEADER: message.signature(self.key, ts, body),
                   "User-Agent": "vward-notifier"}
        try:
            r = httpx.post(address, content=body, headers=headers, timeout=self.timeout,
                           follow_redirects=False)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {_site(address)}: {_words(exc)}") from exc
        if not 200 <= r.status_code < 300:
            raise DeliveryError(f"webhook {_site(address)}: HTTP {r.status_code}"
                                f" {r.reason_phrase}".rstrip())


class SmsChannel:
    """SMS through an apprise URL (``VWARD_SMS_URL``, ``{phone}`` standing for the
    number): apprise speaks to some hundred gateways (Twilio, Vonage, AWS SNS, ...).
    apprise is not a dependency of the ward: ``pip install apprise`` where SMS is
    wanted; without it every SMS attempt fails saying so (and is retried, then
    raises notification_failed), rather than the notifier refusing to start."""

    name = "sms"

    def __init__(self, *, url: str) -> None:
        if "{phone}" not in url:
            raise ValueError("VWARD_SMS_URL must contain {phone}, where the number goes")
        self.url = url

    def send(self, facts: Facts, links: Links, address: str) -> None:
        try:
            import apprise  # type: ignore[import-not-found]
        except ImportError as exc:
            raise DeliveryError("SMS: apprise is not installed (pip install apprise)") from exc
        box = apprise.Apprise()
        if not box.add(self.url.replace("{phone}", address.lstrip("+"))):
            raise DeliveryError("SMS: VWARD_SMS_URL is not a URL apprise knows")
        if not box.notify(body=message.sms_text(facts, links)):
            raise DeliveryError("SMS: the gateway did not accept the message (apprise)")


def _site(url: str) -> str:
    """scheme://host[:port] of a URL: a webhook's path may hold a token, never logged."""
    try:
        u = httpx.URL(url)
        return f"{u.scheme}://{u.host}{f':{u.port}' if u.port else ''}"
    except Exception:
        return "(a webhook URL that does not parse)"


def _words(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
