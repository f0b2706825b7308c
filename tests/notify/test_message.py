"""notify/message.py: what a notification says and the webhook's signature."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from notify import message
from notify.message import Facts, Links

T = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
FACTS = Facts(notification_id=5, key="vward-9-ada-email", recipient="ada", tier=2,
              channel="email", event_id=9, event="opened", event_time=T, severity="emergency",
              reason="NEWS2 8 (high): RR 26 scores 3", alert_id=4, kind="news2",
              category="clinical", ward_id="w1", patient_id="p1", patient_name="Ann Smith",
              device_id="", opened_at=T)
LINKS = Links(patient="http://ward/patient/p1", ack="http://ward/ack/tok")


def test_the_email_says_who_what_why_how_severe_and_links() -> None:
    mail = message.email(FACTS, LINKS, domain="ward.example.org")
    assert mail.subject == "[EMERGENCY] news2 alert: patient p1, ward w1"
    for text in ("patient p1 (Ann Smith), ward w1", "Why:  NEWS2 8 (high): RR 26 scores 3",
                 "http://ward/patient/p1", "http://ward/ack/tok", "tier 2 on call"):
        assert text in mail.body
    assert mail.message_id == "<vward-9-ada-email@ward.example.org>"


def test_the_webhook_body_carries_the_facts_and_is_stable() -> None:
    body = message.webhook_body(FACTS, LINKS)
    assert body == message.webhook_body(FACTS, LINKS)
    got = json.loads(body)
    assert got["idempotency_key"] == "vward-9-ada-email" and got["severity"] == "emergency"
    assert got["ack_url"] == "http://ward/ack/tok" and got["patient_id"] == "p1"


def test_signature_checks_and_refuses_tampering_and_replay() -> None:
    key, body = b"k" * 32, b'{"a":1}'
    sig = message.signature(key, 1_000, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert message.signature_valid(key, "1000", body, sig, now=1_010)
    assert not message.signature_valid(key, "1000", body + b" ", sig, now=1_010)
    assert not message.signature_valid(b"x" * 32, "1000", body, sig, now=1_010)
    assert not message.signature_valid(key, "1001", body, sig, now=1_010)  # timestamp is signed
    assert not message.signature_valid(key, "1000", body, sig, now=1_000 + 301)  # too old
    assert not message.signature_valid(key, "soon", body, sig, now=1_010)


def test_the_sms_is_short_and_keeps_the_link() -> None:
    long = Facts(**{**{f: getattr(FACTS, f) for f in FACTS.__slots__}, "reason": "x" * 1000})
    text = message.sms_text(long, LINKS)
    assert len(text) <= 300 and text.endswith(" http://ward/ack/tok")


def test_the_sms_slot_refuses_a_url_without_the_number_and_says_why_it_failed() -> None:
    import pytest

    from notify.channels import SmsChannel
    from notify.errors import DeliveryError

    with pytest.raises(ValueError, match=r"\{phone\}"):
        SmsChannel(url="twilio://sid:token@+441234567890")
    # apprise is not a dependency: without it, or with a URL it does not know, the attempt
    # fails with a sentence for the attempt's record, never an exception of its own.
    with pytest.raises(DeliveryError, match="SMS: "):
        SmsChannel(url="nosuchgateway://x/{phone}").send(FACTS, LINKS, "+447700900123")
