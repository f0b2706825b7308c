"""A ward's protocol decides which alerts its patients can raise: every change is
kept with who made it (ward_protocol_changes, migration 023), and running `vward
ward add` again for a ward's beds or name never turns it back to NEWS2."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, service_env, unique

from ward import protocol_store


def _vward(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT, timeout=60,
                          capture_output=True, text=True, env=service_env(settings))


def test_ward_add_again_keeps_the_protocol_and_every_change_is_kept_with_who(conn,
                                                                            services_up):
    ward = unique("wpc")
    made = _vward(services_up, "ward", "add", ward, "--protocol", "covid-oximetry",
                  "--by", "matron.lee")
    assert made.returncode == 0, made.stderr
    assert f"ward {ward} created: runs covid-oximetry" in made.stdout
    again = _vward(services_up, "ward", "add", ward, "--beds", "12", "--by", "ops")
    assert again.returncode == 0, again.stderr
    assert f"ward {ward} exists: runs covid-oximetry" in again.stdout
    assert protocol_store.protocol_of(conn, ward) == "covid-oximetry"

    protocol_store.set_protocol(conn, ward, "heart-failure", by="dr.ahmed")
    protocol_store.set_protocol(conn, ward, "heart-failure", by="dr.ahmed")  # no change
    changed = _vward(services_up, "ward", "add", ward, "--protocol", "news2", "--by", "ops")
    assert changed.returncode == 0, changed.stderr
    assert [c[:3] for c in protocol_store.changes(conn, ward)] == [
        ("covid-oximetry", None, "matron.lee"),
        ("heart-failure", "covid-oximetry", "dr.ahmed"),
        ("news2", "heart-failure", "ops")]


def test_a_new_ward_without_a_protocol_runs_news2_on_record(conn):
    ward = unique("wpn")
    assert protocol_store.add_ward(conn, ward, None, by="test")
    assert protocol_store.protocol_of(conn, ward) == "news2"
    assert [c[:3] for c in protocol_store.changes(conn, ward)] == [("news2", None, "test")]
