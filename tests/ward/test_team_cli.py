"""Wards are separate at the command line (issue 14, item 6): `vward user add
--ward` (repeatable) and `vward team add|join|leave|list` say who is on which
ward's team, and a command acting as a named clinician (`--by NAME`) refuses
a patient outside NAME's wards.  Run as an operator runs them; the rule
itself is pure (ward/access.py), pinned here too."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from conftest import ROOT, service_env, unique

from ward import access, devices

pytestmark = [pytest.mark.db]


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT, timeout=60,
                          env=service_env(settings), capture_output=True, text=True)


def _ok(settings, *args: str) -> str:
    r = _vward(settings, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _admit(conn, ward_id: str) -> str:
    patient_id = unique("p")
    devices.ensure_ward(conn, ward_id)
    conn.execute("INSERT INTO patients (patient_id, ward_id) VALUES (%s, %s)",
                 (patient_id, ward_id))
    return patient_id


def _alert(conn, patient_id: str, ward_id: str) -> int:
    now = datetime.now(UTC)
    return conn.execute(
        "INSERT INTO alerts (patient_id, ward_id, kind, category, severity, state, reason,"
        " condition_time, opened_at, updated_at, last_notified_severity)"
        " VALUES (%s, %s, 'news2', 'clinical', 'low', 'open', 'NEWS2 1', %s, %s, %s, 'low')"
        " RETURNING alert_id", (patient_id, ward_id, now, now, now)).fetchone()[0]


def test_the_rule_an_admin_every_ward_a_clinician_their_teams_and_rota():
    assert access.visible_wards("admin", [], []) is None
    assert access.visible_wards("clinician", ["a"], ["b"]) == frozenset({"a", "b"})
    assert access.visible_wards("clinician", [], []) == frozenset()
    assert access.may_see(None, "b") and access.may_see(frozenset({"a"}), "a")
    assert not access.may_see(frozenset({"a"}), "b")
    assert not access.may_see(frozenset({"a"}), None)  # no ward: admins only
    assert access.in_scope(frozenset({"a"}), ["b", "a"]) == ["a"]
    assert access.as_filter(None) is None and access.as_filter(frozenset({"b", "a"})) == ["a",
                                                                                         "b"]


def test_user_add_with_wards_teams_and_acting_by_name(services_up, conn):
    a, b = unique("wa"), unique("wb")
    pa, pb = _admit(conn, a), _admit(conn, b)
    nurse = unique("nurse")
    out = _ok(services_up, "user", "add", nurse, "--role", "clinician", "--ward", a)
    assert f"{nurse} is on {a}'s team (ward team)" in out
    assert access.wards_of(conn, nurse) == frozenset({a})
    missing = _vward(services_up, "user", "add", unique("x"), "--role", "clinician",
                     "--ward", unique("nowhere"))
    assert missing.returncode == 2 and "no ward" in missing.stderr
    # Acting as the nurse: ward A's patient yes, ward B's refused and unchanged.
    _ok(services_up, "patient", "scale", pa, "2", "--by", nurse, "--reason", "COPD")
    refused = _vward(services_up, "patient", "scale", pb, "2", "--by", nurse, "--reason", "COPD")
    assert refused.returncode == 2 and f"not one of {nurse}'s wards" in refused.stderr
    assert conn.execute("SELECT count(*) FROM patient_settings WHERE patient_id = %s",
                        (pb,)).fetchone()[0] == 0
    alert_b = _alert(conn, pb, b)
    refused = _vward(services_up, "alert", "ack", str(alert_b), "--by", nurse)
    assert refused.returncode == 2 and "not one of" in refused.stderr
    assert conn.execute("SELECT state FROM alerts WHERE alert_id = %s",
                        (alert_b,)).fetchone()[0] == "open"
    # Teams: a named team on ward B, the nurse joins it, sees B, acts; leaves again.
    _ok(services_up, "team", "add", b, "night team")
    assert "joined" in _ok(services_up, "team", "join", b, "--user", nurse, "--team",
                           "night team")
    assert access.wards_of(conn, nurse) == frozenset({a, b})
    _ok(services_up, "alert", "ack", str(alert_b), "--by", nurse)
    listed = _ok(services_up, "team", "list", "--ward", b)
    assert "night team" in listed and nurse in listed
    _ok(services_up, "team", "leave", b, "--user", nurse, "--team", "night team")
    assert access.wards_of(conn, nurse) == frozenset({a})
    # The demo's re-run: an existing user is left as it is, and still put on its wards.
    out = _ok(services_up, "user", "add", nurse, "--role", "clinician", "--if-missing",
              "--ward", b)
    assert "exists already" in out and f"{nurse} is on {b}'s team" in out
    assert access.wards_of(conn, nurse) == frozenset({a, b})
    _ok(services_up, "team", "leave", b, "--user", nurse)
    again = _vward(services_up, "team", "leave", b, "--user", nurse, "--team", "night team")
    assert again.returncode == 2 and "is not on" in again.stderr
    unknown = _vward(services_up, "team", "join", b, "--user", nurse, "--team", "no such")
    assert unknown.returncode == 2 and "no team 'no such'" in unknown.stderr
