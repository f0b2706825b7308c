"""psycopg only: a ward's protocol (wards.protocol, migration 020) as `vward ward
add` and the API set and read it.  Which protocols exist, and what each
watches, is ward/protocols.py's table."""

from __future__ import annotations

import psycopg

from ward import devices
from ward.errors import NotFound, WardError
from ward.protocols import NAMES


def check(protocol: str) -> str:
    if protocol not in NAMES:
        raise WardError(f"unknown protocol {protocol!r}; a ward runs one of: {', '.join(NAMES)}")
    return protocol


def add_ward(conn: psycopg.Connection, ward_id: str, protocol: str, *,
             name: str | None = None) -> bool:
    """Create the ward running ``protocol``, or set the protocol (and the name, when
    given) of a ward that exists.  Returns whether it was created."""
    check(protocol)
    devices.check_id(ward_id, "ward id")
    row = conn.execute(
        "INSERT INTO wards (ward_id, name, protocol) VALUES (%s, %s, %s)"
        " ON CONFLICT (ward_id) DO UPDATE SET protocol = EXCLUDED.protocol,"
        " name = CASE WHEN %s THEN EXCLUDED.name ELSE wards.name END"
        " RETURNING (xmax = 0)", (ward_id, name or ward_id, protocol, name is not None)
    ).fetchone()
    return bool(row and row[0])


def set_protocol(conn: psycopg.Connection, ward_id: str, protocol: str) -> None:
    """An existing ward runs ``protocol`` from now on (NotFound if there is none)."""
    check(protocol)
    if conn.execute("UPDATE wards SET protocol = %s WHERE ward_id = %s",
                    (protocol, ward_id)).rowcount == 0:
        raise NotFound(f"no ward {ward_id}")


def protocol_of(conn: psycopg.Connection, ward_id: str) -> str:
    row = conn.execute("SELECT protocol FROM wards WHERE ward_id = %s", (ward_id,)).fetchone()
    if row is None:
        raise NotFound(f"no ward {ward_id}")
    return row[0]
