"""A database of a test's own on the session's PostgreSQL server, migrated like
any other: for tests that judge *every* row of a table that the whole suite
writes to (service_heartbeats: each engine the suite starts leaves its row,
and a health check judges them all).  Not a fixture module: tests bind
``own_database`` in a fixture of theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import sql

from ward import db, pg_auth
from ward.settings import Settings


@contextmanager
def own_database(settings: Settings, prefix: str = "vward_own") -> Iterator[Settings]:
    """Settings of a new, migrated database (dropped afterwards)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    mine = settings.model_copy(update={"pg_database": name})
    pg_auth.ensure_database(mine)
    try:
        db.migrate(mine)
        yield mine
    finally:
        with pg_auth.connect_superuser(settings) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


def env_of(settings: Settings) -> dict[str, str]:
    """The VWARD_* variables that point a spawned `vward` at ``settings``' database."""
    env = settings.as_env()
    return {k: env[k] for k in ("VWARD_PG_DATABASE", "VWARD_DATABASE_URL")}
