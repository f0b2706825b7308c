"""Migration 013 and the rota's reads (ward/rota.load_*) on the real database."""

from __future__ import annotations

import threading

import psycopg
import pytest
from conftest import unique

from ward import db, devices, rota, rota_store


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


# ---------------------------------------------------------------- the writer


def _people(conn, n: int) -> list[str]:
    return [_user(conn, email=f"p{i}@example.org") for i in range(n)]


def test_replace_is_all_or_nothing_and_keeps_the_record(conn):
    ward_id = _ward(conn)
    a, b, bare = *_people(conn, 2), _user(conn)
    rota_store.replace(conn, ward_id, [rota_store.Assignment(1, a, "mon-fri", "20-08"),
                                       rota_store.Assignment(2, b)], by="t")
    before = rota.load_shifts(conn, ward_id)
    assert len(before) == 3
    with pytest.raises(rota.WardError, match="has no contact"):
        rota_store.replace(conn, ward_id, [rota_store.Assignment(1, b),
                                           rota_store.Assignment(2, bare)], by="t")
    assert rota.load_shifts(conn, ward_id) == before
    change = rota_store.replace(conn, ward_id, [], by="t")
    assert change.ended == 3 and rota.load_shifts(conn, ward_id) == []
    kept = conn.execute("SELECT count(*) FROM rota_shifts WHERE ward_id = %s AND ended_by = 't'",
                        (ward_id,)).fetchone()[0]
    assert kept == 3  # ended, not deleted: who was on call stays on record


def test_two_changes_at_once_leave_one_rota_not_a_mix(services_up, conn):
    """Admin 1 replaces the rota and has not committed when admin 2 replaces it:
    admin 2 waits for the ward's lock, then ends admin 1's shifts too.  Without
    the lock, admin 2's statement would not see admin 1's new rows and both
    sets would be on call."""
    ward_id = _ward(conn)
    first, second = _people(conn, 2)
    done = threading.Event()
    with db.connect(services_up, autocommit=True) as one, \
            db.connect(services_up, autocommit=True) as two:
        with one.transaction():
            rota_store.replace(one, ward_id, [rota_store.Assignment(1, first)], by="one")

            def other() -> None:
                rota_store.replace(two, ward_id, [rota_store.Assignment(1, second)], by="two")
                done.set()

            worker = threading.Thread(target=other)
            worker.start()
            assert not done.wait(1.0)  # admin 2 waits for admin 1
        worker.join(10)
    assert done.is_set()
    assert [s.user for s in rota.load_shifts(conn, ward_id)] == [second]


def test_set_person_replaces_or_adds_in_one_tier_only(conn):
    ward_id = _ward(conn)
    a, = _people(conn, 1)
    rota_store.set_person(conn, ward_id, rota_store.Assignment(1, a, "mon-fri", "08-20"), by="t")
    rota_store.set_person(conn, ward_id, rota_store.Assignment(2, a, "sat,sun"), by="t")
    change = rota_store.set_person(conn, ward_id, rota_store.Assignment(1, a, "sat", "10-12"),
                                   by="t")
    assert change.ended == 1
    rota_store.set_person(conn, ward_id, rota_store.Assignment(1, a, "sun", "10-12", "hub"),
                          by="t", keep=True)
    got = {(r.tier, r.days_text, r.hours_text, r.team) for r in rota_store.rows(conn, ward_id)}
    assert got == {(1, "sat", "10-12", None), (1, "sun", "10-12", "hub"),
                   (2, "sat-sun", "00-24", None)}
    assert rota_store.remove_person(conn, ward_id, 1, a, by="t") == 2
    assert rota_store.remove_person(conn, ward_id, 1, a, by="t") == 0
    assert rota_store.wards_of(conn, a) == [ward_id]
