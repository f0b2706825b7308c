"""The email channel against a real SMTP server over TLS (aiosmtpd with the ward's own
CA and server certificate, made by `vward up`): STARTTLS with a login, implicit TLS,
and a server whose certificate the channel cannot verify refused."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from receivers import Mail, _Collect, free_port

from notify.channels import SmtpChannel
from notify.errors import DeliveryError
from notify.message import Facts, Links
from ward import tls

T = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
FACTS = Facts(7, "vward-7-ada-email", "ada", 1, "email", 7, "opened", T, "urgent",
              "NEWS2 5 (medium)", 3, "news2", "clinical", "w1", "p1", None, "", T)
LINKS = Links("http://ward/patient/p1", "http://ward/ack/t")
USER, PASSWORD = "ward-notifier", "s3cret-pass"


def _check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


def _server_context(settings) -> ssl.SSLContext:
    files = tls.layout(settings)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(files.server_cert, files.server_key)
    return ctx


@pytest.fixture
def server(services_up):
    """start(mode): an aiosmtpd server, STARTTLS required before the login, or implicit
    TLS; its port and the mails it took."""
    running = []

    def start(mode: str) -> tuple[int, list[Mail]]:
        got: list[Mail] = []
        port = free_port()
        ctx = _server_context(services_up)
        if mode == "starttls":
            c = Controller(_Collect(got), hostname="127.0.0.1", port=port, tls_context=ctx,
                           require_starttls=True, authenticator=_check_login,
                           auth_required=True, auth_require_tls=True)
        else:
            c = Controller(_Collect(got), hostname="127.0.0.1", port=port, ssl_context=ctx,
                           server_hostname="127.0.0.1", authenticator=_check_login,
                           # aiosmtpd knows only STARTTLS as TLS; here the whole
                           # connection is, so AUTH may be offered at once.
                           auth_require_tls=False)
        c.start()
        running.append(c)
        return port, got

    yield start
    for c in running:
        c.stop()


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_a_login_delivers(services_up, server, mode: str) -> None:
    port, got = server(mode)
    SmtpChannel(host="127.0.0.1", port=port, sender="ward@example.org", tls=mode, user=USER,
                password=PASSWORD, ca_file=str(tls.ca_file(services_up))
                ).send(FACTS, LINKS, "ada@example.org")
    [mail] = got
    assert mail.to == ["ada@example.org"] and mail.key == "vward-7-ada-email"


def test_a_wrong_password_fails_the_attempt_and_delivers_nothing(services_up, server) -> None:
    port, got = server("starttls")
    with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1"):
        SmtpChannel(host="127.0.0.1", port=port, sender="ward@example.org", tls="starttls",
                    user=USER, password="wrong", ca_file=str(tls.ca_file(services_up)),
                    timeout=3).send(FACTS, LINKS, "ada@example.org")
    assert got == []


def test_a_certificate_not_of_the_trusted_cas_is_refused(server) -> None:
    port, got = server("starttls")
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        SmtpChannel(host="127.0.0.1", port=port, sender="ward@example.org", tls="starttls",
                    user=USER, password=PASSWORD).send(FACTS, LINKS, "ada@example.org")
    assert got == []


def test_no_login_without_tls(server) -> None:
    """tls=none against a server that requires STARTTLS: refused, nothing sent (the
    password never goes in the clear)."""
    port, got = server("starttls")
    with pytest.raises(DeliveryError):
        SmtpChannel(host="127.0.0.1", port=port, sender="ward@example.org", tls="none",
                    user=USER, password=PASSWORD).send(FACTS, LINKS, "ada@example.org")
    assert got == []
