"""The patient's own view's rules (ward/patient_links.py) and plain words
(api/me_pages.py): pure, no services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api import me_pages
from ward import patient_links as pl
from ward import protocols
from ward.domain import TYPES, ReadingType
from ward.errors import WardError
from ward.news2_chart import MONITORING_INTERVAL

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _link(**kw) -> pl.LinkRow:
    base = dict(link_id=1, patient_id="p1", expires_at=NOW + timedelta(hours=1), used_at=None,
                revoked_at=None, discharged_at=None)
    return pl.LinkRow(**(base | kw))


def test_a_link_works_once_until_it_expires_and_never_after_a_discharge():
    assert pl.refusal(_link(), NOW) is None
    assert pl.refusal(None, NOW).reason == "unknown"
    assert pl.refusal(_link(used_at=NOW), NOW).reason == "used"
    assert pl.refusal(_link(revoked_at=NOW), NOW).reason == "revoked"
    assert pl.refusal(_link(expires_at=NOW), NOW).reason == "expired"  # at its second: gone
    assert pl.refusal(_link(expires_at=NOW + timedelta(seconds=1)), NOW) is None
    gone = pl.refusal(_link(discharged_at=NOW, used_at=NOW), NOW)
    assert gone.reason == "discharged" and "999" in gone.message


def test_a_session_cookie_is_genuine_only_under_its_own_key():
    key = pl.derive_key("secret")
    cookie = pl.sign_session(key, "tok")
    assert pl.unsign_session(key, cookie) == "tok"
    assert pl.unsign_session(pl.derive_key("other"), cookie) is None
    assert pl.unsign_session(key, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    assert pl.unsign_session(key, "tok") is None
    # A staff session cookie (api/auth.sign under the secret itself) never passes.
    from api import auth
    assert pl.unsign_session(key, auth.sign("tok", "secret")) is None
    with pytest.raises(ValueError):
        pl.derive_key("")


def test_tokens_are_random_and_only_their_hash_is_kept():
    a, b = pl.new_token(), pl.new_token()
    assert a != b and len(a) >= 43
    assert pl.token_hash(a) != a and len(pl.token_hash(a)) == 64


def test_the_answers_never_store_consciousness_a():
    at = NOW.isoformat()
    assert pl.answer_readings(breathless=True, confused=True, at=at) == [
        {"time": at, "type": "breathlessness", "value": True},
        {"time": at, "type": "consciousness", "value": "C"}]
    assert pl.answer_readings(breathless=False, confused=False, at=at) == [
        {"time": at, "type": "breathlessness", "value": False}]
    assert pl.answer_readings(breathless=None, confused=False, at=at) == []


def test_review_says_told_while_an_alert_waits_and_never_which():
    assert pl.review(1, 3) == "told"
    assert pl.review(0, 2) == "reviewed"
    assert pl.review(0, 0) == "quiet"


def test_a_patient_more_breathless_is_never_told_all_is_quiet():
    """H67: the answer raises no alert, so the page must not say nothing needed the
    team; an alert, open or looked at, still says what it says."""
    assert pl.review(0, 0, reported_breathless=True) == "reported"
    assert pl.review(0, 0, reported_breathless=False) == "quiet"
    assert pl.review(1, 0, reported_breathless=True) == "told"
    assert pl.review(0, 1, reported_breathless=True) == "reviewed"


def test_next_due_is_the_overdue_rule_read_forwards():
    admitted = NOW - timedelta(days=2)
    last = NOW - timedelta(minutes=30)
    for band, interval in MONITORING_INTERVAL.items():
        assert pl.next_due(last, admitted, band) == last + interval
    assert pl.next_due(None, admitted, None) == admitted + timedelta(hours=12)
    assert pl.next_due(admitted - timedelta(days=1), admitted, "") == admitted + timedelta(
        hours=12)


def test_next_due_on_a_protocol_ward_follows_its_reading_and_news2_when_urgent():
    admitted = NOW - timedelta(days=2)
    covid = protocols.protocol(protocols.COVID_OXIMETRY)
    spo2_at = NOW - timedelta(minutes=10)
    for value, gap in ((96, timedelta(hours=13)), (94, timedelta(hours=1)),
                       (92, timedelta(minutes=15))):
        assert pl.next_due(None, admitted, None, protocol=covid, last_reading=spo2_at,
                           last_value=value) == spo2_at + gap
    never = pl.next_due(None, admitted, None, protocol=covid)
    assert never == admitted + timedelta(hours=13)
    # NEWS2's pace joins while its band is urgent: the earlier deadline stands.
    last_set = NOW - timedelta(minutes=50)
    assert pl.next_due(last_set, admitted, "medium", protocol=covid, last_reading=spo2_at,
                       last_value=96) == last_set + MONITORING_INTERVAL["medium"]
    hf = protocols.protocol(protocols.HEART_FAILURE)
    assert pl.next_due(None, admitted, "zero", protocol=hf, last_reading=spo2_at,
                       last_value=80.0) == spo2_at + timedelta(hours=26)


def test_self_report_device_ids_fit_the_device_id_rule():
    assert pl.self_report_device("p1") == "self-p1"
    long = pl.self_report_device("x" * 64)
    assert len(long) <= 64 and long != pl.self_report_device("x" * 63 + "y")


def test_a_ward_phone_is_checked():
    assert pl.check_phone(" 0161  555 0100 ") == "0161 555 0100"
    assert pl.check_phone("+44 (0)161 555-0100") == "+44 (0)161 555-0100"
    for bad in ("", "call us", "12", "<script>", "1" * 40):
        with pytest.raises(WardError):
            pl.check_phone(bad)


def test_every_reading_type_has_plain_words_for_the_patient():
    for t, info in TYPES.items():
        assert t in me_pages.PLAIN_NAMES
        assert me_pages.plain_value(t, info.low)
    assert me_pages.plain_value(ReadingType.CONSCIOUSNESS, 1) == "new confusion"
    assert me_pages.plain_value(ReadingType.ON_OXYGEN, 0) == "breathing air"
    assert me_pages.plain_value(ReadingType.BREATHLESSNESS, 1) == "yes"


def test_ages_are_said_in_words():
    assert me_pages.plain_ago(NOW, NOW) == "just now"
    assert me_pages.plain_ago(NOW - timedelta(minutes=1), NOW) == "1 minute ago"
    assert me_pages.plain_ago(NOW - timedelta(minutes=59), NOW) == "59 minutes ago"
    assert me_pages.plain_ago(NOW - timedelta(hours=5), NOW) == "5 hours ago"
    assert me_pages.plain_ago(NOW - timedelta(hours=30), NOW) == "30 hours ago"
    assert me_pages.plain_ago(NOW - timedelta(days=3), NOW) == "3 days ago"
