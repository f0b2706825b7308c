"""ward.mqtt_auth: Mosquitto 2's "$7$" password hash (PBKDF2-HMAC-SHA512,
12-byte salt) and the files that let each device use only its own topics;
pure, no broker."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from ward import mqtt_auth

HASH_FORMAT = re.compile(r"^\$7\$(\d+)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)$")


def test_hash_format() -> None:
    hashed = mqtt_auth.hash_password("s3cret")
    m = HASH_FORMAT.match(hashed)
    assert m is not None, hashed
    iterations, salt, digest = m.groups()
    assert int(iterations) > 0
    assert len(base64.b64decode(salt, validate=True)) == 12
    assert len(base64.b64decode(digest, validate=True)) == 64  # SHA-512


def test_hash_is_pbkdf2_hmac_sha512_of_the_salt() -> None:
    salt = bytes(range(12))
    expected = hashlib.pbkdf2_hmac("sha512", b"pa55word", salt, 1000)
    hashed = mqtt_auth.hash_password("pa55word", salt=salt, iterations=1000)
    assert hashed == (
        "$7$1000$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(expected).decode()
    )


def test_iterations_are_written_into_the_hash() -> None:
    hashed = mqtt_auth.hash_password("x", salt=b"\x00" * 12, iterations=7)
    assert hashed.startswith("$7$7$AAAAAAAAAAAAAAAA$")
    expected = hashlib.pbkdf2_hmac("sha512", b"x", b"\x00" * 12, 7)
    assert hashed.endswith("$" + base64.b64encode(expected).decode())


def test_fresh_salt_each_time() -> None:
    a, b = mqtt_auth.hash_password("same"), mqtt_auth.hash_password("same")
    assert a != b
    assert a.split("$")[3] != b.split("$")[3]


def test_roundtrip() -> None:
    pw = mqtt_auth.new_password()
    assert mqtt_auth.verify_password(pw, mqtt_auth.hash_password(pw))


def test_roundtrip_non_ascii() -> None:
    assert mqtt_auth.verify_password("pässwörd-🙂", mqtt_auth.hash_password("pässwörd-🙂"))


def test_wrong_password_fails() -> None:
    hashed = mqtt_auth.hash_password("right")
    assert not mqtt_auth.verify_password("wrong", hashed)
    assert not mqtt_auth.verify_password("Right", hashed)
    assert not mqtt_auth.verify_password("", hashed)
    assert not mqtt_auth.verify_password("right ", hashed)


def test_tampered_hash_fails() -> None:
    hashed = mqtt_auth.hash_password("right", salt=b"\x01" * 12)
    _, seven, it, salt, digest = hashed.split("$")
    other_salt = base64.b64encode(b"\x02" * 12).decode()
    assert not mqtt_auth.verify_password("right", f"${seven}${it}${other_salt}${digest}")
    assert not mqtt_auth.verify_password("right", f"${seven}${int(it) + 1}${salt}${digest}")


@pytest.mark.parametrize(
    "hashed", ["", "plain", "$6$1000$AAAA$AAAA", "$7$1000$AAAA", "$7$1000$AAAA$AAAA$AAAA"]
)
def test_wrong_scheme_or_shape_fails(hashed: str) -> None:
    assert mqtt_auth.verify_password("x", hashed) is False


def test_verify_is_checked_against_a_hash_made_by_hand() -> None:
    salt = b"0123456789ab"
    digest = hashlib.pbkdf2_hmac("sha512", b"device-pw", salt, 101)  # mosquitto_passwd's count
    hashed = f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert mqtt_auth.verify_password("device-pw", hashed)
    assert not mqtt_auth.verify_password("device-pX", hashed)


@pytest.mark.parametrize(
    "hashed", ["$7$many$AAAAAAAAAAAAAAAA$AAAA", "$7$1000$abc$abc", "$7$0$AAAAAAAAAAAAAAAA$AAAA"]
)
def test_corrupt_hash_fails_rather_than_raises(hashed: str) -> None:
    # verify_password already answers False for a wrong shape or scheme; a
    # corrupt field inside a "$7$" hash is the same case.
    assert mqtt_auth.verify_password("x", hashed) is False


def test_new_password() -> None:
    pw = mqtt_auth.new_password()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", pw)  # 16 random bytes, URL-safe base64
    assert len({mqtt_auth.new_password() for _ in range(50)}) == 50


def test_password_file_sorted_lines() -> None:
    text = mqtt_auth.password_file({"zeta": "$7$1$z$z", "alpha": "$7$1$a$a", "mid": "$7$1$m$m"})
    assert text == "alpha:$7$1$a$a\nmid:$7$1$m$m\nzeta:$7$1$z$z\n"


def test_password_file_empty() -> None:
    assert mqtt_auth.password_file({}) == ""


def test_password_file_lines_verify() -> None:
    users = {"dev-2": mqtt_auth.hash_password("two"), "dev-1": mqtt_auth.hash_password("one")}
    lines = mqtt_auth.password_file(users).splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["dev-1", "dev-2"]
    assert mqtt_auth.verify_password("one", lines[0].split(":", 1)[1])
    assert mqtt_auth.verify_password("two", lines[1].split(":", 1)[1])


def _acl_lines(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_acl_device_patterns() -> None:
    lines = _acl_lines(mqtt_auth.acl_file())
    patterns = [line for line in lines if line.startswith("pattern ")]
    assert sorted(patterns) == sorted(
        [
            "pattern write ward/v1/devices/%u/readings",
            "pattern write ward/v1/devices/%u/status",
            "pattern read ward/v1/devices/%u/rejections",
            "pattern read ward/v1/devices/%u/commands",
        ]
    )


def _user_topics(lines: list[str], user: str) -> list[str]:
    i = lines.index(f"user {user}")
    out = []
    for line in lines[i + 1:]:
        if not line.startswith("topic "):
            break
        out.append(line)
    return out


def test_acl_each_service_gets_its_trade_and_none_gets_every_topic() -> None:
    """Issue 10, item 4: no service user has `#` any more."""
    lines = _acl_lines(mqtt_auth.acl_file())
    assert not any(line.split()[-1] in ("#", "+/#") for line in lines if " " in line)
    assert _user_topics(lines, "ingest@vward") == [
        "topic read ward/v1/devices/+/readings",
        "topic read ward/v1/devices/+/status",
        "topic readwrite ward/v1/devices/+/rejections",
    ]
    assert _user_topics(lines, "alerts@vward") == ["topic readwrite ward/v1/wards/+/alerts",
                                                   "topic write ward/v1/devices/+/commands"]
    assert "user monitor@vward" not in lines  # it connects, nothing else
    assert "user ward-service" not in lines


def test_acl_gives_nothing_to_anonymous_clients() -> None:
    # In a Mosquitto acl_file, `topic` lines before the first `user` line
    # apply to anonymous clients; patterns name the user (%u) so none match
    # a client without a user name.
    lines = _acl_lines(mqtt_auth.acl_file())
    first_user = next((i for i, line in enumerate(lines) if line.startswith("user ")), len(lines))
    assert not any(line.startswith("topic ") for line in lines[:first_user])
    for line in lines:
        if line.startswith("pattern "):
            assert "%u" in line.split()[2]
            assert "#" not in line and "+" not in line


def test_acl_devices_cannot_write_rejections_nor_read_readings() -> None:
    lines = _acl_lines(mqtt_auth.acl_file())
    access = {line.split()[2]: line.split()[1] for line in lines if line.startswith("pattern ")}
    assert access["ward/v1/devices/%u/rejections"] == "read"
    assert access["ward/v1/devices/%u/readings"] == "write"


def test_subscriptions_a_device_may_make_are_its_own_two_topics_only() -> None:
    rules = mqtt_auth.subscribe_rules()
    assert rules[mqtt_auth.DEVICE_RULE] == ("ward/v1/devices/%u/rejections",
                                            "ward/v1/devices/%u/commands")
    assert not any(f.startswith("$share") for f in rules[mqtt_auth.DEVICE_RULE])
    # Only ingest may join the shared subscription; nobody else is listed for it.
    sharing = [who for who, filters in rules.items() if any("$share" in f for f in filters)]
    assert sharing == ["ingest@vward"]
    conf = mqtt_auth.plugin_config("/x/vward_auth.so")
    assert conf[0] == "plugin /x/vward_auth.so"
    assert ("plugin_opt_subscribe_device ward/v1/devices/%u/rejections"
            " ward/v1/devices/%u/commands") in conf


def test_rabbitmq_hash_is_base64_of_a_4_byte_salt_and_sha256_of_salt_and_password() -> None:
    salt = b"\x01\x02\x03\x04"
    hashed = mqtt_auth.rabbitmq_hash("pa55word", salt=salt)
    raw = base64.b64decode(hashed, validate=True)
    assert raw == salt + hashlib.sha256(salt + b"pa55word").digest()
    # RabbitMQ's own documented example (passwords.html, "Computing password hashes").
    assert mqtt_auth.rabbitmq_verify("test12", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR")


def test_rabbitmq_hash_salts_each_time_and_verifies() -> None:
    a, b = mqtt_auth.rabbitmq_hash("s3cret"), mqtt_auth.rabbitmq_hash("s3cret")
    assert a != b
    assert mqtt_auth.rabbitmq_verify("s3cret", a) and mqtt_auth.rabbitmq_verify("s3cret", b)
    assert not mqtt_auth.rabbitmq_verify("other", a)
    assert not mqtt_auth.rabbitmq_verify("s3cret", "not base64!")
    assert not mqtt_auth.rabbitmq_verify("s3cret", base64.b64encode(b"short").decode())
