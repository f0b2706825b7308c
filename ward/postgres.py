"""PostgreSQL with TimescaleDB, the ward's own (`VWARD_DATABASE_URL` unset):
made, started, asked and stopped under `settings.home` on a port of its own.
Its passwords and roles are ward/pg_auth.py's; its schema ward/db.py's."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ward import pg_auth
from ward.errors import ServiceError
from ward.processes import chown_tree, ensure_traversable, run
from ward.settings import Settings

_STOP_TIMEOUT = 60  # [s] pg_ctl waits for a stop


@dataclass(frozen=True, slots=True)
class Paths:
    home: Path

    @property
    def data(self) -> Path:
        return self.home / "postgres" / "data"

    @property
    def socket(self) -> Path:
        return self.home / "postgres" / "run"

    @property
    def log(self) -> Path:
        return self.home / "logs" / "postgres.log"


def _pg_bin(name: str) -> str:
    majors = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / name).exists()),
        key=lambda p: int(p.parent.name),
    )
    if majors:
        return str(majors[-1] / name)
    found = shutil.which(name)
    if not found:
        raise ServiceError(
            f"PostgreSQL's {name} is not installed: run `make demo` or ward/scripts/bootstrap.sh"
        )
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as `postgres`."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def running(settings: Settings) -> bool:
    """Whether our server answers; a ServiceError when a server answers but
    refuses our superuser's password (another server, or a lost secret)."""
    try:
        with pg_auth.connect_superuser(settings, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def start(settings: Settings) -> None:
    """Make the data directory on first use, then start the server unless it
    runs; a ServiceError if another server holds our port."""
    paths = Paths(settings.home)
    if not (paths.data / "PG_VERSION").exists():
        _initdb(settings, paths)
    if running(settings):
        _refuse_foreign_server(settings, paths)
        return
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    paths.socket.mkdir(parents=True, exist_ok=True)
    ensure_traversable(settings.home)
    chown_tree(paths.socket, "postgres")
    if os.geteuid() == 0:
        paths.log.touch()
        os.chmod(paths.log, 0o600)  # its errors may quote a patient's data
        chown_tree(paths.log, "postgres")
    run(
        _as_postgres([_pg_bin("pg_ctl"), "-D", str(paths.data), "-l", str(paths.log),
                      "-o", f"-p {settings.pg_port}", "-w", "-t", "60", "start"]),
        "pg_ctl start",
        log=paths.log,
    )


def _initdb(settings: Settings, paths: Paths) -> None:
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.socket.mkdir(parents=True, exist_ok=True)
    ensure_traversable(settings.home)
    chown_tree(paths.data.parent, "postgres")
    with pg_auth.initdb_password_file(settings, paths.data.parent) as pwfile:
        run(
            _as_postgres([_pg_bin("initdb"), "-D", str(paths.data), "-U", pg_auth.SUPERUSER,
                          "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                          "--locale=C.UTF-8"]),
            "initdb",
        )
    with open(paths.data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(_postgres_conf(settings, paths))
    pg_auth.write_hba(paths.data)


def _refuse_foreign_server(settings: Settings, paths: Paths) -> None:
    """A server already answers on our port: carry on only if it is ours, so
    that `vward up` never migrates somebody else's database."""
    with pg_auth.connect_superuser(settings, connect_timeout=2) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    theirs = Path(row[0]).resolve() if row else None
    if theirs != paths.data.resolve():
        raise ServiceError(
            f"another PostgreSQL (data directory {theirs}) already listens on port"
            f" {settings.pg_port}; set VWARD_PG_PORT to a free port, or VWARD_DATABASE_URL"
            " to use that server on purpose"
        )


def _postgres_conf(settings: Settings, paths: Paths) -> str:
    return (
        "\n# written by vward up\n"
        f"port = {settings.pg_port}\n"
        "listen_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{paths.socket}'\n"
        "password_encryption = 'scram-sha-256'\n"
        "shared_preload_libraries = 'timescaledb'\n"
        "timescaledb.telemetry_level = off\n"
        "max_connections = 200\n"
        "shared_buffers = 512MB\n"
        "max_wal_size = 4GB\n"
        "logging_collector = off\n"
    )


def stop(settings: Settings, *, mode: str = "fast") -> None:
    """Stop our server if it runs (`mode`: pg_ctl's smart, fast or immediate)."""
    paths = Paths(settings.home)
    if not (paths.data / "postmaster.pid").exists():
        return
    subprocess.run(
        _as_postgres([_pg_bin("pg_ctl"), "-D", str(paths.data), "-m", mode, "-w",
                      "-t", str(_STOP_TIMEOUT), "stop"]),
        capture_output=True,
        check=False,
    )
