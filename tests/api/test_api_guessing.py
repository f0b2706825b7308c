"""Password guessing is slowed, then refused (issue 10, item 11): on the login
form and the token route, per account and per address, with 429 and
Retry-After; a lock holds against the right password too, is logged and
recorded, shared by every web process, and an admin lifts it."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import api_fixtures
import pytest
from conftest import ROOT, service_env, unique
from fastapi.testclient import TestClient

from api import throttle
from api.app import create_app
from ward import db

pytestmark = [pytest.mark.db]

admin = api_fixtures.admin


@contextmanager
def client_from(settings, address: str) -> Iterator[TestClient]:
    """A web process (its own app and pool) seen from one client address."""
    app = create_app(settings, frontend=api_fixtures.echo_frontend)
    with TestClient(app, client=(address, 50000), follow_redirects=False) as client:
        yield client


def _address() -> str:
    """A client address of this test's own (TEST-NET-3 and a random host)."""
    n = int(unique("a").split("-")[1], 16)
    return f"203.0.{n % 250}.{n // 250 % 250 + 1}"


def _seed_failures(settings, *, account: str, address: str, count: int,
                   last_ago: timedelta) -> None:
    """`count` failures as if typed earlier, the last `last_ago` ago (what the
    delays would have made a real guesser wait for, without the waiting)."""
    now = datetime.now(UTC)
    with db.connect(settings, autocommit=True) as conn:
        for i in range(count):
            conn.execute("INSERT INTO sign_in_failures (at, account, address, door)"
                         " VALUES (%s, %s, %s, 'token')",
                         (now - last_ago - timedelta(seconds=20 * (count - 1 - i)), account,
                          address))


def _token(client, person, password=None):
    return client.post("/api/v1/auth/token",
                       json={"name": person.name, "password": password or person.password})


def test_password_guessing_is_refused_with_429_and_retry_after(services_up):
    person = api_fixtures.make_person(services_up, "clinician")
    with client_from(services_up, _address()) as web:
        for _ in range(throttle.ACCOUNT_SLOW_AFTER):
            assert _token(web, person, "not-the-password").status_code == 401
        r = _token(web, person, "not-the-password")
        assert r.status_code == 429, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert "wait" in r.json()["detail"]
        # Even the right password waits its turn: the answer tells nothing.
        assert _token(web, person).status_code == 429


def test_the_login_form_locks_an_account_and_refuses_the_right_password_until_then(
        services_up, caplog):
    person = api_fixtures.make_person(services_up, "clinician")
    address = _address()
    _seed_failures(services_up, account=person.name, address=address,
                   count=throttle.ACCOUNT_LOCK_AT - 1, last_ago=timedelta(seconds=40))
    with client_from(services_up, address) as web, caplog.at_level(logging.WARNING):
        wrong = web.post("/login", data={"name": person.name, "password": "nope", "next": "/"})
        assert wrong.status_code == 401  # the 10th failure, read and counted
        r = web.post("/login", data={"name": person.name, "password": person.password,
                                     "next": "/"})
    assert r.status_code == 429, r.text
    assert "set-cookie" not in r.headers
    wait = int(r.headers["retry-after"])
    assert throttle.LOCK_FOR.total_seconds() - 60 < wait <= throttle.LOCK_FOR.total_seconds()
    assert "locked until" in r.text and "ask an admin" in r.text
    assert any("sign-in locked: account " + person.name in m for m in caplog.messages)
    with db.connect(services_up, autocommit=True) as conn:
        row = conn.execute("SELECT failures, last_address FROM sign_in_locks"
                           " WHERE scope = 'account' AND key = %s", (person.name,)).fetchone()
    assert row == (throttle.ACCOUNT_LOCK_AT, address)


def test_a_lock_holds_in_every_web_process_and_an_admin_lifts_it(services_up, admin):
    person = api_fixtures.make_person(services_up, "clinician")
    _seed_failures(services_up, account=person.name, address=_address(),
                   count=throttle.ACCOUNT_LOCK_AT - 1, last_ago=timedelta(seconds=40))
    with client_from(services_up, _address()) as first:
        assert _token(first, person, "nope").status_code == 401  # locks
    with client_from(services_up, _address()) as second:  # another process, address
        assert _token(second, person).status_code == 429
        locks = second.get("/api/v1/sign-in-locks", headers=admin.headers).json()
        assert any(lock["key"] == person.name for lock in locks)
        assert second.post(f"/api/v1/users/{person.name}/unlock",
                           headers=person.headers).status_code == 403
        lifted = second.post(f"/api/v1/users/{person.name}/unlock", headers=admin.headers)
        assert lifted.status_code == 200 and lifted.json()[0]["lifted_by"] == admin.name
        assert _token(second, person).status_code == 200
        assert second.post(f"/api/v1/users/{person.name}/unlock",
                           headers=admin.headers).status_code == 404


def test_vward_user_unlock_lifts_a_lock(services_up):
    person = api_fixtures.make_person(services_up, "clinician")
    address = _address()
    _seed_failures(services_up, account=person.name, address=address,
                   count=throttle.ACCOUNT_LOCK_AT - 1, last_ago=timedelta(seconds=40))
    with client_from(services_up, address) as web:
        _token(web, person, "nope")
        assert _token(web, person).status_code == 429
        env = service_env(services_up)
        listed = subprocess.run([sys.executable, "-m", "ward.cli", "user", "unlock"], env=env,
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert person.name in listed.stdout, listed.stderr
        done = subprocess.run([sys.executable, "-m", "ward.cli", "user", "unlock", person.name],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "unlocked" in done.stdout, done.stderr
        assert _token(web, person).status_code == 200


def test_one_address_cannot_lock_out_every_clinician(services_up):
    """The address's own limit stops it first: from one address at most
    ADDRESS_LOCK_AT / ACCOUNT_LOCK_AT accounts are locked, and then the address
    is refused while the clinicians sign in from theirs."""
    attacker = _address()
    victims = [api_fixtures.make_person(services_up, "clinician") for _ in range(6)]
    # 39 failures from the attacker's address: 9 against each of four accounts,
    # 3 against a fifth, none locked yet.
    for person in victims[:4]:
        _seed_failures(services_up, account=person.name, address=attacker,
                       count=throttle.ACCOUNT_LOCK_AT - 1, last_ago=timedelta(seconds=60))
    _seed_failures(services_up, account=victims[4].name, address=attacker, count=3,
                   last_ago=timedelta(seconds=60))
    with client_from(services_up, attacker) as web:
        assert _token(web, victims[0], "guess").status_code == 401  # the 40th: both lock
        assert _token(web, victims[0], "guess").status_code == 429
        for person in victims[1:]:
            r = _token(web, person, "guess")
            assert r.status_code == 429 and "this address" in r.json()["detail"]
    with db.connect(services_up, autocommit=True) as conn:
        locked = conn.execute(
            "SELECT count(*) FROM sign_in_locks WHERE scope = 'account' AND key = ANY(%s)",
            ([p.name for p in victims],)).fetchone()[0]
    assert locked <= throttle.ADDRESS_LOCK_AT // throttle.ACCOUNT_LOCK_AT
    with client_from(services_up, _address()) as ward:
        for person in victims[1:]:
            assert _token(ward, person).status_code == 200


def test_a_success_clears_the_accounts_count(services_up):
    person = api_fixtures.make_person(services_up, "clinician")
    with client_from(services_up, _address()) as web:
        for _ in range(throttle.ACCOUNT_SLOW_AFTER - 1):
            assert _token(web, person, "typo").status_code == 401
        assert _token(web, person).status_code == 200
        for _ in range(throttle.ACCOUNT_SLOW_AFTER):
            assert _token(web, person, "typo").status_code == 401


# ---------------------------------------------------------------- the policy, pure


def test_delays_double_from_the_threshold_and_stop_at_the_cap():
    assert throttle.delay(4, 5) == timedelta(0)
    assert [throttle.delay(n, 5).total_seconds() for n in range(5, 10)] == [1, 2, 4, 8, 16]
    assert throttle.delay(60, 20) == throttle.MAX_DELAY


def test_a_lock_outranks_a_delay_and_says_when():
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    account = throttle.Tally(10, now - timedelta(seconds=1), now + timedelta(minutes=15))
    address = throttle.Tally(25, now, None)
    refusal = throttle.refusal(account, address, now)
    assert refusal is not None and refusal.locked and refusal.scope == "account"
    assert refusal.retry_after(now) == 900 and "08:15 UTC" in refusal.message(now)
    assert throttle.refusal(throttle.Tally(4, now, None), throttle.Tally(4, now, None),
                            now) is None


def test_an_ipv6_client_is_counted_by_its_64():
    assert (throttle.address_key("2001:db8:1:2:aaaa::1")
            == throttle.address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64")
    assert throttle.address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert throttle.address_key(None) == "unknown"
