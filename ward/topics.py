"""Where messages between stages go: the MQTT topics of the device contract
(design.md, "Device contract (MQTT)") and the PostgreSQL NOTIFY channels that
wake the alerts engine.  Every publisher, subscriber, ACL and LISTEN builds its
names from here; a topic string written anywhere else is a copy that can drift.
"""

from __future__ import annotations

VERSION_PREFIX = "ward/v1/"
DEVICES_PREFIX = f"{VERSION_PREFIX}devices/"  # + {device_id}/{kind}
WARDS_PREFIX = f"{VERSION_PREFIX}wards/"  # + {ward_id}/alerts

# A device's topics, by kind: it publishes readings and (retained) status, and is
# told on rejections (why a message was refused) and commands.
READINGS = "readings"
STATUS = "status"
REJECTIONS = "rejections"
COMMANDS = "commands"
INBOUND_DEVICE_KINDS = (READINGS, STATUS)
# Topics the ward publishes to devices; a device may not publish on them.
OUTBOUND_DEVICE_KINDS = frozenset({REJECTIONS, COMMANDS})
ALERTS = "alerts"


def device_topic(device_id: str, kind: str) -> str:
    """``ward/v1/devices/{device_id}/{kind}``; ``device_id`` may be a wildcard
    (``+``) or an ACL pattern (``%u``)."""
    return f"{DEVICES_PREFIX}{device_id}/{kind}"


def readings_topic(device_id: str) -> str:
    return device_topic(device_id, READINGS)


def status_topic(device_id: str) -> str:
    return device_topic(device_id, STATUS)


def rejections_topic(device_id: str) -> str:
    return device_topic(device_id, REJECTIONS)


def commands_topic(device_id: str) -> str:
    return device_topic(device_id, COMMANDS)


def alerts_topic(ward_id: str) -> str:
    """``ward/v1/wards/{ward_id}/alerts``: alert events for subscribers."""
    return f"{WARDS_PREFIX}{ward_id}/{ALERTS}"


# Filters over every device: what ingest consumes.
DEVICE_TOPICS = tuple(device_topic("+", kind) for kind in INBOUND_DEVICE_KINDS)
ALL_REJECTIONS = rejections_topic("+")
ALL_COMMANDS = commands_topic("+")  # what the alerts engine may publish to devices
ALL_ALERTS = alerts_topic("+")
# The MQTT v5 option: ingest workers share the device topics.
INGEST_SHARE_GROUP = "ingest"
INGEST_SUBSCRIPTIONS = tuple(f"$share/{INGEST_SHARE_GROUP}/{t}" for t in DEVICE_TOPICS)
INGEST_SESSION_EXPIRY = 14 * 24 * 3600  # [s] a stopped worker's queue outlives a long weekend

# PostgreSQL NOTIFY channels.  New readings (ingest) and a clinician's rescore
# request (ward/clinical.py) both wake the engine to score the queue; an alert's
# change by a clinician wakes it to publish the alert events.
NEW_OBSERVATIONS_CHANNEL = "new_observations"
ALERT_EVENTS_CHANNEL = "alert_events"
