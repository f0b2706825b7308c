"""Database helpers: connections and the versioned migrations."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

from ward import redaction
from ward.errors import ServiceError
from ward.settings import Settings

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x76_77_61_72_64  # "vward": one migrator at a time


def connect(settings: Settings, *, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """Open a connection to the ward's database, translating failures."""
    try:
        return psycopg.connect(settings.dsn, autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        raise ServiceError(
            f"cannot reach the database ({redaction.redact(settings.dsn)}): {exc}") from exc


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration shipped, in order."""
    out = []
    for entry in resources.files("ward.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            out.append((version, entry.name, entry.read_text(encoding="utf-8")))
    out.sort()
    versions = [v for v, _, _ in out]
    if len(set(versions)) != len(versions):
        raise ServiceError(f"two migrations share a version: {versions}")
    return out


def migrate(settings: Settings) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction.

    Returns the names applied.  Safe to run concurrently (advisory lock) and
    repeatedly (idempotent).
    """
    applied_now: list[str] = []
    with connect(settings, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, text in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                applied_now.append(name)
                log.info("applied migration %s", name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied_now
