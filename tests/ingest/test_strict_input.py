"""What the standard library's JSON let through or crashed on (issue 10, items
7, 9 and 10), refused by the pure decoders with a code of its own; pure."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest import decode, jsontext, pipeline, retries, store
from ingest.decode import Limits, decode_message
from ingest.status import Status, decode_status

NOW = datetime(2026, 11, 23, 8, 1, tzinfo=UTC)
T0 = "2026-11-23T08:00:00Z"
GOOD = {"time": T0, "type": "spo2", "value": 96}


def _decode(payload: bytes) -> decode.Decoded:
    return decode_message(payload, "dev-a", now=NOW, limits=Limits())


def _codes(d: decode.Decoded) -> list[tuple[str, int | None]]:
    return [(r.code, r.index) for r in d.refusals]


def test_a_message_nested_10000_deep_is_too_deep_not_a_recursion_error() -> None:
    d = _decode(b'{"readings": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")
    assert _codes(d) == [(decode.TOO_DEEP, None)] and d.readings == ()


def test_a_reading_with_a_key_twice_is_refused_as_ambiguous_and_the_others_kept() -> None:
    twice = '{"time": "%s", "type": "spo2", "type": "heart_rate", "value": 72}' % T0  # noqa: UP031
    d = _decode(('{"id": "m", "readings": [%s, %s]}' % (twice, json.dumps(GOOD))).encode())  # noqa: UP031
    assert _codes(d) == [(decode.DUPLICATE_KEY, 0)]
    assert "'type'" in d.refusals[0].reason and "ambiguous" in d.refusals[0].reason
    assert [r.type for r in d.readings] == ["spo2"] and d.positions == (1,)


def test_a_message_with_its_own_key_twice_is_refused_whole() -> None:
    d = _decode(b'{"id": "a", "id": "b", "readings": [%s]}' % json.dumps(GOOD).encode())
    assert _codes(d) == [(decode.DUPLICATE_KEY, None)]


def test_a_key_twice_where_nothing_reads_it_is_harmless() -> None:
    d = _decode(b'{"id": "a", "readings": [{"time": "%s", "type": "spo2", "value": 96,'
                b' "note": {"x": 1, "x": 2}}]}' % T0.encode())
    assert d.refusals == () and len(d.readings) == 1


def test_a_fhir_observation_with_a_key_twice_is_refused_and_the_bundles_others_kept() -> None:
    def obs(loinc: str, value: float, dup: bool = False) -> str:
        q = f'"value": {value}, "value": 1, "code": "%"' if dup else f'"value": {value}'
        return ('{"resource": {"resourceType": "Observation", "status": "final",'
                f' "code": {{"coding": [{{"system": "http://loinc.org", "code": "{loinc}"}}]}},'
                f' "effectiveDateTime": "{T0}", "valueQuantity": {{{q}}}}}}}')
    bundle = ('{"resourceType": "Bundle", "type": "collection", "entry": [%s, %s]}'  # noqa: UP031
              % (obs("59408-5", 96, dup=True), obs("8867-4", 72)))
    d = _decode(bundle.encode())
    assert _codes(d) == [(decode.DUPLICATE_KEY, 0)]
    assert [(str(r.type), r.value) for r in d.readings] == [("heart_rate", 72.0)]


@pytest.mark.parametrize("message_id", ["a\x00b", "\ud800"])
def test_an_id_the_ward_cannot_record_is_bad_id(message_id: str) -> None:
    payload = json.dumps({"id": message_id, "readings": [GOOD]}).encode()
    d = _decode(payload)
    assert _codes(d) == [(decode.BAD_ID, None)] and d.readings == ()
    assert jsontext.storable(d.refusals[0].reason)


def test_a_nul_in_a_readings_text_is_refused_with_that_readings_code() -> None:
    bad = [
        {"time": T0, "type": "spo2\x00", "value": 96},
        {"time": T0 + "\x00", "type": "spo2", "value": 96},
        {"time": T0, "type": "spo2", "value": 96, "unit": "%\x00"},
        {"time": T0, "type": "consciousness", "value": "A\x00"},
    ]
    d = _decode(json.dumps({"id": "m", "readings": [*bad, GOOD]}).encode())
    assert _codes(d) == [
        (decode.UNKNOWN_TYPE, 0), (decode.BAD_TIME, 1), (decode.UNKNOWN_UNIT, 2),
        (decode.BAD_VALUE, 3)]
    assert all(jsontext.storable(r.reason) for r in d.refusals)
    assert len(d.readings) == 1


def test_100000_refusals_make_a_reason_of_a_few_kb_and_feedback_of_20() -> None:
    payload = b'{"readings": [' + b",".join([b"0"] * 100_000) + b"]}"
    d = _decode(payload)
    assert len(d.refusals) == 100_000
    code, reason = decode.describe(d.refusals)
    assert code == decode.BAD_STRUCTURE
    assert len(reason.encode()) < 4096
    assert reason.endswith("; and 99980 more (bad_structure 99980)")
    told = pipeline.rejection_feedback("dev-a", None, list(d.refusals), 0)
    body = json.loads(told.payload)
    assert len(told.payload) < pipeline.FEEDBACK_MAX_BYTES
    assert len(body["refused"]) == decode.REASONS_NAMED and body["more"] == 99_980


def test_a_long_reason_is_cut_to_a_line() -> None:
    refusals = [decode.Refusal(decode.BAD_VALUE, "x" * 5000, 0)]
    _, reason = decode.describe(refusals)
    assert len(reason) == 300 and reason.endswith("...")


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b'{"online": true, "firmware": "2.\\u00001"}', "NUL"),
        (b'{"online": true, "battery": 1e400}', "too large"),
        (b'{"online": true, "battery": ' + b"9" * 400 + b"}", "too large"),
        (b'{"online": true, "battery": -50}', "outside 0"),
        (b'{"online": true, "battery": 100.5}', "outside 0"),
        (b'{"signal": 1e999}', "too large"),
        (b'{"x": {"y": "\\ud800"}}', "surrogate"),
        (b"\x00\xffgarbage", "malformed_json"),
        (b"[1, 2]", "JSON object"),
        (b'{"online": true, "online": false}', "duplicate_key"),
        (b'{"a": ' * 20 + b"1" + b"}" * 20, "too_deep"),
    ],
)
def test_a_status_that_cannot_be_kept_as_sent_is_bad_status(payload: bytes, why: str) -> None:
    refused = decode_status(payload, Limits())
    assert isinstance(refused, decode.Refusal), refused
    assert refused.code == decode.BAD_STATUS and why in refused.reason
    assert jsontext.storable(refused.reason)


def test_a_good_status_and_a_last_will_are_kept() -> None:
    s = decode_status(b'{"battery": 100, "firmware": "1.2", "signal": -61, "online": true}',
                      Limits())
    assert s == Status(True, 100.0, "1.2", -61.0,
                       {"battery": 100, "firmware": "1.2", "signal": -61, "online": True})
    assert decode_status(b'{"online": false}', Limits()) == Status(
        False, None, None, None, {"online": False})


def test_what_a_rejection_row_cannot_hold_is_escaped_at_the_last_guard() -> None:
    assert store._text("a\x00b\ud800") == "a\\x00b\\ud800"
    assert store._text("fine") == "fine" and store._text(None) is None


def test_a_message_key_is_its_topic_and_payload() -> None:
    m = pipeline.Received("ward/v1/devices/a/status", b"{}", NOW)
    same = pipeline.Received("ward/v1/devices/a/status", b"{}", NOW, mid=7, redelivered=True)
    other = pipeline.Received("ward/v1/devices/b/status", b"{}", NOW)
    assert retries.message_key(m) == retries.message_key(same) != retries.message_key(other)


def test_a_message_receive_failed_on_is_kept_as_internal_error() -> None:
    m = pipeline.unreadable("ward/v1/devices/a/readings", b"x", NOW, RecursionError("deep"))
    p = pipeline.prepare_batch([m])
    (row,) = p.rejections(frozenset())
    assert (row.reason_code, row.whole, row.payload) == ("internal_error", True, b"x")
    assert "RecursionError: deep" in row.reason
    assert p.counts["rejected:internal_error"] == 1 and p.observations == []


@pytest.mark.parametrize("colon", [': ', ' : ', '\n:', '\t :'])
def test_a_long_message_counted_not_marked_still_finds_a_key_twice(colon: str) -> None:
    """Past 1 kB a message is parsed without marking and its keys counted
    (jsontext.keys_unambiguous); however the key and its colon are spaced,
    a key given twice is still found."""
    fillers = ", ".join(json.dumps({**GOOD, "time": f"2026-11-23T07:{m:02d}:00Z"})
                        for m in range(30))
    twice = ('{"time": "%s", "type"%s"spo2", "type"%s"heart_rate", "value": 72}'  # noqa: UP031
             % (T0, colon, colon))
    payload = ('{"id": "long", "readings": [%s, %s]}' % (fillers, twice)).encode()  # noqa: UP031
    assert len(payload) > 1024
    d = _decode(payload)
    assert _codes(d) == [(decode.DUPLICATE_KEY, 30)] and len(d.readings) == 30
    assert jsontext.keys_unambiguous(payload, 2 + 30 * 3 + 3) is False


def test_a_long_message_without_a_key_twice_is_counted_unambiguous() -> None:
    payload = json.dumps({"id": "long", "readings": [
        {**GOOD, "time": f"2026-11-23T07:{m:02d}:00Z"} for m in range(30)]}).encode()
    assert len(payload) > 1024 and jsontext.keys_unambiguous(payload, 2 + 30 * 3)
    assert _decode(payload).refusals == ()
