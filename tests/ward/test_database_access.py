"""The PostgreSQL `vward up` runs asks every connection for a password, and
the ward's processes are its owner role, no superuser (issue 10, item 6):
another user on the host opens nothing, a data directory made with trust
authentication before is converted, and no password is printed or logged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, service_env, unique, wait_for

from ingest import mqtt_session
from ward import db, pg_auth, postgres, processes, scratch, secret_files, services
from ward.settings import Settings

pytestmark = pytest.mark.db


def _psql_as_nobody(settings: Settings, user: str, host: str,
                    password: str | None = None) -> subprocess.CompletedProcess:
    """psql run by another OS user of the host (`nobody`), never prompting."""
    env = {"PATH": os.environ["PATH"], **({"PGPASSWORD": password} if password else {})}
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", "psql", "-w", "-X", "-h", host,
         "-p", str(settings.pg_port), "-U", user, "-d", settings.pg_database, "-At",
         "-c", "select current_user"],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, cwd="/", check=False)


def _assert_refused_to_another_local_user(settings: Settings) -> None:
    socket_dir = str(postgres.Paths(settings.home).socket)
    for user in ("postgres", settings.pg_user):
        for host in ("127.0.0.1", socket_dir):
            for password in (None, "guess"):
                r = _psql_as_nobody(settings, user, host, password)
                assert r.returncode != 0 and "current_user" not in r.stdout, (user, host, r)
                assert ("no password supplied" in r.stderr
                        or "password authentication failed" in r.stderr), r.stderr


def _vward(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT,
                          env=service_env(settings, **env), capture_output=True, text=True,
                          timeout=60, check=False)


def test_another_local_user_opens_the_database_as_nobody(services_up):
    """`runuser -u nobody -- psql -h 127.0.0.1 -U postgres` worked with
    --auth=trust; now neither user, on TCP or the socket, gets in without the
    password, and the files that hold the passwords are the owner's only."""
    _assert_refused_to_another_local_user(services_up)
    # The refusals are for want of the password: with it, psql gets in.
    socket_dir = str(postgres.Paths(services_up.home).socket)
    owner = secret_files.existing_secret(services_up.home, "database")
    superuser = secret_files.existing_secret(services_up.home, "postgres")
    assert owner and superuser and owner != superuser
    ok = _psql_as_nobody(services_up, services_up.pg_user, socket_dir, owner)
    assert ok.returncode == 0 and ok.stdout.strip() == services_up.pg_user, ok.stderr
    for name in ("database", "postgres"):
        path = secret_files.secret_path(services_up.home, name)
        assert path.stat().st_mode & 0o777 == 0o600
        r = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(path)],
                           capture_output=True, text=True, check=False)
        assert r.returncode != 0 and owner not in r.stdout and superuser not in r.stdout
    # initdb's password file lived only while initdb ran.
    assert not list(postgres.Paths(services_up.home).data.parent.glob(".initdb-pw*"))


def test_the_wards_role_owns_the_schema_and_is_no_superuser(conn, services_up):
    assert services_up.pg_user == "vward"
    assert conn.execute("SELECT current_user").fetchone() == ("vward",)
    role = conn.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = current_user").fetchone()
    assert role == (False, False, False, False, False)
    assert conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database"
                        " WHERE datname = current_database()").fetchone() == ("vward",)
    not_ours = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r','p','v','S')"
        " AND pg_get_userbyid(c.relowner) <> 'vward'").fetchall()
    assert not_ours == []
    # What only a superuser may do is refused to it.
    for statement in ("CREATE ROLE intruder", "CREATE DATABASE intruder",
                      "ALTER ROLE vward SUPERUSER", "COPY (SELECT 1) TO '/tmp/vward-x'"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_timescaledb_and_the_append_only_tables_work_for_the_owner(conn):
    """The owner creates hypertables and drops their chunks (what a
    retention job would do), and the audit tables still refuse it changes."""
    table = f"t_{unique('owner').replace('-', '_')}"
    conn.execute(f"CREATE TABLE {table} (time timestamptz NOT NULL, v int)")
    try:
        conn.execute(f"SELECT create_hypertable('{table}', 'time')")
        conn.execute(f"INSERT INTO {table} VALUES (now() - interval '60 days', 1), (now(), 2)")
        dropped = conn.execute(
            f"SELECT count(*) FROM drop_chunks('{table}', older_than => interval '30 days')"
        ).fetchone()
        assert dropped == (1,)
        assert conn.execute(f"SELECT v FROM {table}").fetchall() == [(2,)]
    finally:
        conn.execute(f"DROP TABLE {table}")
    for statement in ("UPDATE patient_reads SET actor = 'x'", "DELETE FROM alert_events",
                      "TRUNCATE observation_revisions"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(statement)


def _backends(conn: psycopg.Connection, app: str) -> list[tuple[str]]:
    return conn.execute("SELECT usename FROM pg_stat_activity WHERE application_name = %s",
                        (app,)).fetchall()


def test_the_wards_processes_connect_as_the_owner(services_up, spawn, conn):
    tag = unique("as-owner")
    apps = {name: f"{tag}-{name}" for name in ("ingest", "alerts", "web")}
    spawn("ingest", PGAPPNAME=apps["ingest"])
    spawn("alerts", PGAPPNAME=apps["alerts"], VWARD_ALERTS_ENGINE_ID=unique("engine"),
          VWARD_ALERTS_WARDS=unique("ward"))
    spawn("web", PGAPPNAME=apps["web"], VWARD_WEB_PORT=str(scratch.free_port()))
    for name, app in apps.items():
        users = wait_for(lambda app=app: _backends(conn, app), timeout=60,
                         what=f"vward {name}'s connections")
        assert {u for (u,) in users} == {"vward"}, (name, users)
    # A command run by hand too, and `vward psql` opens the database as the same role.
    listed = _vward(services_up, "device", "list")
    assert listed.returncode == 0, listed.stderr
    who = _vward(services_up, "psql", "-c", "SELECT current_user, usesuper FROM pg_user"
                 " WHERE usename = current_user", "--", "-At")
    assert who.returncode == 0 and who.stdout.strip() == "vward|f", who.stderr
    root = _vward(services_up, "psql", "--superuser", "-c", "SELECT current_user", "--", "-At")
    assert root.returncode == 0 and root.stdout.strip() == "postgres", root.stderr


def test_vward_config_prints_no_password_unless_asked(services_up):
    external = "postgresql://ward:hunter2-db@db.example.internal:5432/ward?sslmode=require"
    amqp = "amqp://ingest:hunter2-amqp@broker-1.example:5672,amqp://broker-2.example:5672"
    shown = _vward(services_up, "config", VWARD_DATABASE_URL=external, VWARD_AMQP_URLS=amqp)
    assert shown.returncode == 0, shown.stderr
    assert "hunter2" not in shown.stdout
    assert ("VWARD_DATABASE_URL=postgresql://ward:********@db.example.internal:5432/ward"
            "?sslmode=require") in shown.stdout
    assert "VWARD_AMQP_URLS=amqp://ingest:********@broker-1.example:5672," in shown.stdout
    asked = _vward(services_up, "config", "--show-secrets", VWARD_DATABASE_URL=external,
                   VWARD_AMQP_URLS=amqp)
    assert f"VWARD_DATABASE_URL={external}" in asked.stdout and "hunter2-amqp" in asked.stdout

    # Our own database: its URL has no password, unless asked; then it connects.
    password = secret_files.existing_secret(services_up.home, "database")
    assert password
    own = _vward(services_up, "config")
    assert password not in own.stdout and password not in own.stderr
    url = next(line.split("=", 1)[1] for line in
               _vward(services_up, "config", "--show-secrets").stdout.splitlines()
               if line.startswith("VWARD_DATABASE_URL="))
    assert password in url
    with psycopg.connect(url) as c:
        assert c.execute("SELECT current_user").fetchone() == ("vward",)


def test_no_process_logs_the_database_password(services_up, spawn, conn):
    """`vward ingest` logged a URL-form VWARD_DATABASE_URL whole, password
    and all; a database it cannot reach was named with its password too."""
    password = secret_files.existing_secret(services_up.home, "database")
    assert password
    # "localhost": the operator's URL (not our own's), which the ward uses as it is.
    url = (f"postgresql://{services_up.pg_user}:{password}@localhost:{services_up.pg_port}"
           f"/{services_up.pg_database}")
    assert not services_up.model_copy(update={"database_url": url}).own_database
    app = unique("url-ingest")
    ingest = spawn("ingest", VWARD_DATABASE_URL=url, PGAPPNAME=app)
    wait_for(lambda: _backends(conn, app), timeout=60, what="ingest connected by the URL")
    wait_for(lambda: "ingest worker" in ingest.output(), timeout=30, what="its start line")
    status = _vward(services_up, "status", VWARD_DATABASE_URL=url)
    ingest.terminate()
    log = ingest.output()
    assert "database" in log and f"{services_up.pg_user}:********@localhost" in log
    assert password not in log
    assert password not in status.stdout + status.stderr

    unreachable = f"postgresql://ward:hunter2-db@127.0.0.1:{scratch.free_port()}/ward"
    failed = _vward(services_up, "device", "list", VWARD_DATABASE_URL=unreachable)
    assert failed.returncode != 0 and "cannot reach the database" in failed.stderr
    assert "hunter2" not in failed.stderr + failed.stdout


# ---------------------------------------------------------------- converting a ward from before


def _a_ward_from_before(settings: Settings) -> Settings:
    """What `vward up` made before issue 10: initdb --auth=trust, the ward's
    database and objects made by the superuser, with data in them.  Returns
    the settings that reach it as the superuser, as the ward did."""
    paths = postgres.Paths(settings.home)
    paths.data.mkdir(parents=True)
    paths.socket.mkdir(parents=True)
    processes.ensure_traversable(settings.home)
    processes.chown_tree(paths.data.parent, "postgres")
    subprocess.run(postgres._as_postgres(
        [postgres._pg_bin("initdb"), "-D", str(paths.data), "-U", "postgres",
         "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)
    with open(paths.data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(postgres._postgres_conf(settings, paths))
    postgres.start(settings)
    url = f"postgresql://postgres@127.0.0.1:{settings.pg_port}/{settings.pg_database}"
    before = settings.model_copy(update={"database_url": url})
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {settings.pg_database}")
    db.migrate(before)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("INSERT INTO wards (ward_id, name) VALUES ('w-old', 'old')")
        c.execute("INSERT INTO patients (patient_id, ward_id) VALUES ('p-old', 'w-old')")
        c.execute("INSERT INTO observations (time, patient_id, device_id, type, value) VALUES"
                  " (now() - interval '3 days', 'p-old', 'd-old', 'heart_rate', 70),"
                  " (now() - interval '1 day', 'p-old', 'd-old', 'heart_rate', 71)")
        c.execute("INSERT INTO patient_reads (at, minute, actor, role, patient_id, via, what)"
                  " VALUES (now(), 1, 'alice', 'clinician', 'p-old', 'api', 'patient')")
        assert c.execute("SELECT count(*) FROM pg_tables WHERE tableowner = 'postgres'"
                         " AND schemaname = 'public'").fetchone()[0] > 20
    return before


@pytest.fixture
def ward_from_before():
    settings = scratch.new_settings("vward-before-", demo=True, broker="mqtt",
                                         mqtt_external=True)
    try:
        yield settings, _a_ward_from_before(settings)
    finally:
        scratch.discard(settings)


def test_vward_up_converts_a_trust_data_directory_from_before(ward_from_before):
    settings, before = ward_from_before
    # Before: anybody on the host is the superuser, without a password.
    r = _psql_as_nobody(settings, "postgres", "127.0.0.1")
    assert r.returncode == 0 and r.stdout.strip() == "postgres", r.stderr

    lines = services.up(settings, ingest_session=mqtt_session.ensure)
    assert any("scram-sha-256" in line for line in lines), lines
    assert any(line.startswith("gave ") and "to vward" in line for line in lines), lines
    pg_data = postgres.Paths(settings.home).data
    assert (pg_data / "pg_hba.conf").read_text() == pg_auth.HBA_CONF
    _assert_refused_to_another_local_user(settings)
    with pytest.raises(psycopg.OperationalError, match="password"):  # trust is gone
        psycopg.connect(before.dsn, connect_timeout=5)

    with pg_auth.connect_superuser(settings, settings.pg_database) as su:
        assert su.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                          ).fetchone() == (True,)
        not_ours = su.execute(
            "SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE (n.nspname = 'public' OR c.relname LIKE '\\_hyper\\_%%chunk')"
            " AND c.relkind IN ('r','p','v','S') AND pg_get_userbyid(c.relowner) <> 'vward'"
        ).fetchall()
        assert not_ours == []
        chunks = su.execute("SELECT count(*) FROM show_chunks('observations')").fetchone()
        assert chunks and chunks[0] >= 2
        functions = su.execute(
            "SELECT proname, pg_get_userbyid(proowner) FROM pg_proc"
            " WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'refuse%%'").fetchall()
        assert functions and {owner for _, owner in functions} == {"vward"}

    # The ward works as the owner on the converted data: old rows, old and new
    # chunks, the audit trail's triggers, and a migration to come.
    with db.connect(settings, autocommit=True) as c:
        assert c.execute("SELECT current_user").fetchone() == ("vward",)
        assert c.execute("SELECT count(*) FROM observations").fetchone() == (2,)
        c.execute("INSERT INTO observations (time, patient_id, device_id, type, value) VALUES"
                  " (now() - interval '3 days' + interval '1 s', 'p-old', 'd-old', 'spo2', 96),"
                  " (now(), 'p-old', 'd-old', 'spo2', 97)")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            c.execute("DELETE FROM patient_reads")
        with c.transaction(force_rollback=True):
            c.execute("ALTER TABLE observations ADD COLUMN later_migration text")
    assert db.migrate(settings) == []

    # Once converted, up is quiet about it, and the ward's commands work.
    again = services.up(settings, ingest_session=mqtt_session.ensure)
    assert not any("scram" in line or line.startswith("gave ") for line in again), again
    listed = _vward(settings, "device", "list")
    assert listed.returncode == 0, listed.stderr


def test_an_operators_database_url_is_used_as_it_is(tmp_path: Path):
    url = "postgresql://ward:pw@db.example.internal:5432/ward?sslmode=require"
    s = Settings(home=tmp_path, database_url=url, pg_user="postgres")
    assert not s.own_database and s.dsn == url
    assert not (tmp_path / "secrets").exists()  # nothing generated for it
