"""Broker credentials, pure: Mosquitto's and RabbitMQ's password hashes, and
the files that let each device publish only under its own topics on Mosquitto
(RabbitMQ's per-device rights are ward/rabbitmq_users.py's)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from ward import broker_names as names
from ward.topics import (
    ALL_ALERTS,
    ALL_COMMANDS,
    ALL_REJECTIONS,
    DEVICE_TOPICS,
    INGEST_SUBSCRIPTIONS,
    commands_topic,
    readings_topic,
    rejections_topic,
    status_topic,
)

_MINE = "%u"  # Mosquitto's pattern for the connecting user: a device's own id

# Mosquitto 2's "$7$" format: PBKDF2-HMAC-SHA512 with a 12-byte salt.
_ITERATIONS = 1000
_SALT_BYTES = 12


def new_password() -> str:
    """A device password: 128 bits, URL-safe, easy to paste into a device."""
    return secrets.token_urlsafe(16)


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS
) -> str:
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, seven, iterations, salt, _digest = hashed.split("$")
        if seven != "7" or int(iterations) < 1:
            return False
        expected = hash_password(
            password, salt=base64.b64decode(salt, validate=True), iterations=int(iterations)
        )
    except ValueError:  # a corrupt hash (binascii.Error is a ValueError)
        return False
    return secrets.compare_digest(expected, hashed)


# RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)).
RABBITMQ_HASHING = "rabbit_password_hashing_sha256"
_RABBITMQ_SALT_BYTES = 4


def rabbitmq_hash(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(_RABBITMQ_SALT_BYTES)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def rabbitmq_verify(password: str, hashed: str) -> bool:
    try:
        raw = base64.b64decode(hashed, validate=True)
    except ValueError:
        return False
    if len(raw) != _RABBITMQ_SALT_BYTES + 32:
        return False
    expected = rabbitmq_hash(password, salt=raw[:_RABBITMQ_SALT_BYTES])
    return secrets.compare_digest(expected, hashed)


def password_file(users: dict[str, str]) -> str:
    """`user:hash` lines, sorted for a stable file."""
    return "".join(f"{user}:{hashed}\n" for user, hashed in sorted(users.items()))


def acl_file() -> str:
    """What each user may publish and be delivered on Mosquitto: a device
    (its user name is its device id) only its own topics, each service only
    its trade (issue 10: least rights; monitor@vward connects only; the alerts
    engine also writes devices' commands, issue 13's re-measure requests).  The
    ACL file does not check SUBSCRIBE: the ward's plugin does
    (`subscribe_rules`)."""
    ingest = names.service_user(names.INGEST)
    alerts = names.service_user(names.ALERTS)
    lines = [
        "# written by vward; a device publishes only under its own topics",
        f"user {ingest}",
        *(f"topic read {t}" for t in DEVICE_TOPICS),
        f"topic readwrite {ALL_REJECTIONS}",
        "",
        f"user {alerts}",
        f"topic readwrite {ALL_ALERTS}",
        f"topic write {ALL_COMMANDS}",
        "",
        f"pattern write {readings_topic(_MINE)}",
        f"pattern write {status_topic(_MINE)}",
        f"pattern read {rejections_topic(_MINE)}",
        f"pattern read {commands_topic(_MINE)}",
        "",
    ]
    return "\n".join(lines)


# The filters a client may SUBSCRIBE to on Mosquitto (the ward's plugin,
# ward/plugin_sources/vward_mosquitto_auth.c): a device only its own
# rejections and commands (no `$share`, no wildcard); ingest its shared
# subscriptions and, as a plain client (a copy of each message, not a share),
# the topics of its trade or any one topic under them; the alerts engine the
# ward alerts; nobody else anything.
DEVICE_RULE = "device"


def subscribe_rules() -> dict[str, tuple[str, ...]]:
    return {
        DEVICE_RULE: (rejections_topic(_MINE), commands_topic(_MINE)),
        names.service_user(names.INGEST): (*INGEST_SUBSCRIPTIONS, *DEVICE_TOPICS,
                                           ALL_REJECTIONS),
        names.service_user(names.ALERTS): (ALL_ALERTS,),
    }


def plugin_config(plugin: str) -> list[str]:
    """mosquitto.conf's lines that load the ward's plugin with its rules."""
    return [f"plugin {plugin}",
            *(f"plugin_opt_subscribe_{who} {' '.join(filters)}"
              for who, filters in subscribe_rules().items())]
