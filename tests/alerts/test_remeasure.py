"""The re-measure decision (alerts/remeasure.py) and the command's payload
(ward/device_commands.py), pure: the edges of when an urgent alert waits and
what an answer means."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts import remeasure
from alerts.remeasure import Protocol, SetSource, needs_remeasure, outcome
from alerts.rules import Severity
from ward.device_commands import (
    CommandRefused,
    RemeasureCommand,
    parse_command,
    remeasure_payload,
)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ALLOWED = Protocol(allowed=True, deadline=timedelta(minutes=10))
OXIMETER = SetSource("ox-1", "oximeter", ("spo2", "heart_rate"))


def test_an_urgent_alert_of_one_spot_check_waits_for_its_device_until_the_deadline() -> None:
    v = needs_remeasure(Severity.URGENT, [OXIMETER], ALLOWED, None, NOW)
    assert v.ask == remeasure.Ask("ox-1", ("heart_rate", "spo2"), NOW + timedelta(minutes=10))


def test_an_emergency_never_waits() -> None:
    v = needs_remeasure(Severity.EMERGENCY, [OXIMETER], ALLOWED, None, NOW)
    assert v.ask is None and "emergency" in v.why


@pytest.mark.parametrize("severity", [Severity.LOW, Severity.INFO])
def test_below_urgent_nothing_waits(severity) -> None:
    assert needs_remeasure(severity, [OXIMETER], ALLOWED, None, NOW).ask is None


@pytest.mark.parametrize("kind", ["patch", "generic", "unknown-maker"])
def test_a_continuous_or_unknown_device_never_waits(kind) -> None:
    v = needs_remeasure(Severity.URGENT, [SetSource("d", kind, ("heart_rate",))], ALLOWED,
                        None, NOW)
    assert v.ask is None and kind in v.why


def test_a_ward_whose_protocol_does_not_allow_it_opens_at_once() -> None:
    v = needs_remeasure(Severity.URGENT, [OXIMETER],
                        Protocol(allowed=False, deadline=timedelta(minutes=10)), None, NOW)
    assert v.ask is None and "protocol" in v.why
    zero = Protocol(allowed=True, deadline=timedelta(0))
    assert needs_remeasure(Severity.URGENT, [OXIMETER], zero, None, NOW).ask is None


def test_a_set_from_two_devices_or_none_is_not_a_single_spot_check() -> None:
    cuff = SetSource("cuff-1", "bp_cuff", ("systolic_bp",))
    assert needs_remeasure(Severity.URGENT, [OXIMETER, cuff], ALLOWED, None, NOW).ask is None
    assert needs_remeasure(Severity.URGENT, [], ALLOWED, None, NOW).ask is None


def test_a_set_measured_long_ago_is_already_late_and_opens_at_once() -> None:
    late = NOW - remeasure.LATE_AFTER - timedelta(seconds=1)
    v = needs_remeasure(Severity.URGENT, [OXIMETER], ALLOWED, None, NOW, measured_at=late)
    assert v.ask is None and "late" in v.why
    recent = NOW - remeasure.LATE_AFTER
    assert needs_remeasure(Severity.URGENT, [OXIMETER], ALLOWED, None, NOW,
                           measured_at=recent).ask is not None


def test_asked_within_the_hour_the_next_urgent_score_opens_at_once() -> None:
    recent = NOW - remeasure.ASK_AGAIN_AFTER + timedelta(seconds=1)
    assert needs_remeasure(Severity.URGENT, [OXIMETER], ALLOWED, recent, NOW).ask is None
    older = NOW - remeasure.ASK_AGAIN_AFTER
    assert needs_remeasure(Severity.URGENT, [OXIMETER], ALLOWED, older, NOW).ask is not None


DEADLINE = NOW + timedelta(minutes=10)
ASKED = ("heart_rate", "spo2")


@pytest.mark.parametrize(("answered", "severity", "at", "expected"), [
    ((), Severity.URGENT, NOW, None),  # nothing yet: wait
    (("spo2",), Severity.URGENT, NOW, "confirmed"),  # part of it, still urgent: real
    (("spo2", "heart_rate"), Severity.URGENT, NOW, "confirmed"),
    (("spo2", "heart_rate"), Severity.EMERGENCY, NOW, "confirmed"),
    (("spo2", "heart_rate"), Severity.LOW, NOW, "not_confirmed"),
    (("spo2", "heart_rate"), None, NOW, "not_confirmed"),
    (("spo2",), Severity.LOW, NOW, None),  # half an answer never stands it down
    (("spo2",), Severity.LOW, DEADLINE, "unanswered"),
    ((), Severity.URGENT, DEADLINE, "unanswered"),  # the deadline itself counts
    ((), Severity.URGENT, DEADLINE - timedelta(microseconds=1), None),
    ((), Severity.EMERGENCY, NOW, "superseded"),  # emergency never waits on an answer
    (("temperature",), Severity.LOW, DEADLINE, "unanswered"),  # a type not asked is no answer
])
def test_the_outcome_of_an_answer(answered, severity, at, expected) -> None:
    assert outcome(ASKED, answered, severity, DEADLINE, at) == expected


def test_an_outcome_needs_types_asked() -> None:
    with pytest.raises(ValueError):
        outcome((), (), None, DEADLINE, NOW)


def test_which_outcomes_open_the_alert() -> None:
    assert [o for o in remeasure.OUTCOMES if remeasure.opens(o)] == [
        "confirmed", "unanswered", "superseded"]


def test_the_words_say_what_was_asked_and_what_came_back() -> None:
    said = remeasure.answer_text([("spo2", 96.0), ("heart_rate", 80.0)], 2, "low")
    assert said == "SpO2 96 %, Heart rate 80 /min: NEWS2 2 (low)"
    text = remeasure.outcome_text("not_confirmed", device_id="ox-1", asked_at=NOW,
                                  deadline=DEADLINE, answer=said)
    assert "ox-1" in text and "10:00:00Z" in text and said in text
    assert "resolved by re-measurement" in text
    late = remeasure.outcome_text("unanswered", device_id="ox-1", asked_at=NOW,
                                  deadline=DEADLINE, answer=None)
    assert "no answer by the deadline 10:10:00Z" in late


# --- the command's payload -----------------------------------------------------------------


def test_a_command_round_trips() -> None:
    cmd = RemeasureCommand(42, ("spo2", "heart_rate"), DEADLINE)
    body = remeasure_payload(cmd)
    assert json.loads(body) == {"command": "remeasure", "types": ["spo2", "heart_rate"],
                                "request_id": 42, "deadline": "2026-12-03T10:10:00.000Z"}
    assert parse_command(body) == cmd


def test_unknown_fields_are_ignored() -> None:
    body = json.dumps({"command": "remeasure", "types": ["spo2"], "request_id": 1,
                       "deadline": "2026-12-03T10:10:00+01:00", "why": "later versions"})
    assert parse_command(body.encode()).deadline == datetime(2026, 12, 3, 9, 10, tzinfo=UTC)


_GOOD = {"command": "remeasure", "types": ["spo2"], "request_id": 1,
         "deadline": "2026-12-03T10:10:00Z"}


@pytest.mark.parametrize(("payload", "says"), [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({**_GOOD, "command": "reboot"}).encode(), "unknown command"),
    (json.dumps({k: v for k, v in _GOOD.items() if k != "command"}).encode(),
     "unknown command"),
    (json.dumps({**_GOOD, "types": []}).encode(), "types"),
    (json.dumps({**_GOOD, "types": "spo2"}).encode(), "types"),
    (json.dumps({**_GOOD, "types": ["spo2", "spo2"]}).encode(), "twice"),
    (json.dumps({**_GOOD, "types": ["blood_sugar"]}).encode(), "unknown reading type"),
    (json.dumps({**_GOOD, "request_id": "1"}).encode(), "request_id"),
    (json.dumps({**_GOOD, "request_id": 0}).encode(), "request_id"),
    (json.dumps({**_GOOD, "request_id": True}).encode(), "request_id"),
    (json.dumps({k: v for k, v in _GOOD.items() if k != "request_id"}).encode(),
     "request_id"),
    (json.dumps({**_GOOD, "deadline": "tomorrow"}).encode(), "deadline"),
    (json.dumps({**_GOOD, "deadline": "2026-12-03T10:10:00"}).encode(), "deadline"),
    (json.dumps({**_GOOD, "deadline": 1764756600}).encode(), "deadline"),
    (json.dumps({**_GOOD, "pad": "x" * 5000}).encode(), "bytes"),
    (b"[" * 100_000 + b"]" * 100_000, "bytes"),
])
def test_a_bad_command_is_refused_with_its_reason(payload, says) -> None:
    with pytest.raises(CommandRefused, match=says):
        parse_command(payload)


def test_a_payload_needs_an_aware_deadline() -> None:
    with pytest.raises(ValueError):
        remeasure_payload(RemeasureCommand(1, ("spo2",), datetime(2026, 12, 3, 10, 10)))
