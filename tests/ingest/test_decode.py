"""ingest.decode: bytes → readings or refusals with a reason (design.md,
"Device contract (MQTT)" and "What bad input gets"); pure, no services."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import decode
from ingest.decode import Decoded, Limits, Refusal, decode_message
from ward.domain import ReadingType

NOW = datetime(2026, 11, 23, 8, 1, tzinfo=UTC)
T0 = "2026-11-23T08:00:00Z"
T0_DT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DEVICE = "dev-1"


def _payload(readings: Any, message_id: Any = "m-1") -> bytes:
    return json.dumps({"id": message_id, "readings": readings}).encode()


DEFAULT_LIMITS = Limits()


def _decode(payload: bytes, *, now: datetime = NOW, limits: Limits = DEFAULT_LIMITS) -> Decoded:
    return decode_message(payload, DEVICE, now=now, limits=limits)


def _one(item: dict[str, Any], *, now: datetime = NOW) -> Decoded:
    return _decode(_payload([item]), now=now)


def _value(type_: str, value: Any, unit: str | None = None, time: str = T0) -> float:
    """Decode one reading that must be accepted; its stored value."""
    item: dict[str, Any] = {"time": time, "type": type_, "value": value}
    if unit is not None:
        item["unit"] = unit
    d = _one(item)
    assert d.refusals == (), d.refusals
    assert len(d.readings) == 1
    return d.readings[0].value


def _refusal(type_: str, value: Any, unit: Any = None, time: Any = T0) -> Refusal:
    """Decode one reading that must be refused; its refusal."""
    item: dict[str, Any] = {"time": time, "type": type_, "value": value}
    if unit is not None:
        item["unit"] = unit
    d = _one(item)
    assert d.readings == ()
    assert len(d.refusals) == 1
    r = d.refusals[0]
    assert r.index == 0
    assert r.reason.startswith("reading 0: ")
    return r


# --- the design.md example ---------------------------------------------------

DESIGN_EXAMPLE = b"""{"id": "5f2c-0042",
 "readings": [
   {"time": "2026-11-23T08:00:00Z", "type": "heart_rate", "value": 72, "unit": "/min"},
   {"time": "2026-11-23T08:00:00Z", "type": "spo2", "value": 96, "unit": "%"},
   {"time": "2026-11-23T08:00:00Z", "type": "on_oxygen", "value": false}
 ]}"""


def test_design_example_decodes_to_three_readings() -> None:
    d = _decode(DESIGN_EXAMPLE)
    assert d.message_id == "5f2c-0042"
    assert d.refusals == ()
    assert not d.whole_refused
    assert d.positions == (0, 1, 2)
    assert [(r.type, r.value) for r in d.readings] == [
        (ReadingType.HEART_RATE, 72.0),
        (ReadingType.SPO2, 96.0),
        (ReadingType.ON_OXYGEN, 0.0),
    ]
    for r in d.readings:
        assert r.time == T0_DT
        assert r.device_id == DEVICE
        assert type(r.value) is float


def test_reading_without_unit_is_in_its_types_unit() -> None:
    assert _value("heart_rate", 72) == 72.0
    assert _value("temperature", 37.2) == 37.2
    assert _value("systolic_bp", 120) == 120.0


def test_time_with_offset_is_the_same_instant() -> None:
    d = _one({"time": "2026-11-23T09:00:00+01:00", "type": "heart_rate", "value": 70})
    assert d.readings[0].time == T0_DT


def test_message_id_forms() -> None:
    item = {"time": T0, "type": "heart_rate", "value": 70}
    assert _decode(_payload([item], message_id=42)).message_id == "42"
    assert _decode(_payload([item], message_id=True)).message_id is None
    assert _decode(_payload([item], message_id=None)).message_id is None
    assert _decode(json.dumps({"readings": [item]}).encode()).message_id is None
    assert _decode(_payload([item], message_id="x" * 500)).message_id == "x" * 128


# --- whole-message refusals --------------------------------------------------


def _whole(d: Decoded, code: str) -> Refusal:
    assert d.readings == ()
    assert d.whole_refused
    assert len(d.refusals) == 1
    r = d.refusals[0]
    assert r.index is None
    assert r.code == code
    assert r.reason
    return r


def test_oversized_payload_refused() -> None:
    limits = Limits(max_payload_bytes=100)
    big = _payload([{"time": T0, "type": "heart_rate", "value": 70}] * 5)
    assert len(big) > 100
    r = _whole(_decode(big, limits=limits), decode.OVERSIZED)
    assert str(len(big)) in r.reason
    assert "100" in r.reason


def test_payload_exactly_at_the_limit_is_accepted() -> None:
    p = _payload([{"time": T0, "type": "heart_rate", "value": 70}])
    d = _decode(p, limits=Limits(max_payload_bytes=len(p)))
    assert len(d.readings) == 1 and d.refusals == ()
    d = _decode(p, limits=Limits(max_payload_bytes=len(p) - 1))
    _whole(d, decode.OVERSIZED)


def test_default_limit_is_256_kib() -> None:
    padded = b'{"readings": [' + b" " * (256 * 1024) + b"]}"
    _whole(_decode(padded), decode.OVERSIZED)


@pytest.mark.parametrize("payload", [b"{not json", b"", b'{"readings": [', b"\xff\xfe\x00"])
def test_malformed_json_refused(payload: bytes) -> None:
    r = _whole(_decode(payload), decode.MALFORMED)
    assert "JSON" in r.reason


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_refused(literal: str) -> None:
    payload = f'{{"readings": [{{"time": "{T0}", "type": "heart_rate", "value": {literal}}}]}}'
    r = _whole(_decode(payload.encode()), decode.MALFORMED)
    assert literal in r.reason


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"[1, 2]", "list"),
        (b"42", "int"),
        (b'"readings"', "str"),
        (b"null", "NoneType"),
        (b"true", "bool"),
    ],
)
def test_non_object_json_refused(payload: bytes, kind: str) -> None:
    r = _whole(_decode(payload), decode.BAD_STRUCTURE)
    assert "object" in r.reason and kind in r.reason


@pytest.mark.parametrize(
    "doc",
    [
        {"id": "m"},
        {"id": "m", "readings": []},
        {"id": "m", "readings": None},
        {"id": "m", "readings": {"type": "heart_rate"}},
        {"id": "m", "readings": "x"},
    ],
)
def test_missing_or_empty_readings_refused(doc: dict[str, Any]) -> None:
    d = _decode(json.dumps(doc).encode())
    r = _whole(d, decode.BAD_STRUCTURE)
    assert "readings" in r.reason
    assert d.message_id == "m"  # kept so that the device can match the refusal


# --- reading-level refusals --------------------------------------------------


def test_reading_that_is_not_an_object_refused() -> None:
    d = _decode(_payload([5]))
    assert d.refusals[0].code == decode.BAD_STRUCTURE
    assert "object" in d.refusals[0].reason and d.refusals[0].index == 0


@pytest.mark.parametrize("type_", ["glucose", "HEART_RATE", "", None, 5, ["heart_rate"]])
def test_unknown_type_refused(type_: Any) -> None:
    r = _refusal(type_, 70)
    assert r.code == decode.UNKNOWN_TYPE
    assert "unknown type" in r.reason and repr(type_) in r.reason


def test_missing_type_refused() -> None:
    d = _one({"time": T0, "value": 70})
    assert d.refusals[0].code == decode.UNKNOWN_TYPE


@pytest.mark.parametrize(
    ("type_", "unit"),
    [
        ("temperature", "K"),
        ("temperature", "degF"),
        ("spo2", "1"),
        ("heart_rate", "Hz"),
        ("systolic_bp", "mmHg"),
        ("respiratory_rate", "/s"),
    ],
)
def test_unknown_unit_refused(type_: str, unit: str) -> None:
    r = _refusal(type_, 50, unit)
    assert r.code == decode.UNKNOWN_UNIT
    assert repr(unit) in r.reason and type_ in r.reason


def test_unknown_unit_reason_lists_the_accepted_units() -> None:
    r = _refusal("temperature", 310, "K")
    assert "Cel" in r.reason and "[degF]" in r.reason


@pytest.mark.parametrize("unit", [5, ["%"], {"code": "%"}, True])
def test_non_string_unit_refused(unit: Any) -> None:
    r = _refusal("spo2", 96, unit)
    assert r.code == decode.UNKNOWN_UNIT
    assert "unit must be a string" in r.reason


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_not_a_number(value: bool) -> None:
    r = _refusal("heart_rate", value)
    assert r.code == decode.BAD_VALUE
    assert "number" in r.reason and repr(value) in r.reason


@pytest.mark.parametrize("value", ["72", "72 bpm", None, [72], {"v": 72}])
def test_non_number_value_refused(value: Any) -> None:
    r = _refusal("heart_rate", value)
    assert r.code == decode.BAD_VALUE
    assert "number" in r.reason and repr(value) in r.reason


def test_missing_value_refused() -> None:
    d = _one({"time": T0, "type": "spo2"})
    assert d.refusals[0].code == decode.BAD_VALUE


def test_overflowing_float_literal_refused() -> None:
    # 1e400 is valid JSON and parses to inf: not a plausible number
    payload = f'{{"readings": [{{"time": "{T0}", "type": "heart_rate", "value": 1e400}}]}}'
    d = _decode(payload.encode())
    assert d.readings == ()
    assert d.refusals[0].code == decode.BAD_VALUE and d.refusals[0].index == 0


@pytest.mark.parametrize("type_", ["heart_rate", "on_oxygen"])
def test_huge_integer_value_refused_not_raised(type_: str) -> None:
    # A 401-digit integer is valid JSON (json.loads gives an int); it must be
    # refused like any other implausible value, not crash the decoder.
    payload = f'{{"readings": [{{"time": "{T0}", "type": "{type_}", "value": 1{"0" * 400}}}]}}'
    d = _decode(payload.encode())
    assert d.readings == ()
    assert len(d.refusals) == 1
    assert d.refusals[0].code in (decode.IMPLAUSIBLE, decode.BAD_VALUE)


# Plausible ranges (ward/domain.py TYPES), inclusive at both ends [stored unit].
RANGES = [
    ("respiratory_rate", 0, 80),
    ("spo2", 40, 100),
    ("systolic_bp", 30, 300),
    ("diastolic_bp", 10, 200),
    ("heart_rate", 15, 300),
    ("temperature", 25, 45),
]


@pytest.mark.parametrize(("type_", "low", "high"), RANGES)
def test_range_edges_are_accepted(type_: str, low: float, high: float) -> None:
    assert _value(type_, low) == float(low)
    assert _value(type_, high) == float(high)


@pytest.mark.parametrize(("type_", "low", "high"), RANGES)
@pytest.mark.parametrize("side", ["below", "above"])
def test_just_beyond_range_edges_is_implausible(
    type_: str, low: float, high: float, side: str
) -> None:
    value = low - 0.1 if side == "below" else high + 0.1
    r = _refusal(type_, value)
    assert r.code == decode.IMPLAUSIBLE
    assert type_ in r.reason and str(value) in r.reason
    assert f"{low}–{high}" in r.reason  # the range it had to be in


def test_design_examples_of_implausible_values() -> None:
    r = _refusal("heart_rate", 900, "/min")
    assert r.code == decode.IMPLAUSIBLE and "heart_rate 900" in r.reason
    r = _refusal("spo2", 140, "%")
    assert r.code == decode.IMPLAUSIBLE and "spo2 140" in r.reason


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("2026-11-23T08:00:00", "time zone"),
        ("2026-11-23", "time zone"),
        ("23/11/2026 08:00", "ISO 8601"),
        ("yesterday", "ISO 8601"),
        ("", "ISO 8601"),
        (1795420800, "ISO 8601"),
        (None, "ISO 8601"),
    ],
)
def test_bad_time_refused(raw: Any, words: str) -> None:
    r = _refusal("heart_rate", 70, time=raw)
    assert r.code == decode.BAD_TIME
    assert words in r.reason and "'time'" in r.reason


def test_missing_time_refused() -> None:
    d = _one({"type": "heart_rate", "value": 70})
    assert d.refusals[0].code == decode.BAD_TIME


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_future_time_just_within_max_future_is_accepted() -> None:
    d = _one({"time": _iso(NOW + timedelta(minutes=5)), "type": "heart_rate", "value": 70})
    assert d.refusals == () and d.readings[0].time == NOW + timedelta(minutes=5)


def test_future_time_beyond_max_future_refused() -> None:
    r = _refusal("heart_rate", 70, time=_iso(NOW + timedelta(minutes=5, seconds=1)))
    assert r.code == decode.FUTURE_TIME
    assert "future" in r.reason and "5 min 1 s" in r.reason


def test_far_future_time_refused_in_hours() -> None:
    r = _refusal("heart_rate", 70, time=_iso(NOW + timedelta(days=2)))
    assert r.code == decode.FUTURE_TIME and "48 h in the future" in r.reason


def test_max_future_comes_from_limits() -> None:
    item = {"time": _iso(NOW + timedelta(minutes=3)), "type": "heart_rate", "value": 70}
    d = _decode(_payload([item]), limits=Limits(max_future=timedelta(minutes=1)))
    assert d.refusals[0].code == decode.FUTURE_TIME


def test_time_exactly_max_age_old_is_accepted() -> None:
    d = _one({"time": _iso(NOW - timedelta(days=30)), "type": "heart_rate", "value": 70})
    assert d.refusals == () and len(d.readings) == 1


def test_time_older_than_max_age_refused() -> None:
    r = _refusal("heart_rate", 70, time=_iso(NOW - timedelta(days=30, seconds=1)))
    assert r.code == decode.TOO_OLD and "older than 30 days" in r.reason


def test_backlog_within_max_age_is_accepted() -> None:
    # a device offline for hours catches up: its readings keep their own time
    old = NOW - timedelta(hours=9)
    d = _one({"time": _iso(old), "type": "spo2", "value": 95})
    assert d.readings[0].time == old


def test_time_outside_datetime_range_after_offset_is_refused_not_raised() -> None:
    r = _refusal("heart_rate", 70, time="0001-01-01T00:00:00+01:00")
    assert r.code == decode.TOO_OLD
    r = _refusal("heart_rate", 70, time="9999-12-31T23:59:59-23:59")
    assert r.code == decode.FUTURE_TIME


# --- good readings survive beside refused ones -------------------------------


def test_good_readings_kept_beside_refused_ones_with_right_indices() -> None:
    items = [
        {"time": T0, "type": "heart_rate", "value": 70},  # 0 ok
        {"time": T0, "type": "heart_rate", "value": 900},  # 1 implausible
        {"time": T0, "type": "glucose", "value": 5},  # 2 unknown type
        {"time": T0, "type": "spo2", "value": 97, "unit": "%"},  # 3 ok
        {"time": T0, "type": "temperature", "value": 37, "unit": "K"},  # 4 unknown unit
        {"time": "2026-11-23T08:00:00", "type": "spo2", "value": 95},  # 5 bad time
        {"time": T0, "type": "temperature", "value": 98.6, "unit": "[degF]"},  # 6 ok
        {"time": T0, "type": "respiratory_rate", "value": "fast"},  # 7 bad value
    ]
    d = _decode(_payload(items))
    assert not d.whole_refused
    assert d.message_id == "m-1"
    assert [(r.type, r.value) for r in d.readings] == [
        (ReadingType.HEART_RATE, 70.0),
        (ReadingType.SPO2, 97.0),
        (ReadingType.TEMPERATURE, pytest.approx(37.0)),
    ]
    assert [(r.index, r.code) for r in d.refusals] == [
        (1, decode.IMPLAUSIBLE),
        (2, decode.UNKNOWN_TYPE),
        (4, decode.UNKNOWN_UNIT),
        (5, decode.BAD_TIME),
        (7, decode.BAD_VALUE),
    ]
    for r in d.refusals:
        assert r.reason.startswith(f"reading {r.index}: ")
    assert d.positions == (0, 3, 6)  # where each kept reading stood in the message


def test_whole_refusal_has_no_positions() -> None:
    d = _decode(b"{not json")
    assert d.positions == () and d.readings == ()


def test_all_readings_refused_is_not_a_whole_refusal() -> None:
    d = _decode(
        _payload(
            [{"time": T0, "type": "x", "value": 1}, {"time": T0, "type": "spo2", "value": 200}]
        )
    )
    assert d.readings == ()
    assert not d.whole_refused
    assert [r.index for r in d.refusals] == [0, 1]
    assert d.positions == ()


# --- units ---------------------------------------------------------------------


def test_fahrenheit_to_celsius() -> None:
    assert _value("temperature", 98.6, "[degF]") == pytest.approx(37.0, abs=1e-9)
    assert _value("temperature", 104, "[degF]") == pytest.approx(40.0, abs=1e-9)  # (104-32)*5/9
    assert _value("temperature", 113, "[degF]") == pytest.approx(45.0, abs=1e-9)  # upper edge


def test_fahrenheit_beyond_range_refused_showing_the_sent_value() -> None:
    r = _refusal("temperature", 120, "[degF]")  # (120-32)*5/9 = 48.9 Cel
    assert r.code == decode.IMPLAUSIBLE and "120 [degF]" in r.reason


def test_celsius_is_stored_as_is() -> None:
    assert _value("temperature", 36.4, "Cel") == 36.4


def test_kpa_to_mmhg() -> None:
    # 1 atm = 101.325 kPa = 760 mmHg → 16 kPa = 16 * 760 / 101.325 = 120.0099 mmHg
    assert _value("systolic_bp", 16, "kPa") == pytest.approx(120.0, abs=0.02)
    assert _value("diastolic_bp", 10.7, "kPa") == pytest.approx(80.26, abs=0.01)
    assert _value("systolic_bp", 16, "kPa") > 120.0


def test_mmhg_is_stored_as_is() -> None:
    assert _value("systolic_bp", 128, "mm[Hg]") == 128.0
    assert _value("diastolic_bp", 84, "mm[Hg]") == 84.0


def test_annotated_rate_units_are_the_same_unit() -> None:
    assert _value("heart_rate", 72, "{beats}/min") == 72.0
    assert _value("heart_rate", 72, "/min") == 72.0
    assert _value("respiratory_rate", 18, "{breaths}/min") == 18.0
    assert _value("respiratory_rate", 18, "/min") == 18.0
    assert _value("spo2", 96, "%") == 96.0


def test_unit_of_another_type_refused() -> None:
    assert _refusal("heart_rate", 72, "{breaths}/min").code == decode.UNKNOWN_UNIT
    assert _refusal("spo2", 16, "kPa").code == decode.UNKNOWN_UNIT


# --- on_oxygen -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "stored"),
    [
        (True, None, 1.0),
        (False, None, 0.0),
        (0, None, 0.0),
        (2, None, 1.0),
        (0.5, None, 1.0),
        (60, None, 1.0),
        (0, "L/min", 0.0),
        (2, "L/min", 1.0),
        (15, "L/min", 1.0),
        (0, "mL/min", 0.0),
        (500, "mL/min", 1.0),
        (1, "mL/min", 1.0),
        (60000, "mL/min", 1.0),
    ],
)
def test_on_oxygen_as_bool_or_flow(value: Any, unit: str | None, stored: float) -> None:
    assert _value("on_oxygen", value, unit) == stored


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (-1, None),
        (-0.5, "L/min"),
        (61, "L/min"),
        (60001, "mL/min"),
        (-10, "mL/min"),
    ],
)
def test_on_oxygen_implausible_flow_refused(value: float, unit: str | None) -> None:
    r = _refusal("on_oxygen", value, unit)
    assert r.code == decode.IMPLAUSIBLE
    assert "flow" in r.reason and str(value) in r.reason and "60 L/min" in r.reason


@pytest.mark.parametrize("unit", ["%", "L/h", "kPa"])
def test_on_oxygen_unknown_flow_unit_refused(unit: str) -> None:
    r = _refusal("on_oxygen", 2, unit)
    assert r.code == decode.UNKNOWN_UNIT and repr(unit) in r.reason and "L/min" in r.reason


@pytest.mark.parametrize("value", ["yes", "true", None, [True]])
def test_on_oxygen_bad_value_refused(value: Any) -> None:
    r = _refusal("on_oxygen", value)
    assert r.code == decode.BAD_VALUE and "true/false" in r.reason


# --- consciousness -----------------------------------------------------------


@pytest.mark.parametrize(
    ("letter", "code"),
    [
        ("A", 0.0),
        ("C", 1.0),
        ("V", 2.0),
        ("P", 3.0),
        ("U", 4.0),
        ("a", 0.0),
        ("c", 1.0),
        ("v", 2.0),
        ("p", 3.0),
        ("u", 4.0),
        (" p ", 3.0),
    ],
)
def test_consciousness_letters(letter: str, code: float) -> None:
    assert _value("consciousness", letter) == code


@pytest.mark.parametrize("value", ["X", "", "alert", "AV", "confused", 0, 1.0, True, None])
def test_consciousness_bad_value_refused(value: Any) -> None:
    r = _refusal("consciousness", value)
    assert r.code == decode.BAD_VALUE
    assert "A, C, V, P, U" in r.reason and repr(value) in r.reason


# --- describe ----------------------------------------------------------------


def test_describe_one_code() -> None:
    refusals = [
        Refusal("implausible", "reading 1: a", 1),
        Refusal("implausible", "reading 3: b", 3),
    ]
    assert decode.describe(refusals) == ("implausible", "reading 1: a; reading 3: b")


def test_describe_several_codes() -> None:
    refusals = (Refusal("implausible", "x", 0), Refusal("bad_time", "y", 2))
    assert decode.describe(refusals) == ("several", "x; y")


def test_reason_codes_are_distinct() -> None:
    assert len(set(decode.REASON_CODES)) == len(decode.REASON_CODES) == 16


# --- properties ----------------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_quick = settings(database=None, deadline=None, max_examples=300)


def _check_invariants(d: Decoded) -> None:
    assert isinstance(d, Decoded)
    for r in d.refusals:
        assert isinstance(r.reason, str) and r.reason.strip()
        assert r.code in decode.REASON_CODES
    if d.whole_refused:
        assert d.readings == () and len(d.refusals) == 1


@_quick
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    _check_invariants(_decode(payload))


@_quick
@given(st.dictionaries(st.text(max_size=12), _json_values, max_size=6))
def test_arbitrary_json_objects_never_raise(doc: dict[str, Any]) -> None:
    _check_invariants(_decode(json.dumps(doc).encode()))


_times = st.one_of(
    st.sampled_from(
        [
            T0,
            "2026-11-23T08:00:00",
            "2026-11-23T09:00:00+01:00",
            "nope",
            _iso(NOW + timedelta(days=1)),
            _iso(NOW - timedelta(days=40)),
        ]
    ),
    st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat()),
    _json_values,
)
_types = st.one_of(st.sampled_from([str(t) for t in ReadingType]), _json_values)
_units = st.one_of(
    st.sampled_from(
        ["/min", "%", "Cel", "[degF]", "kPa", "mm[Hg]", "L/min", "mL/min", "{beats}/min", "K"]
    ),
    _json_values,
)
_values = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6),
    st.booleans(),
    st.sampled_from(["A", "c", "X"]),
    _json_values,
)
_items = st.one_of(
    st.fixed_dictionaries(
        {"time": _times, "type": _types, "value": _values}, optional={"unit": _units}
    ),
    _json_values,
)


@_quick
@given(st.lists(_items, min_size=1, max_size=8), _json_values)
def test_every_reading_is_kept_or_refused_once(items: list[Any], message_id: Any) -> None:
    d = _decode(_payload(items, message_id))
    _check_invariants(d)
    if isinstance(message_id, str) and "\x00" in message_id:  # the ward cannot record it
        assert [(r.code, r.index) for r in d.refusals] == [(decode.BAD_ID, None)]
        return
    assert not d.whole_refused
    indices = [r.index for r in d.refusals if r.index is not None]
    assert len(indices) == len(d.refusals)  # no whole-message refusal
    assert len(d.readings) + len(indices) == len(items)
    assert len(set(indices)) == len(indices)
    assert all(0 <= i < len(items) for i in indices)
    assert len(d.positions) == len(d.readings)
    assert sorted([*d.positions, *indices]) == list(range(len(items)))
    for r in d.readings:
        assert r.device_id == DEVICE and r.time.tzinfo is not None


@_quick
@given(st.sampled_from(RANGES), st.floats(allow_nan=False, allow_infinity=False))
def test_stored_value_is_within_the_plausible_range(
    rng: tuple[str, float, float], value: float
) -> None:
    type_, low, high = rng
    d = _one({"time": T0, "type": type_, "value": value})
    if low <= value <= high:
        assert d.readings[0].value == value
    else:
        assert d.readings == () and d.refusals[0].code == decode.IMPLAUSIBLE


def test_other_timezone_offsets_compare_by_instant() -> None:
    ahead = datetime(2026, 11, 23, 8, 10, tzinfo=timezone(timedelta(hours=-5)))  # 13:10 UTC
    r = _refusal("heart_rate", 70, time=ahead.isoformat())
    assert r.code == decode.FUTURE_TIME
