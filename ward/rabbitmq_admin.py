"""RabbitMQ's HTTP management API on loopback, as the ward's admin user:
declare the topology, sync the users from the database, and read what the
cluster says about its nodes and queues.  httpx only; ward/rabbitmq_config.py
and ward/rabbitmq_users.py decide what is sent."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ward import broker_names as names
from ward import broker_users, rabbitmq_users
from ward import rabbitmq_config as cfg
from ward.errors import ServiceError
from ward.settings import Settings

log = logging.getLogger(__name__)

# Imports run side by side: RabbitMQ syncs each user, permission and topic
# permission to disk on its own, and batches the syncs of concurrent imports.
_IMPORT_THREADS = 4
_TIMEOUT = 120.0  # [s] a definitions import of thousands of users


def admin_password(settings: Settings) -> str:
    path = cfg.admin_password_file(settings.home)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ServiceError(
            f"no RabbitMQ admin password at {path}: run `vward up` first (or, for a"
            f" cluster of your own, write the password of its {cfg.ADMIN_USER} user there)"
        ) from None


def client(settings: Settings, node_index: int = 0) -> httpx.Client:
    """The management API of one of our nodes, or with VWARD_MQTT_EXTERNAL
    that of the operator's cluster at VWARD_MQTT_HOST:VWARD_BROKER_ADMIN_PORT
    (docs/scaling.md, "Three machines")."""
    n = cfg.node(settings, node_index)
    host = settings.mqtt_host if settings.mqtt_external else "127.0.0.1"
    return httpx.Client(
        base_url=f"http://{host}:{n.admin_port}/api",
        auth=(cfg.ADMIN_USER, admin_password(settings)),
        timeout=_TIMEOUT,
    )


def _call(api: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = api.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ServiceError(f"RabbitMQ's management API ({api.base_url}) failed: {exc}") from exc
    if response.status_code >= 400:
        raise ServiceError(
            f"RabbitMQ's management API refused {method} {path}:"
            f" {response.status_code} {response.text[:300]}"
        )
    return response.json() if response.content else None


def import_definitions(api: httpx.Client, document: dict[str, Any]) -> None:
    _call(api, "POST", "/definitions", json=document)


def declare_topology(api: httpx.Client) -> None:
    import_definitions(api, cfg.topology())


def running_nodes(api: httpx.Client) -> set[str]:
    return {n["name"] for n in _call(api, "GET", "/nodes") if n.get("running")}


def queues(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """The ward's queues by name: type, members, messages (as of the last
    statistics interval, 5 s)."""
    listed = _call(api, "GET", f"/queues/{quote(names.VHOST, safe='')}")
    return {q["name"]: q for q in listed}


@dataclass(frozen=True, slots=True)
class SyncResult:
    imported: int
    deleted: int
    seconds: float


def sync_users(
    settings: Settings, device_rows: Iterable[tuple[str, str | None]], *, full: bool = True
) -> SyncResult:
    """Make the broker's users the database's: the service users and every
    device (id, RabbitMQ hash) with exactly its rights; only what differs is
    imported, users the database does not know are deleted.  With `full`
    false, `device_rows` are just devices registered now: they are imported
    as they are, without reading the broker's 10,000 other users first."""
    started = time.perf_counter()
    if not full:
        registered = rabbitmq_users.device_users(device_rows)
        changes = rabbitmq_users.UserChanges(
            imports=[rabbitmq_users.definitions(registered)], delete=[])
        with client(settings) as api:
            import_definitions(api, changes.imports[0])
        return SyncResult(len(changes.imports[0]["users"]), 0, time.perf_counter() - started)
    with client(settings) as api:
        users = _call(api, "GET", "/users")
        present = {u["name"]: u.get("password_hash") for u in users}
        # The service users of issue 10; the one of before (ward-service),
        # like any user the database does not know, is deleted.
        wanted = [
            *(rabbitmq_users.service_user(s, c.password, present.get(c.username))
              for s, c in zip(names.SERVICES, broker_users.all_credentials(settings),
                              strict=True)),
            *rabbitmq_users.device_users(device_rows),
        ]
        changes = rabbitmq_users.user_changes(
            wanted, users, _call(api, "GET", "/permissions"),
            _call(api, "GET", "/topic-permissions"),
        )
        if len(changes.imports) > 1:
            with ThreadPoolExecutor(_IMPORT_THREADS, thread_name_prefix="vward-import") as pool:
                list(pool.map(lambda doc: import_definitions(api, doc), changes.imports))
        elif changes.imports:
            import_definitions(api, changes.imports[0])
        if changes.delete:
            _call(api, "POST", "/users/bulk-delete", json={"users": changes.delete})
    imported = sum(len(doc["users"]) for doc in changes.imports)
    seconds = time.perf_counter() - started
    log.info("broker users synced: %d imported, %d deleted in %.1f s",
             imported, len(changes.delete), seconds)
    return SyncResult(imported, len(changes.delete), seconds)
