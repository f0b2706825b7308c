"""A message that really fails to be stored (issue 10, item 8): a trigger on
`device_status` for one device that makes PostgreSQL drop the writer's
connection, or hang, when that device's status is written.  Not a mock: the
database itself fails, as a server bug tripped by one value would, or a
pathological plan; since the fixes of items 7, 9 and 10 no payload is known
that fails ingest's own code."""

from __future__ import annotations

import psycopg
from conftest import unique

# Backends hung in a poison trigger.
SLEEPING = ("SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
            " AND query LIKE '%device_status%'")
DROP_CONNECTION = "PERFORM pg_terminate_backend(pg_backend_pid())"
HANG = "PERFORM pg_sleep(600)"


def install(conn: psycopg.Connection, device_id: str, action: str) -> str:
    """A trigger doing `action` when `device_id`'s status is written; its name."""
    name = unique("poison").replace("-", "_")
    conn.execute(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF NEW.device_id = '{device_id}' THEN {action}; END IF; RETURN NEW; END $$")
    conn.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON device_status"
                 f" FOR EACH ROW EXECUTE FUNCTION {name}()")
    return name


def end_hung(conn: psycopg.Connection) -> None:
    conn.execute(f"SELECT pg_terminate_backend(pid) FROM ({SLEEPING}) s")


def drop(conn: psycopg.Connection, name: str) -> None:
    """Drop a poison trigger; a backend hung in it holds device_status, so it
    is ended first (again, should a worker still running start another)."""
    conn.execute("SET lock_timeout = '2s'")
    for _ in range(10):
        end_hung(conn)
        try:
            conn.execute(f"DROP TRIGGER IF EXISTS {name} ON device_status")
            break
        except psycopg.errors.LockNotAvailable:
            continue
    conn.execute(f"DROP FUNCTION IF EXISTS {name}() CASCADE")
    conn.execute("RESET lock_timeout")
