"""ward/ack_links.py: sign and verify, pure (issue 13, item 3)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ward import ack_links
from ward.ack_links import LinkClaim, LinkRefused, derive_key, sign, verify

KEY = derive_key("a secret of the ward")
NOW = datetime(2026, 12, 3, 3, 0, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(hours=1)


def _token(**over: object) -> str:
    args: dict = {"notification_id": 41, "alert_id": 7, "user": "nurse.ada",
                  "expires": EXPIRES, "channel": "email"} | over
    return sign(KEY, **args)


def _refused(token: str, *, key: bytes = KEY, now: datetime = NOW) -> str:
    with pytest.raises(LinkRefused) as info:
        verify(key, token, now)
    assert str(info.value)  # a sentence for the person holding the link
    return info.value.reason


def test_a_signed_link_verifies_to_its_claim() -> None:
    claim = verify(KEY, _token(), NOW)
    assert claim == LinkClaim(notification_id=41, alert_id=7, user="nurse.ada",
                              expires=EXPIRES, channel="email")
    assert claim.via == "link:email"


def test_the_token_is_url_safe_and_short_enough_for_an_sms() -> None:
    token = _token(user="a" * 64, notification_id=2**63 - 1, alert_id=2**63 - 1)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(_token()) < 80


def test_without_a_channel_the_via_is_plain_link() -> None:
    assert verify(KEY, _token(channel=""), NOW).via == "link"


def test_expiry_edge_valid_until_the_second_before() -> None:
    token = _token()
    assert verify(KEY, token, EXPIRES - timedelta(microseconds=1)).user == "nurse.ada"
    assert _refused(token, now=EXPIRES) == "expired"
    assert _refused(token, now=EXPIRES + timedelta(days=3)) == "expired"


def test_expiry_rounds_down_to_the_second_never_longer() -> None:
    token = _token(expires=EXPIRES + timedelta(milliseconds=900))
    assert verify(KEY, token, NOW).expires == EXPIRES
    assert _refused(token, now=EXPIRES) == "expired"


def test_an_expires_in_another_zone_is_the_same_instant() -> None:
    paris = EXPIRES.astimezone(timezone(timedelta(hours=1)))
    assert verify(KEY, _token(expires=paris), NOW).expires == EXPIRES


def test_a_wrong_key_is_refused() -> None:
    assert _refused(_token(), key=derive_key("another ward's secret")) == "bad_signature"


def test_the_link_key_is_not_the_secret_key_itself() -> None:
    # A session cookie is signed with the secret key as it is; a link's key is derived.
    assert derive_key("s") != b"s"
    assert derive_key("s") == derive_key("s")
    with pytest.raises(ValueError):
        derive_key("")


def _swap(token: str, payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + token.split(".")[1]


def _payload(token: str) -> bytes:
    head = token.split(".")[0]
    return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))


@pytest.mark.parametrize("offset", [1, 9, 17, 25, 26])  # the ids, expiry, channel, user
def test_any_changed_payload_byte_is_refused(offset: int) -> None:
    token = _token()
    payload = bytearray(_payload(token))
    payload[offset] ^= 0x01
    assert _refused(_swap(token, bytes(payload))) == "bad_signature"


def test_a_link_for_another_alert_or_user_cannot_be_made_from_one() -> None:
    token = _token()
    other = _payload(_token(alert_id=8, user="nurse.bob"))
    assert _refused(_swap(token, other)) == "bad_signature"


@pytest.mark.parametrize("token", [
    "", ".", "abc", "abc.", ".abc", "a.b.c", "!!!.???", "x" * 300 + "." + "y" * 22,
    "AAAA.AAAAAAAAAAAAAAAAAAAAAA",
])
def test_malformed_tokens_are_refused_with_a_reason(token: str) -> None:
    assert _refused(token) in ("malformed", "bad_signature")


def test_a_cut_short_mac_is_malformed() -> None:
    token = _token()
    assert _refused(token[:-3]) == "malformed"


def test_an_empty_user_in_a_genuine_payload_is_malformed() -> None:
    # Signed by us with a header and no user: cannot come from sign(); still refused.
    payload = ack_links._HEADER.pack(1, 1, 1, int(EXPIRES.timestamp()), 0)
    token = ack_links._b64(payload) + "." + ack_links._b64(ack_links._mac(KEY, payload))
    assert _refused(token) == "malformed"


def test_another_version_is_malformed() -> None:
    payload = ack_links._HEADER.pack(2, 1, 1, int(EXPIRES.timestamp()), 0) + b"ada"
    token = ack_links._b64(payload) + "." + ack_links._b64(ack_links._mac(KEY, payload))
    assert _refused(token) == "malformed"


@pytest.mark.parametrize("over", [
    {"expires": datetime(2026, 12, 3, 4)},  # naive
    {"channel": "pager"},
    {"user": ""},
    {"user": "x" * 65},
    {"notification_id": 0},
    {"alert_id": -1},
    {"alert_id": 2**63},
])
def test_sign_refuses_bad_input(over: dict) -> None:
    with pytest.raises(ValueError):
        _token(**over)


@given(nid=st.integers(1, 2**63 - 1), aid=st.integers(1, 2**63 - 1),
       user=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True),
       channel=st.sampled_from(ack_links.CHANNELS), minutes=st.integers(1, 10_000))
def test_round_trip(nid: int, aid: int, user: str, channel: str, minutes: int) -> None:
    expires = NOW + timedelta(minutes=minutes)
    token = sign(KEY, notification_id=nid, alert_id=aid, user=user, expires=expires,
                 channel=channel)
    assert verify(KEY, token, NOW) == LinkClaim(nid, aid, user, expires, channel)


@given(st.text(max_size=300))
def test_verify_never_raises_anything_but_link_refused(token: str) -> None:
    with pytest.raises(LinkRefused):
        verify(KEY, token, NOW)


# --- how an acknowledgement was made ------------------------------------------------


@pytest.mark.parametrize("via", ["dashboard", "api", "cli", "link", "link:email",
                                 "link:webhook", "link:sms"])
def test_the_ways_to_acknowledge(via: str) -> None:
    assert ack_links.valid_via(via)
    assert ack_links.via_text(via)


@pytest.mark.parametrize("via", ["", "link:", "link:pager", "email", "Dashboard", "link:email "])
def test_anything_else_is_not_a_way(via: str) -> None:
    assert not ack_links.valid_via(via)


def test_via_in_words() -> None:
    assert ack_links.via_text("link:email") == "from the email link"
    assert ack_links.via_text("link:sms") == "from the SMS link"
    assert ack_links.via_text("api") == "through the API"
    assert ack_links.via_text(None) == ""  # acknowledged before migration 015


# --- what a genuine link may still not do ------------------------------------------


CLAIM = LinkClaim(notification_id=41, alert_id=7, user="nurse.ada", expires=EXPIRES,
                  channel="email")
SENT = ack_links.Sent(recipient="nurse.ada", alert_id=7, channel="email")


def _why(**over: object) -> str | None:
    args: dict = {"used": None, "user_exists": True, "sent": SENT, "outbox": True} | over
    refused = ack_links.refusal(CLAIM, **args)
    return None if refused is None else refused.reason


def test_a_fresh_link_of_a_sent_notification_may_act() -> None:
    assert _why() is None


def test_a_used_link_is_refused_first_saying_by_whom_and_when() -> None:
    used = ack_links.Use(user="nurse.ada", used_at=NOW, via="link:email")
    refused = ack_links.refusal(CLAIM, used=used, user_exists=False, sent=None, outbox=True)
    assert refused is not None and refused.reason == "used"
    assert "nurse.ada" in str(refused) and "2026-12-03 03:00" in str(refused)


def test_a_user_no_longer_there_is_refused() -> None:
    assert _why(user_exists=False) == "not_allowed"


@pytest.mark.parametrize("sent", [
    None,  # no such notification
    ack_links.Sent(recipient="nurse.bob", alert_id=7, channel="email"),  # another recipient
    ack_links.Sent(recipient="nurse.ada", alert_id=8, channel="email"),  # another alert
])
def test_a_link_must_match_its_notification(sent: ack_links.Sent | None) -> None:
    assert _why(sent=sent) == "wrong_alert"


def test_without_an_outbox_the_signature_alone_binds_the_link() -> None:
    assert _why(sent=None, outbox=False) is None


# --- the landing page's form ------------------------------------------------------


def test_the_form_is_good_for_its_link_within_its_age() -> None:
    token = _token()
    nonce = ack_links.form_nonce(KEY, token, NOW)
    assert ack_links.form_fresh(KEY, token, nonce, NOW)
    last = NOW + ack_links.FORM_MAX_AGE - timedelta(seconds=1)
    assert ack_links.form_fresh(KEY, token, nonce, last)
    assert not ack_links.form_fresh(KEY, token, nonce, NOW + ack_links.FORM_MAX_AGE)
    assert not ack_links.form_fresh(KEY, token, nonce, NOW - timedelta(seconds=1))  # future


def test_the_form_of_another_link_or_key_is_not_good() -> None:
    token, other = _token(), _token(alert_id=8)
    assert not ack_links.form_fresh(KEY, other, ack_links.form_nonce(KEY, token, NOW), NOW)
    foreign = ack_links.form_nonce(derive_key("x"), token, NOW)
    assert not ack_links.form_fresh(KEY, token, foreign, NOW)


@pytest.mark.parametrize("nonce", ["", ".", "abc", "1.", "１２.AAAA", "-5.AAAA",
                                   "9" * 13 + ".AAAA", "1764730800.!!!"])
def test_a_malformed_form_nonce_is_not_good(nonce: str) -> None:
    assert not ack_links.form_fresh(KEY, _token(), nonce, NOW)


def test_link_url_and_expiry() -> None:
    assert ack_links.url("https://ward.example.org/", "abc.def") == \
        "https://ward.example.org/ack/abc.def"
    assert ack_links.expiry(NOW, 3600) == NOW + timedelta(hours=1)
