"""Real receivers for the notifier's tests: a local SMTP server (aiosmtpd) and a
local HTTP webhook receiver (http.server) that checks each request's signature,
plus the people and rota of a test ward.  Plain helpers, imported by name."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from notify import message

WEBHOOK_KEY = "test-webhook-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mail:
    at: float
    to: list[str]
    subject: str
    message_id: str
    key: str
    body: str


class _Collect:
    def __init__(self, got: list[Mail]) -> None:
        self.got = got

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.got.append(Mail(time.time(), list(envelope.rcpt_tos), str(msg["Subject"]),
                             str(msg["Message-ID"]), str(msg["X-Vward-Idempotency-Key"]),
                             msg.get_body(preferencelist=("plain",)).get_content()))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a free loopback port; ``mails`` as they arrive."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.port = free_port()
        self.controller = Controller(_Collect(self.mails), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.to]


@dataclass
class Hook:
    at: float
    path: str
    key: str
    valid: bool
    body: dict


@dataclass
class _State:
    hooks: list[Hook] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)  # paths answered 500
    hold: threading.Event | None = None  # set: requests wait for it before answering
    held: threading.Event = field(default_factory=threading.Event)  # a request is held


class WebhookReceiver:
    """ThreadingHTTPServer on a free loopback port.  Each POST is recorded with
    whether its signature holds under WEBHOOK_KEY; ``fail(path)`` answers 500 on a
    path; ``hold()`` keeps requests unanswered until ``release()``."""

    def __init__(self) -> None:
        self.state = _State()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                valid = message.signature_valid(
                    WEBHOOK_KEY.encode(), self.headers.get(message.TIMESTAMP_HEADER, ""), body,
                    self.headers.get(message.SIGNATURE_HEADER, ""), now=time.time())
                state.hooks.append(Hook(time.time(), self.path,
                                        self.headers.get(message.KEY_HEADER, ""), valid,
                                        json.loads(body)))
                if state.hold is not None:
                    state.held.set()
                    state.hold.wait(30)
                code = 500 if self.path in state.failing else 200
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender died while we held its request

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    @property
    def hooks(self) -> list[Hook]:
        return list(self.state.hooks)

    def to(self, path: str) -> list[Hook]:
        return [h for h in self.state.hooks if h.path == path]

    def fail(self, path: str) -> None:
        self.state.failing.add(path)

    def hold(self) -> threading.Event:
        self.state.hold = threading.Event()
        self.state.held.clear()
        return self.state.held

    def release(self) -> None:
        if self.state.hold is not None:
            self.state.hold.set()
            self.state.hold = None


def add_person(conn, name: str, *, role: str = "clinician", email_address: str | None = None,
               webhook: str | None = None) -> None:
    """A user with contacts, as `vward user add` leaves one (no password needed here)."""
    conn.execute("INSERT INTO users (name, role, password_hash, email, webhook_url)"
                 " VALUES (%s, %s, 'unused', %s, %s)", (name, role, email_address, webhook))


def put_on_call(conn, ward: str, tier: int, name: str, *, days: int = 127,
                hours: tuple[int, int] = (0, 24)) -> None:
    """A rota shift (ward/rota.py's rows): ``days`` a weekday bitmask, mon=1 .. sun=64."""
    conn.execute("INSERT INTO wards (ward_id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                 (ward, ward))
    conn.execute("INSERT INTO rota_shifts (ward_id, tier, user_id, days, start_hour, end_hour,"
                 " created_by) SELECT %s, %s, user_id, %s, %s, %s, 'test' FROM users"
                 " WHERE name = %s", (ward, tier, days, *hours, name))


def caught_up(conn) -> bool:
    """The notifier has planned every alert event committed so far."""
    return conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM alert_events e, notify_watermark w"
        " WHERE (e.txid, e.event_id) > (w.txid, w.event_id))").fetchone()[0]


def notifications_of(conn, alert_ids) -> list[tuple]:
    """(recipient, tier, channel, state, attempts, idempotency_key, event) of alerts."""
    return conn.execute(
        "SELECT n.recipient, n.tier, n.channel, n.state, n.attempts, n.idempotency_key, e.event"
        " FROM notifications n JOIN alert_events e USING (event_id)"
        " WHERE n.alert_id = ANY(%s) ORDER BY n.notification_id", (list(alert_ids),)).fetchall()


NORMAL = {"respiratory_rate": 16, "spo2": 97, "on_oxygen": 0, "systolic_bp": 120,
          "heart_rate": 70, "consciousness": 0, "temperature": 37.0}


def send_set(conn, patient: str, device: str, t, **changes: float) -> None:
    """A full set at ``t`` (NORMAL with ``changes``) stored as ingest stores it:
    readings, the score queue row and NOTIFY in one transaction."""
    values = {**NORMAL, **changes}
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO observations (time, patient_id, device_id, type, value)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(t, patient, device, k, float(v)) for k, v in values.items()])
        conn.execute(
            "INSERT INTO score_queue (patient_id, since) VALUES (%s, %s) ON CONFLICT (patient_id)"
            " DO UPDATE SET since = least(score_queue.since, EXCLUDED.since),"
            " enqueued_at = clock_timestamp()", (patient, t))
        conn.execute("NOTIFY new_observations")
        conn.execute("UPDATE devices SET last_seen = greatest(last_seen, %s) WHERE device_id = %s",
                     (t, device))


def alerts_of(conn, patient: str) -> list[tuple]:
    """(alert_id, kind, severity, state, reason) of the patient's alerts, oldest first."""
    return conn.execute("SELECT alert_id, kind, severity, state, reason FROM alerts"
                        " WHERE patient_id = %s ORDER BY alert_id", (patient,)).fetchall()
