"""ingest.pipeline: received MQTT messages → a batch to store, the refusals to
publish and the counts to log (design.md, "Device contract (MQTT)" and "What
bad input gets"); pure, no broker, no database.

Which patient a reading belongs to is decided in the database (store.py);
here the database's answer is stood in for by the set of batch refs that no
assignment covered, as `store.write_batch` passes it to `Batch.rejections`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest import decode, pipeline
from ingest.pipeline import Received, device_and_kind

NOW = datetime(2026, 11, 23, 8, 1, tzinfo=UTC)
LIMITS = decode.Limits()
NONE: frozenset[int] = frozenset()


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _msg(
    topic: str,
    payload: bytes,
    received_at: datetime = NOW,
    *,
    retained: bool = False,
    limits: decode.Limits = LIMITS,
) -> Received:
    """A message as the MQTT thread hands it over: decoded on arrival."""
    return pipeline.receive(topic, payload, received_at, retained=retained, limits=limits)


def _readings_msg(
    device: str,
    readings: list[Any],
    message_id: str | None = "m-1",
    received_at: datetime = NOW,
    limits: decode.Limits = LIMITS,
) -> Received:
    body = {"id": message_id, "readings": readings}
    return _msg(
        f"ward/v1/devices/{device}/readings", json.dumps(body).encode(), received_at, limits=limits
    )


def _status_msg(device: str, payload: bytes, received_at: datetime = NOW) -> Received:
    # Forwarded live, a retained publish arrives with the retain flag clear
    # (MQTT 5 "retain as published" is off); only the broker's stored copy,
    # resent on subscription, has it set.
    return _msg(f"ward/v1/devices/{device}/status", payload, received_at, retained=False)


def _prepare(messages: list[Received]) -> pipeline.Prepared:
    return pipeline.prepare_batch(messages)


def _hr(t: datetime, value: Any = 70) -> dict[str, Any]:
    return {"time": _iso(t), "type": "heart_rate", "value": value}


def _refused(feedback: pipeline.Feedback) -> list[tuple[int | None, str]]:
    return [(r["index"], r["code"]) for r in json.loads(feedback.payload)["refused"]]


# --- topics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("ward/v1/devices/dev-1/readings", ("dev-1", "readings")),
        ("ward/v1/devices/dev-1/status", ("dev-1", "status")),
        ("ward/v1/devices/5f2c/rejections", ("5f2c", "rejections")),
        ("ward/v1/devices//readings", (None, None)),
        ("ward/v1/devices/dev-1", (None, None)),
        ("ward/v1/devices/dev-1/readings/extra", (None, None)),
        ("ward/v1/devices/", (None, None)),
        ("ward/v2/devices/dev-1/readings", (None, None)),
        ("ward/v1/wards/w1/alerts", (None, None)),
        ("", (None, None)),
        ("xward/v1/devices/dev-1/readings", (None, None)),
    ],
)
def test_device_and_kind(topic: str, expected: tuple[str | None, str | None]) -> None:
    assert device_and_kind(topic) == expected


def test_receive_decodes_only_readings_topics() -> None:
    msgs = [
        _readings_msg("dev-a", [_hr(NOW)]),
        _status_msg("dev-a", b'{"battery": 80}'),
        _msg("ward/v1/wards/w1/alerts", b"{}"),
        _msg("ward/v1/devices/dev-a/rejections", b"{}"),
        _msg("ward/v1/devices//readings", b"{}"),
    ]
    first = msgs[0].decoded
    assert first is not None and first.message_id == "m-1"
    assert first.readings[0].device_id == "dev-a"  # from the topic, not the payload
    assert [m.decoded for m in msgs[1:]] == [None, None, None, None]


def test_receive_keeps_the_message_as_it_arrived() -> None:
    m = pipeline.receive(
        "ward/v1/devices/dev-a/status",
        b'{"online": false}',
        NOW,
        mid=17,
        qos=0,
        generation=3,
        retained=True,
    )
    assert (m.topic, m.payload, m.received_at, m.mid, m.qos, m.generation, m.retained) == (
        "ward/v1/devices/dev-a/status",
        b'{"online": false}',
        NOW,
        17,
        0,
        3,
        True,
    )
    d = pipeline.receive("ward/v1/devices/dev-a/readings", b"{}", NOW)
    assert (d.mid, d.qos, d.generation, d.retained) == (0, 1, 0, False)  # the defaults


def test_receive_uses_the_limits_given() -> None:
    msg = _readings_msg("dev-a", [_hr(NOW)], limits=decode.Limits(max_payload_bytes=10))
    d = msg.decoded
    assert d is not None and d.refusals[0].code == decode.OVERSIZED


def test_receive_judges_time_against_the_arrival_time() -> None:
    earlier = NOW - timedelta(hours=1)
    d = _readings_msg("dev-a", [_hr(NOW)], received_at=earlier).decoded
    assert d is not None and d.refusals[0].code == decode.FUTURE_TIME


# --- readings → rows ---------------------------------------------------------


def test_good_message_becomes_observation_rows() -> None:
    t = NOW - timedelta(minutes=1)
    p = _prepare(
        [
            _readings_msg(
                "dev-b",
                [
                    _hr(t, 72),
                    {"time": _iso(t), "type": "temperature", "value": 98.6, "unit": "[degF]"},
                ],
            )
        ]
    )
    obs = p.observations
    assert [(o.ref, o.device_id, o.type, o.time, o.received_at) for o in obs] == [
        (0, "dev-b", "heart_rate", t, NOW),
        (1, "dev-b", "temperature", t, NOW),
    ]
    assert obs[0].value == 72.0
    assert obs[1].value == pytest.approx(37.0)
    assert type(obs[0].type) is str  # stored as plain text
    assert p.counts["messages"] == 1 and p.counts["readings"] == 2
    assert p.last_seen == {"dev-b": NOW}
    assert p.rejections(NONE) == [] and p.feedback == []


def test_refs_are_unique_across_the_batch() -> None:
    p = _prepare(
        [
            _readings_msg("dev-a", [_hr(NOW), _hr(NOW, 71)]),
            _readings_msg("dev-b", [_hr(NOW, 72)]),
            _readings_msg("dev-a", [_hr(NOW, 73), _hr(NOW, 74)]),
        ]
    )
    assert [o.ref for o in p.observations] == [0, 1, 2, 3, 4]
    assert [(o.device_id, o.value) for o in p.observations] == [
        ("dev-a", 70.0),
        ("dev-a", 71.0),
        ("dev-b", 72.0),
        ("dev-a", 73.0),
        ("dev-a", 74.0),
    ]


def test_each_reading_names_its_message_for_a_correction() -> None:
    # The store asks only when a reading was stored before (a revision records it).
    p = _prepare(
        [
            _readings_msg("dev-a", [_hr(NOW), _hr(NOW, 71)], message_id="a-1"),
            _readings_msg("dev-b", [_hr(NOW, 72), _hr(NOW, 900)], message_id=None),
            _status_msg("dev-a", b'{"battery": 80}'),
            _readings_msg("dev-a", [_hr(NOW, 73)], message_id="a-2"),
        ]
    )
    assert p.batch().message_ids() == ["a-1", "a-1", None, "a-2"]  # the 900 was refused


def test_backlog_reading_keeps_its_own_measurement_time() -> None:
    # the database maps each reading by its measurement time, not its arrival
    old = NOW - timedelta(hours=9)
    p = _prepare([_readings_msg("dev-a", [_hr(old, 81), _hr(NOW, 82)])])
    assert [(o.time, o.received_at) for o in p.observations] == [(old, NOW), (NOW, NOW)]


def test_batch_hands_the_rows_to_the_store() -> None:
    p = _prepare(
        [
            _readings_msg("dev-b", [_hr(NOW), _hr(NOW, 900)]),
            _status_msg("dev-a", b'{"battery": 50}'),
        ]
    )
    batch = p.batch()
    assert list(batch.observations) == p.observations
    assert list(batch.statuses) == p.statuses and len(batch.statuses) == 1
    assert batch.last_seen == {"dev-b": NOW, "dev-a": NOW}
    rows = batch.rejections(NONE)
    assert [r.reason_code for r in rows] == ["implausible"]


# --- refusals and feedback -----------------------------------------------------


def test_unassigned_reading_refused_rest_kept() -> None:
    t_unassigned = NOW - timedelta(days=3)
    msg = _readings_msg("dev-a", [_hr(NOW), _hr(t_unassigned)])
    p = _prepare([msg])
    ref = p.observations[1].ref
    [row] = p.rejections(frozenset({ref}))
    assert row.reason_code == decode.UNASSIGNED == "unassigned_device"
    assert row.whole is False
    assert row.device_id == "dev-a" and row.message_id == "m-1" and row.topic == msg.topic
    assert row.payload == msg.payload and row.received_at == NOW
    assert row.reason.startswith("reading 1: ")
    assert "dev-a" in row.reason and "not assigned" in row.reason
    assert t_unassigned.isoformat() in row.reason and "heart_rate" in row.reason
    [fb] = p.feedback
    assert fb.topic == "ward/v1/devices/dev-a/rejections"
    assert json.loads(fb.payload)["accepted"] == 1
    assert _refused(fb) == [(1, "unassigned_device")]
    assert p.counts["rejected:unassigned_device"] == 1


def test_unassigned_device_refused_whole() -> None:
    p = _prepare([_readings_msg("dev-x", [_hr(NOW), _hr(NOW - timedelta(minutes=1))])])
    [row] = p.rejections(frozenset(o.ref for o in p.observations))
    assert row.reason_code == "unassigned_device" and row.whole is True
    body = json.loads(p.feedback[0].payload)
    assert body["accepted"] == 0
    assert _refused(p.feedback[0]) == [(0, "unassigned_device"), (1, "unassigned_device")]
    assert p.counts["rejected:unassigned_device"] == 2


def test_unassigned_refusal_index_is_the_position_in_the_message() -> None:
    # Item 0 is refused by decode, item 1 decodes but has no patient, item 2
    # is good: the device is told "0" and "1", the positions it sent them at.
    msg = _readings_msg(
        "dev-a",
        [
            {"time": _iso(NOW), "type": "glucose", "value": 5},
            _hr(NOW - timedelta(days=3)),
            _hr(NOW),
        ],
    )
    p = _prepare([msg])
    assert len(p.observations) == 2
    [row] = p.rejections(frozenset({p.observations[0].ref}))
    assert _refused(p.feedback[0]) == [(0, "unknown_type"), (1, "unassigned_device")]
    assert row.reason_code == "several" and row.whole is False
    assert "reading 1: heart_rate" in row.reason


def test_unassigned_refs_of_another_message_do_not_leak() -> None:
    p = _prepare(
        [
            _readings_msg("dev-a", [_hr(NOW)], message_id="a"),
            _readings_msg("dev-b", [_hr(NOW)], message_id="b"),
        ]
    )
    rows = p.rejections(frozenset({1}))  # dev-b's only reading
    assert [(r.device_id, r.message_id, r.whole) for r in rows] == [("dev-b", "b", True)]
    assert [f.topic for f in p.feedback] == ["ward/v1/devices/dev-b/rejections"]


def test_partial_rejection_row_and_feedback() -> None:
    items = [
        _hr(NOW, 70),  # 0 ok
        _hr(NOW, 900),  # 1 implausible
        {"time": _iso(NOW), "type": "spo2", "value": 140, "unit": "%"},  # 2 implausible
        {"time": _iso(NOW + timedelta(days=2)), "type": "spo2", "value": 95},  # 3 future
        {"time": _iso(NOW), "type": "spo2", "value": 95},  # 4 ok
    ]
    msg = _readings_msg("dev-b", items, message_id="mixed-1")
    p = _prepare([msg])
    assert [(o.type, o.value) for o in p.observations] == [("heart_rate", 70.0), ("spo2", 95.0)]
    [row] = p.rejections(NONE)
    assert row.whole is False
    assert row.reason_code == "several"
    for words in ("reading 1", "heart_rate 900", "reading 2", "spo2 140", "reading 3", "future"):
        assert words in row.reason
    assert row.message_id == "mixed-1"
    assert json.loads(row.payload)["id"] == "mixed-1"  # kept whole
    [fb] = p.feedback
    assert fb.topic == "ward/v1/devices/dev-b/rejections"
    body = json.loads(fb.payload)
    assert body["id"] == "mixed-1" and body["accepted"] == 2
    assert _refused(fb) == [(1, "implausible"), (2, "implausible"), (3, "future_time")]
    assert all(r["reason"] for r in body["refused"])
    assert p.counts["readings"] == 5
    assert p.counts["rejected:implausible"] == 2 and p.counts["rejected:future_time"] == 1


def test_single_reason_code_is_kept_as_is() -> None:
    p = _prepare([_readings_msg("dev-b", [_hr(NOW), _hr(NOW, 900)])])
    assert p.rejections(NONE)[0].reason_code == "implausible"


def test_all_readings_refused_is_a_whole_rejection() -> None:
    p = _prepare([_readings_msg("dev-b", [_hr(NOW, 900), _hr(NOW, 1)])])
    assert p.observations == []
    [row] = p.rejections(NONE)
    assert row.whole is True and row.reason_code == "implausible"
    assert json.loads(p.feedback[0].payload)["accepted"] == 0


def test_malformed_message_rejected_whole() -> None:
    msg = _msg("ward/v1/devices/dev-b/readings", b"{not json", NOW)
    p = _prepare([msg])
    assert p.observations == []
    [row] = p.rejections(NONE)
    assert row.whole is True and row.reason_code == "malformed_json"
    assert row.payload == b"{not json" and row.message_id is None
    [fb] = p.feedback
    assert fb.topic == "ward/v1/devices/dev-b/rejections"
    body = json.loads(fb.payload)
    assert body["id"] is None and body["accepted"] == 0
    assert len(body["refused"]) == 1
    assert body["refused"][0]["index"] is None
    assert body["refused"][0]["code"] == "malformed_json"
    assert "JSON" in body["refused"][0]["reason"]
    assert p.counts["rejected:malformed_json"] == 1
    assert p.counts["readings"] == 0  # a whole refusal is not a reading
    assert p.last_seen == {"dev-b": NOW}  # the device did speak


def test_rejections_can_be_asked_again_with_the_same_answer() -> None:
    # store.write_batch calls Batch.rejections inside its transaction, and the
    # service retries write_batch after a lost connection: a retried batch must
    # neither duplicate feedback nor count its refusals twice.
    p = _prepare([_readings_msg("dev-b", [_hr(NOW), _hr(NOW, 900)])])
    first = p.rejections(NONE)
    second = p.rejections(NONE)
    assert first == second
    assert len(p.feedback) == 1
    assert p.counts["rejected:implausible"] == 1
    assert p.counts["messages"] == 1 and p.counts["readings"] == 2
    # a retry may get a different answer from the database: the refusals are
    # recomputed from it, not added to the first attempt's
    p.rejections(frozenset({p.observations[0].ref}))
    assert p.counts["rejected:implausible"] == 1
    assert p.counts["rejected:unassigned_device"] == 1
    assert [_refused(f) for f in p.feedback] == [[(0, "unassigned_device"), (1, "implausible")]]
    p.rejections(NONE)
    assert p.counts["rejected:unassigned_device"] == 0 and len(p.feedback) == 1


def test_counts_are_the_received_counts_plus_the_refusals() -> None:
    p = _prepare([_readings_msg("dev-b", [_hr(NOW), _hr(NOW, 900)]), _status_msg("dev-a", b"{bad")])
    p.rejections(NONE)
    assert p.counts == p.received_counts + p.refusal_counts
    assert p.received_counts == {"messages": 2, "readings": 2, "rejected:bad_status": 1}
    assert p.refusal_counts == {"rejected:implausible": 1}
    with pytest.raises(AttributeError):
        p.counts = p.received_counts  # type: ignore[misc]


def test_several_messages_in_one_batch() -> None:
    later = NOW + timedelta(seconds=2)
    p = _prepare(
        [
            _readings_msg("dev-a", [_hr(NOW)], message_id="1"),
            _readings_msg("dev-b", [_hr(NOW)], message_id="2", received_at=later),
            _msg("ward/v1/devices/dev-b/readings", b"[]", later),
            _status_msg("dev-a", b'{"battery": 50}', received_at=later),
            _msg("ward/v1/devices/dev-b/rejections", b"{}", later),
        ]
    )
    assert [o.device_id for o in p.observations] == ["dev-a", "dev-b"]
    assert [r.reason_code for r in p.rejections(NONE)] == ["bad_structure"]
    assert len(p.statuses) == 1
    assert p.counts["messages"] == 5
    assert p.counts["ignored_topic"] == 1
    assert p.last_seen == {"dev-a": later, "dev-b": later}


def test_last_seen_keeps_the_latest_arrival() -> None:
    early = NOW - timedelta(seconds=30)
    p = _prepare(
        [
            _readings_msg("dev-b", [_hr(NOW)], received_at=NOW),
            _readings_msg("dev-b", [_hr(NOW)], received_at=early),
        ]
    )
    assert p.last_seen == {"dev-b": NOW}


def test_ignored_topic_is_counted_only() -> None:
    p = _prepare(
        [
            _msg("ward/v1/devices/dev-b/rejections", b'{"x": 1}', NOW),
            _msg("somewhere/else", b"1", NOW),
        ]
    )
    assert p.counts["ignored_topic"] == 2 and p.counts["messages"] == 2
    assert p.observations == [] and p.statuses == [] and p.last_seen == {}
    assert p.rejections(NONE) == [] and p.feedback == []


def test_rejection_feedback_message() -> None:
    refusals = [decode.Refusal("implausible", "reading 2: heart_rate 900 ...", 2)]
    fb = pipeline.rejection_feedback("dev-9", "msg-9", refusals, 3)
    assert fb.topic == "ward/v1/devices/dev-9/rejections"
    assert json.loads(fb.payload) == {
        "id": "msg-9",
        "accepted": 3,
        "refused": [{"index": 2, "code": "implausible", "reason": "reading 2: heart_rate 900 ..."}],
    }


def test_internal_error_row_keeps_the_message_whole() -> None:
    msg = _msg("ward/v1/devices/dev-z/readings", b'{"id": "q"}', NOW)
    row = pipeline.internal_error_row(msg, OverflowError("x" * 1000))
    assert row.reason_code == "internal_error" and row.whole is True
    assert row.device_id == "dev-z" and row.topic == msg.topic and row.payload == msg.payload
    assert row.received_at == NOW
    assert "OverflowError" in row.reason
    assert "x" * 300 in row.reason and "x" * 301 not in row.reason


# --- status ----------------------------------------------------------------------


def test_status_message_parsed() -> None:
    payload = b'{"online": true, "battery": 87, "firmware": "1.4.2", "signal": -67.5}'
    p = _prepare([_status_msg("dev-a", payload)])
    [s] = p.statuses
    assert (s.time, s.device_id, s.online, s.battery, s.firmware, s.signal) == (
        NOW,
        "dev-a",
        True,
        87.0,
        "1.4.2",
        -67.5,
    )
    assert s.raw == {"online": True, "battery": 87, "firmware": "1.4.2", "signal": -67.5}
    assert p.last_seen == {"dev-a": NOW}
    assert p.observations == [] and p.rejections(NONE) == []
    assert p.counts["messages"] == 1 and p.counts["readings"] == 0


def test_a_retained_status_resent_by_the_broker_is_not_a_sign_of_life() -> None:
    from dataclasses import replace

    retained = replace(_status_msg("dev-a", b'{"online": true, "battery": 50}'), retained=True)
    p = _prepare([retained])
    assert [s.battery for s in p.statuses] == [50.0]
    assert p.last_seen == {}


def test_last_will_is_offline() -> None:
    [s] = _prepare([_status_msg("dev-a", b'{"online": false}')]).statuses
    assert s.online is False
    assert (s.battery, s.firmware, s.signal) == (None, None, None)


def test_status_fields_of_the_wrong_type_are_dropped_not_guessed() -> None:
    payload = b'{"online": "yes", "battery": "87", "firmware": 142, "signal": true}'
    [s] = _prepare([_status_msg("dev-a", payload)]).statuses
    assert (s.online, s.battery, s.firmware, s.signal) == (None, None, None, None)
    assert s.raw["battery"] == "87"  # kept as sent


@pytest.mark.parametrize("payload", [b"{bad", b"[1, 2]", b"87", b"", b"\xff"])
def test_bad_status_is_kept_and_told_not_stored(payload: bytes) -> None:
    p = _prepare([_status_msg("dev-a", payload)])
    assert p.statuses == []
    assert p.counts["rejected:bad_status"] == 1
    rows = p.rejections(NONE)
    assert [(r.reason_code, r.whole, r.payload) for r in rows] == [("bad_status", True, payload)]
    (told,) = p.feedback
    assert told.topic == "ward/v1/devices/dev-a/rejections"
    assert json.loads(told.payload)["refused"][0]["code"] == "bad_status"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_status_with_nan_literal_is_bad(literal: str) -> None:
    # NaN / Infinity are not JSON (the readings decoder refuses them); a status
    # carrying one must not become a row: its raw document goes to a jsonb
    # column, which refuses NaN and fails the whole batch's transaction.
    payload = f'{{"online": true, "battery": {literal}}}'.encode()
    p = _prepare([_status_msg("dev-a", payload)])
    assert p.statuses == []
    assert p.counts["rejected:bad_status"] == 1


# --- unrouted messages and the size of feedback (RabbitMQ) ------------------------


def _unrouted(topic: str, payload: bytes) -> Received:
    return pipeline.receive(topic, payload, NOW, unrouted=True, limits=LIMITS)


def test_an_unrouted_message_is_kept_whole_as_a_rejection_never_decoded() -> None:
    """Even one on a readings topic: it reached the ward through no binding of
    ours, so its story is told, not guessed at."""
    odd = _unrouted("ward/v1/devices/dev-u/telemetry", b'{"x": 1}')
    body = json.dumps({"readings": [_hr(NOW)]}).encode()
    lost = _unrouted("ward/v1/devices/dev-u/readings", body)
    assert odd.decoded is None and lost.decoded is None
    p = _prepare([odd, lost])
    rows = p.rejections(NONE)
    assert [(r.topic, r.reason_code, r.whole, r.device_id) for r in rows] == [
        ("ward/v1/devices/dev-u/telemetry", "unrouted_topic", True, "dev-u"),
        ("ward/v1/devices/dev-u/readings", "unrouted_topic", True, "dev-u"),
    ]
    assert rows[0].payload == b'{"x": 1}' and "telemetry" in rows[0].reason
    assert p.observations == [] and p.feedback == [] and p.last_seen == {}
    assert p.counts["rejected:unrouted_topic"] == 2 and p.counts["messages"] == 2


def test_an_unrouted_message_to_devices_or_subscribers_had_no_subscriber() -> None:
    """The ward's own rejections and alerts, published while nobody listens,
    reach the alternate exchange too: counted, not kept as a device's error."""
    p = _prepare(
        [
            _unrouted("ward/v1/devices/dev-u/rejections", b"{}"),
            _unrouted("ward/v1/wards/w-1/alerts", b"{}"),
            _unrouted("ward/v1/devices/dev-u/commands", b"{}"),
        ]
    )
    assert p.rejections(NONE) == []
    assert p.counts["unrouted_outbound"] == 3


def test_feedback_is_capped_whatever_the_message() -> None:
    refusals = [
        decode.Refusal("unknown_unit", f"reading {i}: unit {'x' * 5000!r} is not one we convert", i)
        for i in range(5000)
    ]
    fb = pipeline.rejection_feedback("dev-9", "m" * 128, refusals, 0)
    body = json.loads(fb.payload)
    assert len(fb.payload) <= pipeline.FEEDBACK_MAX_BYTES
    assert body["refused"] and all(len(r["reason"]) <= 300 for r in body["refused"])
    assert len(body["refused"]) + body["more"] == 5000
