"""ward.rabbitmq_users, pure: each user's rights and what a sync imports or deletes."""

from __future__ import annotations

import re

import pytest

from ward import broker_names as names
from ward import mqtt_auth
from ward import rabbitmq_users as users_
from ward.rabbitmq_config import ADMIN_USER


@pytest.mark.parametrize("device", ["dev-1", "a.b", "x_y.z-9"])
def test_a_device_may_publish_and_read_only_its_own_topics(device):
    rights = users_.device_rights(device)
    key = names.routing_key

    def allowed(pattern, topic):
        return re.fullmatch(pattern, key(topic)) is not None

    for kind in ("readings", "status"):
        assert allowed(rights.topic_write, f"ward/v1/devices/{device}/{kind}")
        assert not allowed(rights.topic_write, f"ward/v1/devices/{device}x/{kind}")
        assert not allowed(rights.topic_write, f"ward/v1/devices/other/{kind}")
    assert not allowed(rights.topic_write, f"ward/v1/devices/{device}/rejections")
    for kind in ("rejections", "commands"):
        assert allowed(rights.topic_read, f"ward/v1/devices/{device}/{kind}")
        assert not allowed(rights.topic_read, f"ward/v1/devices/other/{kind}")
    assert not allowed(rights.topic_read, "ward/v1/wards/ward-1/alerts")
    own_queue = f"mqtt-subscription-{device}qos1"
    assert re.fullmatch(rights.configure, own_queue)
    assert re.fullmatch(rights.read, own_queue) and re.fullmatch(rights.write, own_queue)
    assert re.fullmatch(rights.write, names.MQTT_EXCHANGE)
    assert not re.fullmatch(rights.configure, "mqtt-subscription-otherqos1")
    assert not re.fullmatch(rights.read, names.READINGS_QUEUE)
    if "." in device:  # a `.` is any character in a regex: escaped
        assert not re.fullmatch(rights.configure, own_queue.replace(".", "Q"))


def test_ingest_reads_the_queues_and_publishes_rejections_only():
    rights = users_.service_rights(names.INGEST)
    for queue in names.QUEUES:
        assert re.fullmatch(rights.read, queue)
        assert not re.fullmatch(rights.configure, queue)
        assert not re.fullmatch(rights.write, queue)
    assert re.fullmatch(rights.write, names.MQTT_EXCHANGE)
    assert not re.fullmatch(rights.write, names.UNROUTED_EXCHANGE)
    assert rights.topic_write and rights.topic_read
    assert re.fullmatch(rights.topic_write, "ward.v1.devices.d/1.rejections")
    for key in ("ward.v1.devices.d1.readings", "ward.v1.wards.w.alerts", "x", "#"):
        assert not re.fullmatch(rights.topic_write, key)
    # Its MQTT subscription queues are its own client ids' (ingest@vward-...).
    assert re.fullmatch(rights.configure, "mqtt-subscription-ingest@vward-t1qos1")
    assert not re.fullmatch(rights.configure, "mqtt-subscription-dev-1qos1")


def test_alerts_publishes_ward_alerts_and_commands_only_and_monitor_nothing():
    alerts = users_.service_rights(names.ALERTS)
    assert alerts.topic_write and re.fullmatch(alerts.topic_write, "ward.v1.wards.w-1.alerts")
    assert re.fullmatch(alerts.topic_write, "ward.v1.devices.d/1.commands")  # re-measure
    for key in ("ward.v1.devices.d.rejections", "ward.v1.devices.d.readings",
                "ward.v1.devices.d.commands.x", "ward.v1.devices.commands"):
        assert not re.fullmatch(alerts.topic_write, key)
    assert alerts.topic_read and not re.fullmatch(alerts.topic_read, "ward.v1.devices.d.commands")
    for queue in names.QUEUES:
        assert not re.fullmatch(alerts.read, queue)
    monitor = users_.service_rights(names.MONITOR)
    assert (monitor.configure, monitor.write, monitor.read) == ("", "", "")  # "" grants nothing


def test_device_users_skip_devices_without_a_hash_and_reserved_names():
    users = users_.device_users([("a", "h1"), ("b", None), (ADMIN_USER, "h"),
                              ("ward-service", "h"), ("ingest@vward", "h"), ("x@y", "h")])
    assert [u.name for u in users] == ["a"]


def test_a_service_user_keeps_a_hash_that_matches_and_replaces_one_that_does_not():
    old = mqtt_auth.rabbitmq_hash("pw")
    assert users_.service_user(names.INGEST, "pw", old).password_hash == old
    assert users_.service_user(names.INGEST, "pw", old).name == "ingest@vward"
    new = users_.service_user(names.INGEST, "changed", old).password_hash
    assert new != old and mqtt_auth.rabbitmq_verify("changed", new)
    assert mqtt_auth.rabbitmq_verify(
        "pw", users_.service_user(names.INGEST, "pw", None).password_hash)


def _listed(users: list[users_.BrokerUser]):
    doc = users_.definitions(users)
    return ([{**u, "tags": []} for u in doc["users"]], doc["permissions"],
            doc["topic_permissions"])


def test_a_sync_imports_only_what_differs_and_deletes_what_the_database_does_not_know():
    wanted = users_.device_users([(f"d{i}", mqtt_auth.rabbitmq_hash("x")) for i in range(5)])
    assert users_.user_changes(wanted, *_listed(wanted)).empty

    listed_users, perms, topics = _listed(wanted)
    listed_users.append({"name": "gone", "password_hash": "h", "tags": []})
    listed_users.append({"name": ADMIN_USER, "password_hash": "h", "tags": ["administrator"]})
    listed_users[0]["password_hash"] = "changed"          # d0: new password
    perms = [p for p in perms if p["user"] != "d1"]       # d1: lost its permissions
    topics[2]["write"] = ".*"                              # d2: topic rights widened
    changes = users_.user_changes(wanted, listed_users, perms, topics)
    imported = [u["name"] for doc in changes.imports for u in doc["users"]]
    assert imported == ["d0", "d1", "d2"]
    assert changes.delete == ["gone"]


def test_a_large_sync_is_imported_in_chunks_each_complete():
    wanted = users_.device_users([(f"d{i}", "h") for i in range(5)])
    changes = users_.user_changes(wanted, [], [], [], chunk=2)
    assert [len(doc["users"]) for doc in changes.imports] == [2, 2, 1]
    for doc in changes.imports:
        names_ = [u["name"] for u in doc["users"]]
        assert [p["user"] for p in doc["permissions"]] == names_
        assert [p["user"] for p in doc["topic_permissions"]] == names_
        assert all(u["hashing_algorithm"] == mqtt_auth.RABBITMQ_HASHING for u in doc["users"])
