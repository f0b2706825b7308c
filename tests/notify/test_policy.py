"""notify/policy.py: who each alert event reaches, pinned case by case (hazard log
H35-H37), the deliveries and idempotency keys (H38), retries (H39)."""

from __future__ import annotations

import pytest

from notify import policy
from notify.policy import Audience, Contact, Event, audience, deliveries

EVENTS = ("opened", "updated", "escalated", "acknowledged", "resolved", "reconciled")


def _event(event: str = "opened", severity: str = "urgent", *, category: str = "clinical",
           kind: str = "news2", state: str = "open", paused: str | None = None) -> Event:
    return Event(event, severity, category, kind, state, paused)


# Every (severity, event) of a clinical alert: the tiers it reaches.
EXPECTED = {
    ("emergency", "opened"): (1, 2),
    ("emergency", "escalated"): (1, 2, 3),
    ("urgent", "opened"): (1,),
    ("urgent", "escalated"): (1, 2),
    ("low", "opened"): (1,),
    ("low", "escalated"): (1,),
    ("info", "opened"): (),
    ("info", "escalated"): (),
}


@pytest.mark.parametrize("severity", ["emergency", "urgent", "low", "info"])
@pytest.mark.parametrize("event", EVENTS)
def test_every_severity_and_event_of_a_clinical_alert(severity: str, event: str) -> None:
    got = audience(_event(event, severity))
    assert got.tiers == EXPECTED.get((severity, event), ())
    assert not got.admins
    assert got.reason  # always says why, nobody included


def test_emergency_reaches_tiers_1_and_2_at_once_and_3_on_escalation() -> None:
    assert audience(_event("opened", "emergency")).reason == "emergency opened: tiers 1 and 2"
    assert audience(_event("escalated", "emergency")).tiers == (1, 2, 3)


@pytest.mark.parametrize("event", ["acknowledged", "resolved", "updated", "reconciled"])
def test_events_that_page_nobody_say_so(event: str) -> None:
    got = audience(_event(event, "emergency"))
    assert got.nobody and event in got.reason


@pytest.mark.parametrize("severity", ["low", "urgent", "emergency"])
def test_technical_alerts_go_to_the_admins_not_the_rota(severity: str) -> None:
    got = audience(_event("opened", severity, category="technical", kind="device_offline"))
    assert got == Audience((), True, "technical alert (device_offline): the ward's admins")


def test_technical_info_pages_nobody() -> None:
    assert audience(_event("opened", "info", category="technical", kind="battery_low")).nobody


@pytest.mark.parametrize("severity", ["low", "urgent"])
def test_a_paused_kind_is_not_notified(severity: str) -> None:
    got = audience(_event("opened", severity, paused="2026-12-03 07:00Z"))
    assert got.nobody and got.reason == "news2 paused until 2026-12-03 07:00Z"
    # A paused technical kind (a device known to be charging) reaches no admin either.
    assert audience(_event("opened", severity, category="technical", kind="device_offline",
                           paused="2026-12-03 07:00Z")).nobody


def test_an_emergency_is_notified_whatever_is_paused() -> None:
    assert audience(_event("opened", "emergency", paused="2026-12-03 07:00Z")).tiers == (1, 2)


def test_an_event_of_an_alert_resolved_since_pages_nobody() -> None:
    assert audience(_event("opened", "emergency", state="resolved")).nobody
    assert audience(_event("opened", "emergency", state="acknowledged")).tiers == (1, 2)


def test_an_unknown_severity_errs_towards_telling() -> None:
    assert audience(_event("opened", "catastrophic")).tiers == (1, 2)


def test_one_delivery_per_person_and_channel_each_person_once() -> None:
    contacts = {"ada": Contact("ada", email="ada@example.org", webhook_url="http://h/a"),
                "bo": Contact("bo", email="bo@example.org", phone="+447700900123"),
                "cy": Contact("cy")}
    routed = {1: ("ada", "cy"), 2: ("bo", "ada")}
    got = deliveries(7, routed, contacts, sms=False)
    assert [(d.recipient, d.tier, d.channel, d.address) for d in got] == [
        ("ada", 1, "email", "ada@example.org"), ("ada", 1, "webhook", "http://h/a"),
        ("bo", 2, "email", "bo@example.org")]
    with_sms = deliveries(7, routed, contacts, sms=True)
    assert ("bo", "sms", "+447700900123") in {(d.recipient, d.channel, d.address)
                                              for d in with_sms}
    assert len({d.key for d in with_sms}) == len(with_sms)


def test_admins_are_reached_without_a_tier() -> None:
    got = deliveries(3, {None: ("root",)}, {"root": Contact("root", email="r@x.org")}, sms=False)
    assert [(d.tier, d.key) for d in got] == [(None, "vward-3-root-email")]


def test_the_idempotency_key_is_event_recipient_channel() -> None:
    assert policy.idempotency_key(12, "ada", "webhook") == "vward-12-ada-webhook"
    assert policy.idempotency_key(12, "ada", "email") != policy.idempotency_key(13, "ada",
                                                                                "email")
    with pytest.raises(ValueError, match="channel"):
        policy.idempotency_key(12, "ada", "pigeon")
    with pytest.raises(ValueError):
        policy.idempotency_key(0, "ada", "email")


def test_retry_delays_grow_then_repeat_the_last() -> None:
    delays = (10.0, 30.0, 120.0)
    assert [policy.retry_delay(n, delays) for n in (1, 2, 3, 4, 9)] == [10, 30, 120, 120, 120]
    with pytest.raises(ValueError):
        policy.retry_delay(0, delays)


def test_give_up_after_max_attempts_and_never_loop_on_our_own_alert() -> None:
    assert not policy.give_up(2, 3) and policy.give_up(3, 3)
    assert policy.raises_failure_alert("news2")
    assert not policy.raises_failure_alert(policy.NOTIFICATION_FAILED)


@pytest.mark.parametrize("text,expected", [("10,30", (10.0, 30.0)), (" 0.2 ", (0.2,))])
def test_retry_setting_parses(text: str, expected: tuple[float, ...]) -> None:
    assert policy.parse_delays(text) == expected


@pytest.mark.parametrize("text", ["", "ten", "5,-1", "nan"])
def test_a_bad_retry_setting_says_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match="VWARD_NOTIFY_RETRY_SECONDS"):
        policy.parse_delays(text)
