"""`vward user add/contact` with contacts and `vward rota set|show|remove|timezone`,
run as an operator runs them, against the test run's database."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, service_env, unique

from ward import devices, rota

pytestmark = [pytest.mark.db]


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT, timeout=60,
                          env=service_env(settings), capture_output=True, text=True)


def _ok(settings, *args: str) -> str:
    r = _vward(settings, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_user_add_with_contacts_and_changing_them(services_up, conn):
    name = unique("nina")
    _ok(services_up, "user", "add", name, "--role", "clinician", "--email", "nina@example.org",
        "--phone", "+44 7700 900123", "--webhook", "http://127.0.0.1:9/hook")
    assert rota.load_contacts(conn, [name])[name] == rota.Contact(
        name, "nina@example.org", "+447700900123", "http://127.0.0.1:9/hook")
    assert "nina@example.org" in _ok(services_up, "user", "list")
    out = _ok(services_up, "user", "contact", name, "--phone", "", "--email", "n2@example.org")
    assert "email n2@example.org, phone -," in out
    assert rota.load_contacts(conn, [name])[name].phone is None
    bad = _vward(services_up, "user", "add", unique("x"), "--role", "clinician",
                 "--email", "nina-at-example")
    assert bad.returncode == 2 and "email 'nina-at-example' is not an address" in bad.stderr
    plain = _vward(services_up, "user", "contact", name, "--webhook", "http://example.org/h")
    assert plain.returncode == 2 and "use https" in plain.stderr
    missing = _vward(services_up, "user", "contact", unique("nobody"), "--email", "a@b.org")
    assert missing.returncode == 2 and "no user" in missing.stderr


def test_rota_set_show_and_gap_warnings(services_up, conn):
    ward_id = unique("ward")
    devices.ensure_ward(conn, ward_id)
    nurse, night, senior = unique("nurse"), unique("night"), unique("senior")
    for n in (nurse, night, senior):
        _ok(services_up, "user", "add", n, "--role", "clinician", "--email", f"{n}@example.org")

    out = _ok(services_up, "rota", "set", ward_id, "--tier", "1", "--user", nurse,
              "--days", "mon-fri", "--hours", "08-20", "--team", "hub A")
    assert f"{nurse} on call for {ward_id} as tier 1: 08-20 on mon-fri" in out
    assert "WARNING: NOBODY is on call in any tier" in out  # gaps said at once
    out = _ok(services_up, "rota", "set", ward_id, "--tier", "1", "--user", night,
              "--days", "mon-fri", "--hours", "20-08")
    assert "20-24 on mon-fri and 00-08 on tue-sat" in out
    _ok(services_up, "rota", "set", ward_id, "--tier", "2", "--user", senior)

    shown = _ok(services_up, "rota", "show", ward_id)
    assert "hours are Europe/London wall-clock" in shown
    assert f"{nurse:<24} mon-fri          08-20  team hub A" in shown
    tier1 = shown.split("tier 1 (hub nurse)")[1].split("tier 2")[0]
    # Monday: the night before (Sunday's) is nobody's; Sunday is a whole gap.
    assert "  mon  !!!!!!!!111111111111" + "1111" in tier1
    assert "  sun  " + "!" * 24 in tier1
    assert ("WARNING: tier 1 (hub nurse) has nobody on call mon 00-08, sat 08-24, sun 00-24:"
            " alerts for tier 1 then go to tier 2 (or above)") in shown
    assert "WARNING: tier 3 (consultant on call) has nobody on call all week" in shown
    assert "NOBODY is on call in any tier" not in shown  # tier 2 covers every hour

    # set again replaces that person's shifts in the tier; --add keeps them
    out = _ok(services_up, "rota", "set", ward_id, "--tier", "1", "--user", nurse,
              "--days", "sat,sun", "--hours", "08-20")
    assert "ended 1 earlier shift(s)" in out
    _ok(services_up, "rota", "set", ward_id, "--tier", "1", "--user", nurse, "--days", "mon-fri",
        "--hours", "08-20", "--add")
    assert {(s.user, s.start_hour, rota.days_text(s.days)) for s in
            rota.load_shifts(conn, ward_id) if s.tier == 1} == {
        (nurse, 8, "sat-sun"), (nurse, 8, "mon-fri"), (night, 20, "mon-fri"),
        (night, 0, "tue-sat")}

    out = _ok(services_up, "rota", "remove", ward_id, "--tier", "2", "--user", senior)
    assert "1 shift(s) ended" in out and "NOBODY is on call in any tier" in out
    again = _vward(services_up, "rota", "remove", ward_id, "--tier", "2", "--user", senior)
    assert again.returncode == 1 and "was not on tier 2" in again.stdout


def test_rota_refuses_what_cannot_work(services_up, conn):
    ward_id = unique("ward")
    devices.ensure_ward(conn, ward_id)
    bare, nurse = unique("bare"), unique("nurse")
    _ok(services_up, "user", "add", bare, "--role", "clinician")
    _ok(services_up, "user", "add", nurse, "--role", "clinician", "--email", "n@example.org")
    cases = [
        (("--user", bare), "has no contact"),
        (("--user", unique("ghost")), "no user"),
        (("--user", nurse, "--days", "mon-funday"), "'funday' is not a day"),
        (("--user", nurse, "--hours", "08-08"), "cover no time: for the whole day say 00-24"),
        (("--user", nurse, "--hours", "8.30-20"), "whole hours such as 08-20"),
    ]
    for extra, message in cases:
        r = _vward(services_up, "rota", "set", ward_id, "--tier", "1", *extra)
        assert r.returncode == 2 and message in r.stderr, (extra, r.stderr)
    r = _vward(services_up, "rota", "set", unique("noward"), "--tier", "1", "--user", nurse)
    assert r.returncode == 2 and "no ward" in r.stderr
    r = _vward(services_up, "rota", "set", ward_id, "--tier", "4", "--user", nurse)
    assert r.returncode == 2 and "invalid choice" in r.stderr
    assert rota.load_shifts(conn, ward_id) == []  # nothing half-written
    # On a rota, a person keeps at least one contact.
    _ok(services_up, "rota", "set", ward_id, "--tier", "1", "--user", nurse)
    r = _vward(services_up, "user", "contact", nurse, "--email", "")
    assert r.returncode == 2 and f"is on the rota of {ward_id}" in r.stderr
    assert rota.load_contacts(conn, [nurse])[nurse].email == "n@example.org"


def test_rota_timezone(services_up, conn):
    ward_id = unique("ward")
    devices.ensure_ward(conn, ward_id)
    assert _ok(services_up, "rota", "timezone", ward_id).strip() == "Europe/London"
    assert "timezone Australia/Sydney" in _ok(services_up, "rota", "timezone", ward_id,
                                              "Australia/Sydney")
    assert str(rota.load_zone(conn, ward_id)) == "Australia/Sydney"
    r = _vward(services_up, "rota", "timezone", ward_id, "Mars/Olympus")
    assert r.returncode == 2 and "unknown timezone 'Mars/Olympus'" in r.stderr
    assert "hours are Australia/Sydney wall-clock" in _ok(services_up, "rota", "show", ward_id)
