"""`vward notifier`: the notifier as a process.  One thread plans (reads alert
events, woken by LISTEN, writes the outbox) and beats; ``_SENDERS`` threads send,
each on its own connection, so one slow webhook holds one sender, not the rest.
It shares nothing with the engine but the database: a notifier that is down,
slow or failing never slows scoring or alerting.  Reconnects with the ward's
backoff; stops on SIGINT, SIGTERM or ``stop``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from notify import outbox, policy, sender
from notify.channels import Channel, SmsChannel, SmtpChannel, WebhookChannel
from ward import ack_links, processes, secret_files
from ward.errors import ConfigError
from ward.heartbeats import Heartbeat
from ward.retry import DATABASE, Backoff
from ward.settings import Settings
from ward.topics import ALERT_EVENTS_CHANNEL

log = logging.getLogger("notify")

_SENDERS = 3  # threads sending at once
_BEAT_EVERY = 5.0  # [s] between heartbeats
_IDLE_WAIT = 0.5  # [s] a sender with nothing due looks again (retries fall due by time)

Clock = Callable[[], datetime]


def channels_of(settings: Settings) -> dict[str, Channel]:
    """The channels the settings configure: email unless VWARD_SMTP_HOST is empty,
    the webhook always, SMS when VWARD_SMS_URL is set."""
    out: dict[str, Channel] = {"webhook": WebhookChannel(
        key=webhook_key(settings), timeout=settings.notify_timeout_seconds)}
    if settings.smtp_host:
        out["email"] = SmtpChannel(host=settings.smtp_host, port=settings.smtp_port,
                                   sender=settings.smtp_from, tls=settings.smtp_tls,
                                   user=settings.smtp_user, password=settings.smtp_password,
                                   timeout=settings.notify_timeout_seconds,
                                   ca_file=settings.smtp_ca_file)
    if settings.sms_url:
        out["sms"] = SmsChannel(url=settings.sms_url)
    return out


def webhook_key(settings: Settings) -> bytes:
    """VWARD_WEBHOOK_KEY, or the generated VWARD_HOME/secrets/webhook-key."""
    return (settings.webhook_key or secret_files.secret(settings.home, "webhook-key")).encode()


def public_url(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.web_host}:{settings.web_port}"


def send_policy(settings: Settings) -> sender.SendPolicy:
    return sender.SendPolicy(
        public_url=public_url(settings), link_key=ack_links.derive_key(settings.secret_key),
        link_ttl=timedelta(seconds=settings.ack_link_ttl),  # VWARD_ACK_LINK_TTL
        delays=policy.parse_delays(settings.notify_retry_seconds),
        max_attempts=settings.notify_max_attempts, actor=settings.notifier_id)


def serve(settings: Settings, *, stop: threading.Event | None = None,
          clock: Clock = lambda: datetime.now(UTC)) -> int:
    """`vward notifier`: plan and send until SIGINT, SIGTERM or ``stop``."""
    stop = processes.stop_event(stop)
    try:
        channels = channels_of(settings)
        how = send_policy(settings)
    except ValueError as exc:  # a setting that cannot work: said at start, in one line
        raise ConfigError(str(exc)) from None
    due = threading.Event()
    threads = [threading.Thread(target=_send_loop, args=(settings, channels, how, stop, due,
                                                          clock), name=f"sender-{i}", daemon=True)
               for i in range(_SENDERS)]
    for t in threads:
        t.start()
    log.info("notifier %s started: channels %s; links to %s", settings.notifier_id,
             ", ".join(sorted(channels)), how.public_url)
    backoff = Backoff(DATABASE)
    try:
        while not stop.is_set():
            try:
                _plan_connected(settings, stop, due, clock, connected=backoff.reset)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                delay = backoff.next_delay()
                log.warning("database unreachable (%s); retrying in %s s", _first(exc), delay)
                stop.wait(delay)
    finally:
        stop.set()
        due.set()
        for t in threads:
            t.join(settings.notify_timeout_seconds + 5)
    log.info("notifier %s stopped", settings.notifier_id)
    return 0


def _plan_connected(settings: Settings, stop: threading.Event, due: threading.Event,
                    clock: Clock, *, connected: Callable[[], None]) -> None:
    with psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as work, \
            psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as listen:
        listen.execute(f"LISTEN {ALERT_EVENTS_CHANNEL}")
        heart = Heartbeat("notifier", settings.notifier_id, interval=_BEAT_EVERY)
        heart.beat(work)
        connected()
        log.info("connected to the database; planning from the watermark")
        last_beat = clock()
        planned = 0
        try:
            while not stop.is_set():
                done = outbox.plan_pending(work, now=clock(), sms=bool(settings.sms_url),
                                           actor=settings.notifier_id)
                if done.deliveries:
                    planned += done.deliveries
                    due.set()
                if done.events:
                    continue  # a full batch may have more behind it
                if (clock() - last_beat).total_seconds() >= _BEAT_EVERY:
                    heart.beat(work, ticked=True, messages=planned)
                    last_beat = clock()
                for _ in listen.notifies(timeout=1.0, stop_after=1):
                    pass
        finally:
            if stop.is_set() and not work.closed:
                heart.stopped(work)


def _send_loop(settings: Settings, channels: dict[str, Channel], how: sender.SendPolicy,
               stop: threading.Event, due: threading.Event, clock: Clock) -> None:
    backoff = Backoff(DATABASE)
    while not stop.is_set():
        try:
            with psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as conn:
                backoff.reset()
                while not stop.is_set():
                    if sender.send_one(conn, channels, how, clock()) is None:
                        due.wait(_IDLE_WAIT)
                        due.clear()
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            delay = backoff.next_delay()
            log.warning("sender: database unreachable (%s); retrying in %s s", _first(exc), delay)
            stop.wait(delay)
        except Exception:  # a sender thread must not die silently: log, wait, go on
            log.exception("sender failed; starting again")
            stop.wait(1.0)


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
