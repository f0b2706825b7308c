"""The broker's users and their rights, pure: each device's and service's
least rights, and what a sync imports into RabbitMQ or deletes so that its
users are the database's (issue 10; docs/security.md).
ward/rabbitmq_admin.py carries the changes out through the management API."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ward import broker_names as names
from ward import mqtt_auth
from ward.rabbitmq_config import ADMIN_USER


@dataclass(frozen=True, slots=True)
class Rights:
    """A user's vhost permissions (regexes), and on MQTT_EXCHANGE its topic
    permissions (None: no topic restriction)."""

    configure: str
    write: str
    read: str
    topic_write: str | None = None
    topic_read: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerUser:
    name: str
    password_hash: str  # mqtt_auth.rabbitmq_hash
    rights: Rights
    tags: str = ""


def device_rights(device_id: str) -> Rights:
    """Its own MQTT subscription queues, publishing its readings and status,
    reading its rejections and commands: nothing of any other device's.  A
    routing key has the id with `.` swapped to `/`."""
    queue = f"mqtt-subscription-{re.escape(device_id)}qos[01]"
    key = re.escape(names.routing_key(device_id))
    exchange = re.escape(names.MQTT_EXCHANGE)
    return Rights(
        configure=f"^{queue}$",
        write=f"^({exchange}|{queue})$",
        read=f"^({exchange}|{queue})$",
        topic_write=rf"^ward\.v1\.devices\.{key}\.(readings|status)$",
        topic_read=rf"^ward\.v1\.devices\.{key}\.(rejections|commands)$",
    )


def service_rights(service: str) -> Rights:
    """Least rights each (issue 10; docs/security.md).  Ingest reads the three
    queues (declared by `vward up`: it declares nothing) and publishes the
    devices' rejections; the alerts engine publishes ward alerts and devices'
    commands; the monitor only connects (its health probe).  As MQTT clients (tests, an operator's
    subscriber) ingest and alerts may also read the topics of their trade,
    through subscription queues named by their own client ids."""
    user = names.service_user(service)
    own = f"mqtt-subscription-{re.escape(user)}.*qos[01]"
    exchange = re.escape(names.MQTT_EXCHANGE)
    if service == names.INGEST:
        queues = "|".join(re.escape(q) for q in names.QUEUES)
        return Rights(configure=f"^{own}$", write=f"^({exchange}|{own})$",
                      read=f"^({exchange}|{queues}|{own})$",
                      topic_write=r"^ward\.v1\.devices\.[^.]+\.rejections$",
                      topic_read=r"^ward\.v1\.devices\.[^.]+\.(readings|status|rejections)$")
    if service == names.ALERTS:
        alerts = r"^ward\.v1\.wards\.[^.]+\.alerts$"
        # ... and the devices' commands (re-measure requests), which it never reads.
        commands = r"^ward\.v1\.devices\.[^.]+\.commands$"
        return Rights(configure=f"^{own}$", write=f"^({exchange}|{own})$",
                      read=f"^({exchange}|{own})$", topic_write=f"{alerts}|{commands}",
                      topic_read=alerts)
    if service == names.MONITOR:
        return Rights(configure="", write="", read="")  # "" grants nothing
    raise ValueError(f"no broker user for {service!r}")


def service_user(service: str, password: str, present_hash: str | None) -> BrokerUser:
    """A service's user, keeping the broker's hash while it still matches the
    password (a new salt each time would re-import it on every sync)."""
    keep = present_hash is not None and mqtt_auth.rabbitmq_verify(password, present_hash)
    hashed = present_hash if keep and present_hash else mqtt_auth.rabbitmq_hash(password)
    return BrokerUser(names.service_user(service), hashed, service_rights(service))


def reserved_users() -> set[str]:
    """User names no device may have at the broker."""
    return {ADMIN_USER, *(names.service_user(s) for s in names.SERVICES),
            *names.LEGACY_SERVICE_USERS}


def device_users(rows: Iterable[tuple[str, str | None]]) -> list[BrokerUser]:
    """Broker users of the devices (device id, RabbitMQ hash).  A device with
    no RabbitMQ hash (registered before migration 009) has none, and one named
    like a reserved user (the admin, a service user: ward/devices.py refuses
    such ids) never replaces it."""
    skip = reserved_users()
    return [BrokerUser(d, h, device_rights(d)) for d, h in rows
            if h and d not in skip and not names.is_service_user(d)]


@dataclass(frozen=True, slots=True)
class UserChanges:
    """What to import (a definitions document, in chunks) and delete."""

    imports: list[dict[str, Any]]
    delete: list[str]

    @property
    def empty(self) -> bool:
        return not self.imports and not self.delete


def user_changes(
    wanted: list[BrokerUser],
    users: list[dict[str, Any]],
    permissions: list[dict[str, Any]],
    topic_permissions: list[dict[str, Any]],
    *,
    keep: Iterable[str] = (ADMIN_USER,),
    chunk: int = 2000,
) -> UserChanges:
    """The broker's users made the database's: import the wanted users whose
    hash, tags or rights differ from what the management API listed (so a
    second sync of 10,000 unchanged devices imports nothing), and delete the
    users the database does not know (except `keep`)."""
    have_user = {u["name"]: (u.get("password_hash"), _tags(u.get("tags"))) for u in users}
    have_perm = {p["user"]: (p["configure"], p["write"], p["read"])
                 for p in permissions if p.get("vhost") == names.VHOST}
    have_topic = {p["user"]: (p["write"], p["read"]) for p in topic_permissions
                  if p.get("vhost") == names.VHOST and p.get("exchange") == names.MQTT_EXCHANGE}
    changed = [
        u for u in wanted
        if have_user.get(u.name) != (u.password_hash, _tags(u.tags))
        or have_perm.get(u.name) != (u.rights.configure, u.rights.write, u.rights.read)
        or have_topic.get(u.name) != _topic(u.rights)
    ]
    known = {u.name for u in wanted} | set(keep)
    stale = sorted(name for name in have_user if name not in known)
    return UserChanges(
        imports=[definitions(changed[i:i + chunk]) for i in range(0, len(changed), chunk)],
        delete=stale,
    )


def definitions(users: list[BrokerUser]) -> dict[str, Any]:
    """A definitions document for the management API's import."""
    return {
        "users": [{"name": u.name, "password_hash": u.password_hash,
                   "hashing_algorithm": mqtt_auth.RABBITMQ_HASHING, "tags": u.tags}
                  for u in users],
        "permissions": [{"user": u.name, "vhost": names.VHOST, "configure": u.rights.configure,
                         "write": u.rights.write, "read": u.rights.read} for u in users],
        "topic_permissions": [
            {"user": u.name, "vhost": names.VHOST, "exchange": names.MQTT_EXCHANGE,
             "write": u.rights.topic_write, "read": u.rights.topic_read}
            for u in users if u.rights.topic_write is not None
        ],
    }


def _tags(tags: object) -> tuple[str, ...]:
    if isinstance(tags, str):
        return tuple(sorted(t for t in tags.split(",") if t))
    return tuple(sorted(tags or ()))  # type: ignore[call-overload]


def _topic(rights: Rights) -> tuple[str, str] | None:
    if rights.topic_write is None:
        return None
    return (rights.topic_write, rights.topic_read or "")
