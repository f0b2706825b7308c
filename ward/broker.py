"""Who the broker lets in, whichever broker it is (VWARD_BROKER): the ward
gives the broker `vward up` runs (or an external RabbitMQ whose admin
password it holds) the devices' users from the database.  RabbitMQ takes
them through its management API (ward/rabbitmq_admin.py), Mosquitto from its
password and ACL files (ward/mosquitto.py)."""

from __future__ import annotations

import psycopg

from ward import db, mosquitto, rabbitmq_config
from ward.broker_names import RABBITMQ
from ward.settings import Settings


def manages_users(settings: Settings) -> bool:
    """Whether the ward gives the broker its users: the broker `vward up`
    runs, or an external RabbitMQ whose admin password the ward was given."""
    if not settings.mqtt_external:
        return True
    return (settings.broker == RABBITMQ
            and rabbitmq_config.admin_password_file(settings.home).exists())


def sync_users(settings: Settings, conn: psycopg.Connection | None = None, *,
               new: list[str] | None = None) -> str:
    """Give the broker the database's device credentials: RabbitMQ's users
    (only what changed; only the devices `new` when they are named, as after
    a registration), or Mosquitto's password and ACL files.  Returns a line
    for the operator."""
    from ward import devices

    if conn is None:
        with db.connect(settings) as own:
            return sync_users(settings, own, new=new)
    if settings.broker == RABBITMQ:
        from ward import rabbitmq_admin

        r = rabbitmq_admin.sync_users(settings, devices.rabbitmq_hashes(conn, new),
                                      full=new is None)
        return (f"broker users: {r.imported} created or updated, {r.deleted} removed"
                f" ({r.seconds:.1f} s)")
    mosquitto.write_credentials(settings, devices.password_hashes(conn))
    return "broker credentials written"


def write_credentials(settings: Settings, device_hashes: dict[str, str]) -> None:
    """Let the devices of `device_hashes` (Mosquitto's hashes) in.  With
    RabbitMQ the users come from the database's RabbitMQ hashes instead
    (`sync_users`), when the ward manages them."""
    if settings.broker == RABBITMQ:
        if manages_users(settings):
            sync_users(settings)
    else:
        mosquitto.write_credentials(settings, device_hashes)
