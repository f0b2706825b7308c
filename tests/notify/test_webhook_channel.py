"""The webhook channel against a real local HTTP server: a redirect is not followed (a
signed clinical message goes where the contact says), a slow receiver is a failed
attempt after the timeout, and an error never logs the URL's path (it may hold a
token)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from receivers import free_port

from notify.channels import WebhookChannel
from notify.errors import DeliveryError
from notify.message import Facts, Links

T = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
FACTS = Facts(7, "vward-7-ada-webhook", "ada", 1, "webhook", 7, "opened", T, "urgent",
              "NEWS2 5 (medium)", 3, "news2", "clinical", "w1", "p1", None, "", T)
LINKS = Links("http://ward/patient/p1", "http://ward/ack/t")


@pytest.fixture
def site():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits.append(self.path)
            if self.path.startswith("/slow"):
                time.sleep(2)
            if self.path.startswith("/moved"):
                self.send_response(302)
                self.send_header("Location", "/elsewhere")
            else:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_2xx_is_delivery(site) -> None:
    url, hits = site
    WebhookChannel(key=b"k" * 32).send(FACTS, LINKS, f"{url}/hook")
    assert hits == ["/hook"]


def test_a_redirect_is_not_followed_and_the_path_is_not_said(site) -> None:
    url, hits = site
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(key=b"k" * 32).send(FACTS, LINKS, f"{url}/moved/secret-token")
    assert hits == ["/moved/secret-token"]  # never /elsewhere
    assert "HTTP 302" in str(caught.value) and "secret-token" not in str(caught.value)


def test_a_slow_receiver_fails_the_attempt_after_the_timeout(site) -> None:
    url, _ = site
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="Timeout") as caught:
        WebhookChannel(key=b"k" * 32, timeout=0.5).send(FACTS, LINKS, f"{url}/slow/tok")
    assert time.monotonic() - started < 1.5 and "tok" not in str(caught.value)
