"""Migration 013 and the rota's reads (ward/rota.load_*) on the real database."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import unique
from ward import devices, rota


def _user(conn: psycopg.Connection, **contact: str | None) -> str:
    name = unique("u")
    conn.execute("INSERT INTO users (name, role, password_hash, email, phone, webhook_url)"
                 " VALUES (%s, 'clinician', 'x', %s, %s, %s)",
                 (name, contact.get("email"), contact.get("phone"), contact.get("webhook_url")))
    return name


def _ward(conn: psycopg.Connection, tz: str = "Europe/London") -> str:
    ward_id = unique("w")
    devices.ensure_ward(conn, ward_id, time_zone=tz)
    return ward_id


def _shift(conn, ward_id, tier, name, days, start, end, ended=False) -> None:
    conn.execute(
        "INSERT INTO rota_shifts (ward_id, tier, user_id, days, start_hour, end_hour,"
        " created_by, ended_at, ended_by)"
        " SELECT %s, %s, user_id, %s, %s, %s, 'test', %s, %s FROM users WHERE name = %s",
        (ward_id, tier, days, start, end, "now" if ended else None, "test" if ended else None,
         name))


def test_load_shifts_reads_the_current_rota(conn):
    ward_id, other = _ward(conn), _ward(conn)
    nina, sam = _user(conn, email="n@example.org"), _user(conn, phone="+447700900123")
    _shift(conn, ward_id, 1, nina, 0b0011111, 8, 20)
    _shift(conn, ward_id, 2, sam, 127, 0, 24)
    _shift(conn, ward_id, 1, sam, 127, 0, 24, ended=True)  # history, not the rota
    _shift(conn, other, 1, sam, 1, 0, 1)
    shifts = rota.load_shifts(conn, ward_id)
    assert shifts == [rota.Shift(ward_id, 1, nina, frozenset(range(5)), 8, 20),
                      rota.Shift(ward_id, 2, sam, rota.ALL_DAYS, 0, 24)]
    assert rota.load_shifts(conn, unique("w")) == []


def test_load_contacts(conn):
    nina = _user(conn, email="n@example.org", webhook_url="https://example.org/h")
    bare = _user(conn)
    got = rota.load_contacts(conn, [nina, bare, "nobody-" + nina])
    assert got == {nina: rota.Contact(nina, "n@example.org", None, "https://example.org/h"),
                   bare: rota.Contact(bare, None, None, None)}
    assert rota.load_contacts(conn, []) == {}


def test_load_zone(conn):
    assert str(rota.load_zone(conn, _ward(conn, "America/New_York"))) == "America/New_York"
    with pytest.raises(rota.NotFound):
        rota.load_zone(conn, unique("w"))


@pytest.mark.parametrize(("column", "value"), [
    ("email", "not-an-address"), ("phone", "07700 900123"), ("webhook_url", "ftp://x"),
])
def test_the_database_refuses_a_malformed_contact(conn, column, value):
    with pytest.raises(psycopg.errors.CheckViolation):
        _user(conn, **{column: value})


@pytest.mark.parametrize(("tier", "days", "start", "end"), [
    (0, 1, 0, 24), (4, 1, 0, 24), (1, 0, 0, 24), (1, 128, 0, 24), (1, 1, 20, 8),
    (1, 1, 8, 8), (1, 1, 0, 25),
])
def test_the_database_refuses_a_shift_that_cannot_be(conn, tier, days, start, end):
    ward_id, nina = _ward(conn), _user(conn, email="n@example.org")
    with pytest.raises(psycopg.errors.CheckViolation):
        _shift(conn, ward_id, tier, nina, days, start, end)


def test_a_shifts_team_belongs_to_its_ward(conn):
    ward_id, other, nina = _ward(conn), _ward(conn), _user(conn, email="n@example.org")
    team = conn.execute("INSERT INTO teams (ward_id, name) VALUES (%s, 'hub A')"
                        " RETURNING team_id", (other,)).fetchone()[0]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("INSERT INTO rota_shifts (ward_id, team_id, tier, user_id, days,"
                     " start_hour, end_hour, created_by)"
                     " SELECT %s, %s, 1, user_id, 1, 0, 24, 't' FROM users WHERE name = %s",
                     (ward_id, team, nina))
