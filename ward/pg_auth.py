"""Who may open the PostgreSQL that `vward up` runs, and as whom (issue 10).

Every connection proves a password (SCRAM-SHA-256, on TCP and on the socket
alike): the superuser `postgres` has the generated secret `postgres`, and the
ward's processes connect as the owner role (`VWARD_PG_USER`, `vward`; secret
`database`), which owns the ward's database and everything in it but is no
superuser and may create neither roles nor databases.  Only what needs a
superuser runs as `postgres`: the roles, the database, the TimescaleDB
extension, and converting a data directory made with `--auth=trust` by the
ward before (passwords set, pg_hba.conf rewritten, the server reloaded, the
ward's objects handed to the owner).

A database of the operator's (VWARD_DATABASE_URL) is left as it is: nothing
here runs for it."""

from __future__ import annotations

import contextlib
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from ward import secret_files
from ward.errors import ServiceError
from ward.settings import Settings

SUPERUSER = "postgres"
SUPERUSER_SECRET = "postgres"
OWNER_SECRET = "database"
# Created by the superuser before the migrations, which then find them there
# (timescaledb is no trusted extension: a non-superuser cannot create it).
EXTENSIONS = ("timescaledb", "btree_gist")

HBA_CONF = """\
# written by vward up: every connection, on the socket and on TCP, proves a
# password (SCRAM-SHA-256).  The passwords are under VWARD_HOME/secrets/.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  scram-sha-256
host    all          all   127.0.0.1/32   scram-sha-256
host    all          all   ::1/128        scram-sha-256
local   replication  all                  scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
host    replication  all   ::1/128        scram-sha-256
"""

# The ward's own objects: what the migrations made, wherever they are (chunks
# of hypertables live in _timescaledb_internal), but never an extension's.
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
_NOT_AN_EXTENSIONS = (
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = {catalog}::regclass"
    " AND d.objid = {oid} AND d.deptype = 'e')"
)
_OWNED_RELATIONS = (
    "SELECT c.oid::regclass::text, c.relkind FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %(owner)s)"
    " AND c.relkind::text = ANY(%(kinds)s) AND n.nspname <> ALL(%(system)s)"
    " AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'"
    " AND " + _NOT_AN_EXTENSIONS.format(catalog="'pg_class'", oid="c.oid")
    # a hypertable's chunks follow it, and cannot be given alone (TimescaleDB refuses)
    + " AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.chunk ch"
    " WHERE ch.schema_name = n.nspname AND ch.table_name = c.relname)"
    # a sequence of a serial column follows its table, and cannot be given alone
    + " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
    " AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))"
    " ORDER BY 1"
)
_OWNED_ROUTINES = (
    "SELECT p.oid::regprocedure::text FROM pg_proc p"
    " JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = %(owner)s)"
    " AND n.nspname <> ALL(%(system)s) AND n.nspname NOT LIKE '\\_timescaledb%%'"
    " AND n.nspname NOT LIKE 'timescaledb%%'"
    " AND " + _NOT_AN_EXTENSIONS.format(catalog="'pg_proc'", oid="p.oid") + " ORDER BY 1"
)
# Tables first: a view may stand on them.
_RELATION_KINDS = (("r", "p"), ("v", "m"), ("S",), ("f",))
_ALTER = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
          "S": "SEQUENCE", "f": "FOREIGN TABLE"}


def superuser_dsn(settings: Settings, dbname: str = "postgres") -> str:
    return psycopg.conninfo.make_conninfo(
        host="127.0.0.1", port=settings.pg_port, user=SUPERUSER, dbname=dbname,
        password=secret_files.secret(settings.home, SUPERUSER_SECRET))


def connect_superuser(settings: Settings, dbname: str = "postgres",
                      **kwargs) -> psycopg.Connection:
    """A superuser's connection, or a ServiceError that says which file holds
    the password the server refused."""
    try:
        return psycopg.connect(superuser_dsn(settings, dbname), autocommit=True, **kwargs)
    except psycopg.OperationalError as exc:
        if refused_password(exc):
            path = secret_files.secret_path(settings.home, SUPERUSER_SECRET)
            raise ServiceError(
                f"a PostgreSQL already listens on port {settings.pg_port} and refuses the"
                f" superuser password kept in {path}: it is another server (set VWARD_PG_PORT to"
                " a free port, or VWARD_DATABASE_URL to use that server on purpose), or that"
                " file is not the one this ward's data directory was made with") from exc
        raise


def refused_password(exc: psycopg.OperationalError) -> bool:
    """The server answered, and said no to the user or its password."""
    text = str(exc)
    return "password authentication failed" in text or "does not exist" in text


@contextlib.contextmanager
def initdb_password_file(settings: Settings, folder: Path) -> Iterator[Path]:
    """The superuser's password in a file that initdb (run as `postgres` when
    we are root) can read and nobody else can, for as long as initdb runs."""
    path = folder / f".initdb-pw.{os.getpid()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secret_files.secret(settings.home, SUPERUSER_SECRET) + "\n")
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        path.unlink(missing_ok=True)


def write_hba(pg_data: Path) -> None:
    """Our pg_hba.conf in place of whatever is there (atomically; kept the
    owner's, `postgres` when we are root)."""
    target = pg_data / "pg_hba.conf"
    tmp = pg_data / "pg_hba.conf.vward-tmp"
    tmp.write_text(HBA_CONF, encoding="utf-8")
    os.chmod(tmp, 0o600)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
    tmp.replace(target)


def hba_is_ours(pg_data: Path) -> bool:
    try:
        return (pg_data / "pg_hba.conf").read_text(encoding="utf-8") == HBA_CONF
    except FileNotFoundError:
        return False


def secure(settings: Settings, pg_data: Path) -> list[str]:
    """Make the running server what this module's docstring says, converting
    a trust-auth data directory.  Idempotent; returns lines for the operator."""
    done: list[str] = []
    converting = not hba_is_ours(pg_data)
    with connect_superuser(settings, connect_timeout=10) as conn:
        if converting:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            _set_password(conn, sql.SQL("ALTER ROLE {} WITH PASSWORD {}"), SUPERUSER,
                          secret_files.secret(settings.home, SUPERUSER_SECRET))
        _ensure_owner(conn, settings)
    done += ensure_database(settings)
    if converting:
        write_hba(pg_data)
        with connect_superuser(settings) as conn:
            conn.execute("SELECT pg_reload_conf()")
            errors = conn.execute(
                "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL"
            ).fetchall()
        if errors:
            raise ServiceError(f"PostgreSQL refused the pg_hba.conf vward up wrote: {errors}")
        done.append("PostgreSQL now asks every connection for its password (scram-sha-256;"
                    f" the superuser's and {settings.pg_user}'s are under"
                    f" {secret_files.secrets_dir(settings.home)})")
    return done


def _ensure_owner(conn: psycopg.Connection, settings: Settings) -> None:
    """The owner role exists, may log in with its secret, and is no superuser."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                          (settings.pg_user,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    _set_password(
        conn,
        sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                " NOBYPASSRLS PASSWORD {}"),
        settings.pg_user, secret_files.secret(settings.home, OWNER_SECRET))


def _set_password(conn: psycopg.Connection, statement: sql.SQL, role: str,
                  password: str) -> None:
    """Send the SCRAM verifier, never the password itself: it cannot end in
    the server's log, even a statement log."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(statement.format(sql.Identifier(role), sql.Literal(verifier.decode())))


def ensure_database(settings: Settings) -> list[str]:
    """The ward's database exists, belongs to the owner role, has the
    extensions, and every object of the ward's in it is the owner's."""
    done: list[str] = []
    name, owner = settings.pg_database, settings.pg_user
    with connect_superuser(settings) as conn:
        row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()
        if row is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)))
            done.append(f"created database {name}, owned by {owner}")
        elif row[0] != owner:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(owner)))
    with connect_superuser(settings, name) as conn:
        have = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        for extension in EXTENSIONS:
            if extension not in have:
                conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(extension)))
        moved = reassign(conn, owner)
    if moved:
        done.append(f"gave {moved} objects of database {name} to {owner}")
    return done


def reassign(conn: psycopg.Connection, owner: str) -> int:
    """Hand every object of the ward's that another role owns (the
    superuser, in a database made before issue 10) to `owner`; returns how
    many.  REASSIGN OWNED cannot do it: the superuser also owns the system's
    objects, which cannot change hands."""
    moved = 0
    args = {"owner": owner, "system": list(_SYSTEM_SCHEMAS)}
    for kinds in _RELATION_KINDS:
        found = conn.execute(_OWNED_RELATIONS, {**args, "kinds": list(kinds)}).fetchall()
        for name, kind in found:
            conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(
                sql.SQL(_ALTER[kind]), sql.SQL(name), sql.Identifier(owner)))
            moved += 1
    for (signature,) in conn.execute(_OWNED_ROUTINES, args).fetchall():
        conn.execute(sql.SQL("ALTER ROUTINE {} OWNER TO {}").format(
            sql.SQL(signature), sql.Identifier(owner)))
        moved += 1
    return moved


def owner_url(settings: Settings) -> str:
    """Our own server's URL for the owner role, with its password (`vward
    config --show-secrets`)."""
    from urllib.parse import quote

    password = quote(secret_files.secret(settings.home, OWNER_SECRET), safe="")
    return (f"postgresql://{quote(settings.pg_user, safe='')}:{password}@127.0.0.1:"
            f"{settings.pg_port}/{quote(settings.pg_database, safe='')}")


def psql_command(settings: Settings, *,
                 superuser: bool = False) -> tuple[list[str], dict[str, str]]:
    """psql's arguments and environment to open the ward's database by hand
    (`vward psql`): the password goes in PGPASSWORD, never in the arguments,
    which any local user may read in the process list."""
    if superuser:
        if not settings.own_database:
            raise ServiceError("--superuser is for the PostgreSQL `vward up` runs; this ward"
                               " uses VWARD_DATABASE_URL")
        dsn = superuser_dsn(settings, settings.pg_database)
    else:
        dsn = settings.dsn
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    password = info.pop("password", None)
    env = {"PGPASSWORD": str(password)} if password else {}
    return ["psql", psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})], env
