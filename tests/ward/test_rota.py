"""The rota's pure decisions (ward/rota.py): who is on call, where the gaps
are, where an alert goes when a tier is empty, and the ward's wall-clock
hours across DST.  Plus the contact checks (ward/contacts.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ward import contacts, rota
from ward.errors import WardError
from ward.rota import Gap, Shift

LONDON = ZoneInfo("Europe/London")
W = "ward-r"
ALL = rota.ALL_DAYS
WEEKDAYS = frozenset(range(5))


def _at(y, mo, d, h, mi=0, tz=UTC) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


# 2026-11-23 is a Monday (GMT); 2026-07-06 a Monday (BST).
MON_NOV = (2026, 11, 23)


def test_on_call_by_tier_day_and_hour():
    shifts = [Shift(W, 1, "nina", WEEKDAYS, 8, 20), Shift(W, 1, "omar", ALL, 20, 24),
              Shift(W, 2, "sam", ALL, 0, 24), Shift("other", 1, "zed", ALL, 0, 24)]
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 8), LONDON) == ("nina",)
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 7, 59), LONDON) == ()  # end exclusive
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 19, 59), LONDON) == ("nina",)
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 20), LONDON) == ("omar",)
    assert rota.on_call(shifts, W, 2, _at(*MON_NOV, 3), LONDON) == ("sam",)
    # Saturday 2026-11-28 10:00: nina works weekdays only.
    assert rota.on_call(shifts, W, 1, _at(2026, 11, 28, 10), LONDON) == ()
    # another ward's shifts never count
    assert rota.on_call(shifts, "other", 2, _at(*MON_NOV, 3), LONDON) == ()


def test_hours_are_the_wards_wall_clock_in_summer_and_winter():
    """H31: 08-20 means 08:00 local: 07:00 UTC in summer (BST), 08:00 in winter."""
    shifts = [Shift(W, 1, "nina", ALL, 8, 20)]
    assert rota.on_call(shifts, W, 1, _at(2026, 7, 6, 7), LONDON) == ("nina",)   # 08:00 BST
    assert rota.on_call(shifts, W, 1, _at(2026, 7, 6, 6, 59), LONDON) == ()
    assert rota.on_call(shifts, W, 1, _at(2026, 7, 6, 19), LONDON) == ()          # 20:00 BST
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 8), LONDON) == ("nina",)      # 08:00 GMT
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 7, 59), LONDON) == ()
    # the same moment seen from another zone: the ward's zone decides
    ny = ZoneInfo("America/New_York")
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 13), ny) == ("nina",)   # 08:00 EST
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 13), LONDON) == ("nina",)
    assert rota.on_call(shifts, W, 1, _at(*MON_NOV, 12), ny) == ()          # 07:00 EST


def test_dst_changes_leave_no_hour_uncovered():
    """H31: a rota that covers every wall-clock hour covers every real moment,
    through the skipped hour (29 March 2026) and the repeated hour (25 October 2026)."""
    shifts = [Shift(W, 1, "night", ALL, 0, 8), Shift(W, 1, "day", ALL, 8, 20),
              Shift(W, 1, "eve", ALL, 20, 24)]
    for start in (_at(2026, 3, 28, 12), _at(2026, 10, 24, 12)):
        for minutes in range(0, 36 * 60, 10):
            at = start + timedelta(minutes=minutes)
            assert len(rota.on_call(shifts, W, 1, at, LONDON)) == 1, at
    # Both passes of 01:30 on 25 October are the night shift's.
    first, second = _at(2026, 10, 25, 0, 30), _at(2026, 10, 25, 1, 30)
    assert first.astimezone(LONDON).hour == second.astimezone(LONDON).hour == 1
    assert rota.on_call(shifts, W, 1, first, LONDON) == ("night",)
    assert rota.on_call(shifts, W, 1, second, LONDON) == ("night",)
    # 01:00 UTC on 29 March is 02:00 BST: the hour 01:00-02:00 local did not happen.
    assert rota.wall_clock(_at(2026, 3, 29, 1), LONDON) == (6, 2)


def test_on_call_refuses_a_naive_moment():
    with pytest.raises(WardError, match="timezone"):
        rota.on_call([], W, 1, datetime(2026, 11, 23, 8), LONDON)


def test_gaps_are_the_hours_nobody_covers():
    """H32: every uncovered hour of the week is reported, in runs within a day."""
    shifts = [Shift(W, 1, "nina", WEEKDAYS, 8, 20), Shift(W, 1, "omar", WEEKDAYS, 20, 24),
              Shift(W, 1, "omar", frozenset({1, 2, 3, 4, 5}), 0, 8)]
    found = rota.gaps(shifts, W, 1)
    assert found[0] == Gap(0, 0, 8)  # Monday night: Sunday's night shift does not exist
    assert Gap(5, 8, 24) in found and Gap(6, 0, 24) in found
    assert len(found) == 3
    assert str(found[0]) == "mon 00-08"


def test_no_shift_is_a_whole_week_of_gaps():
    assert rota.gaps([], W, 2) == [Gap(d, 0, 24) for d in range(7)]
    assert rota.gaps([Shift(W, 2, "sam", ALL, 0, 24)], W, 2) == []
    assert rota.gaps([Shift(W, 2, "sam", ALL, 0, 24)], W, 1) == [Gap(d, 0, 24) for d in range(7)]


@given(st.lists(st.tuples(st.frozensets(st.integers(0, 6), min_size=1),
                          st.integers(0, 23), st.integers(1, 24)), max_size=6))
def test_gaps_and_on_call_agree(raw):
    shifts = [Shift(W, 1, f"p{i}", days, min(a, b - 1) if b > a else b - 1, b)
              for i, (days, a, b) in enumerate(raw)]
    gap_hours = {(g.day, h) for g in rota.gaps(shifts, W, 1) for h in range(g.start_hour,
                                                                            g.end_hour)}
    monday = _at(*MON_NOV, 0)
    for day in range(7):
        for hour in range(24):
            at = monday + timedelta(days=day, hours=hour)  # UTC = London in November
            assert (not rota.on_call(shifts, W, 1, at, LONDON)) == ((day, hour) in gap_hours)


def test_route_gives_each_wanted_tier_its_people():
    shifts = [Shift(W, 1, "nina", ALL, 0, 24), Shift(W, 2, "sam", ALL, 0, 24),
              Shift(W, 3, "cara", ALL, 0, 24)]
    at = _at(*MON_NOV, 3)
    assert rota.route(shifts, W, (1,), at, LONDON) == {1: ("nina",)}
    assert rota.route(shifts, W, (1, 2), at, LONDON) == {1: ("nina",), 2: ("sam",)}
    assert rota.route(shifts, W, (1, 2, 3), at, LONDON) == {1: ("nina",), 2: ("sam",),
                                                            3: ("cara",)}
    assert rota.route(shifts, W, (), at, LONDON) == {}


def test_a_gap_goes_straight_to_the_next_tier():
    """H30: tier 1 empty at 03:00 → tier 2 is reached instead; 1 and 2 empty → tier 3."""
    shifts = [Shift(W, 1, "nina", ALL, 8, 20), Shift(W, 2, "sam", ALL, 0, 24),
              Shift(W, 3, "cara", ALL, 0, 24)]
    night, day = _at(*MON_NOV, 3), _at(*MON_NOV, 10)
    assert rota.route(shifts, W, (1,), night, LONDON) == {2: ("sam",)}
    assert rota.route(shifts, W, (1,), day, LONDON) == {1: ("nina",)}
    # emergency asks 1 and 2: sam once, as tier 2
    assert rota.route(shifts, W, (1, 2), night, LONDON) == {2: ("sam",)}
    only_consultant = [s for s in shifts if s.tier == 3]
    assert rota.route(only_consultant, W, (1,), night, LONDON) == {3: ("cara",)}
    assert rota.route(only_consultant, W, (1, 2), night, LONDON) == {3: ("cara",)}


def test_a_gap_never_goes_down_and_nobody_at_all_is_empty():
    """H30: an empty tier 3 is not filled from tier 1 or 2; nobody on → {}."""
    shifts = [Shift(W, 1, "nina", ALL, 0, 24)]
    at = _at(*MON_NOV, 3)
    assert rota.route(shifts, W, (3,), at, LONDON) == {}
    assert rota.route(shifts, W, (1, 3), at, LONDON) == {1: ("nina",)}
    assert rota.route([], W, (1, 2), at, LONDON) == {}


def test_a_person_without_a_contact_is_a_gap_for_routing():
    """H33: on call but unreachable counts as nobody: the alert moves up a tier."""
    shifts = [Shift(W, 1, "nina", ALL, 0, 24), Shift(W, 1, "omar", ALL, 0, 24),
              Shift(W, 2, "sam", ALL, 0, 24)]
    at = _at(*MON_NOV, 3)
    assert rota.route(shifts, W, (1,), at, LONDON, reachable={"omar", "sam"}) == {1: ("omar",)}
    assert rota.route(shifts, W, (1,), at, LONDON, reachable={"sam"}) == {2: ("sam",)}
    assert rota.route(shifts, W, (1,), at, LONDON, reachable=set()) == {}


def test_a_person_on_two_tiers_is_reached_once_as_the_lower():
    shifts = [Shift(W, 1, "sam", ALL, 0, 24), Shift(W, 2, "sam", ALL, 0, 24),
              Shift(W, 2, "cara", ALL, 0, 24)]
    assert rota.route(shifts, W, (1, 2), _at(*MON_NOV, 3), LONDON) == {1: ("sam",),
                                                                       2: ("cara",)}


def test_route_refuses_a_tier_that_is_none():
    with pytest.raises(WardError, match="tier"):
        rota.route([], W, (0,), _at(*MON_NOV, 3), LONDON)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"tier": 4}, "tier"), ({"tier": 0}, "tier"),
    ({"days": frozenset()}, "days"), ({"days": frozenset({7})}, "days"),
    ({"start_hour": 20, "end_hour": 8}, "hours"), ({"start_hour": 8, "end_hour": 8}, "hours"),
    ({"end_hour": 25}, "hours"), ({"start_hour": -1}, "hours"),
])
def test_a_shift_that_cannot_be_is_refused(kwargs, match):
    fields = {"ward_id": W, "tier": 1, "user": "nina", "days": ALL, "start_hour": 0,
              "end_hour": 24} | kwargs
    with pytest.raises(WardError, match=match):
        Shift(**fields)


@pytest.mark.parametrize(("text", "days"), [
    ("mon-sun", range(7)), ("mon-fri", range(5)), ("sat,sun", {5, 6}), ("SAT, Sun", {5, 6}),
    ("tue", {1}), ("fri-mon", {4, 5, 6, 0}), ("mon,wed-thu", {0, 2, 3}),
    ("monday-friday", range(5)), ("sun-sun", {6}),
])
def test_parse_days(text, days):
    assert rota.parse_days(text) == frozenset(days)


@pytest.mark.parametrize("text", ["", "mon-", "funday", "mon-tue-wed", "1-5", ","])
def test_parse_days_refuses(text):
    with pytest.raises(WardError, match="days"):
        rota.parse_days(text)


@pytest.mark.parametrize(("text", "hours"), [
    ("00-24", (0, 24)), ("08-20", (8, 20)), ("8-20", (8, 20)), ("08:00-20:00", (8, 20)),
    ("20-08", (20, 8)), ("22-00", (22, 0)), ("23-24", (23, 24)),
])
def test_parse_hours(text, hours):
    assert rota.parse_hours(text) == hours


@pytest.mark.parametrize("text", ["08-08", "00-00", "24-08", "08-25", "8", "08:30-20", "a-b",
                                  "-1-5"])
def test_parse_hours_refuses(text):
    with pytest.raises(WardError, match="hours"):
        rota.parse_hours(text)


def test_hours_across_midnight_are_the_night_that_starts_on_each_day():
    """H34: '20-08 on mon-fri' is five nights, Monday evening to Saturday morning."""
    pieces = rota.shifts_for(W, 1, "omar", frozenset(range(5)), (20, 8))
    assert pieces == [Shift(W, 1, "omar", frozenset(range(5)), 20, 24),
                      Shift(W, 1, "omar", frozenset(range(1, 6)), 0, 8)]
    sunday_night = rota.shifts_for(W, 1, "omar", frozenset({6}), (22, 6))
    assert sunday_night[1].days == frozenset({0})  # into Monday morning
    assert rota.shifts_for(W, 1, "omar", ALL, (22, 0)) == [Shift(W, 1, "omar", ALL, 22, 24)]
    assert rota.shifts_for(W, 1, "omar", ALL, (0, 24)) == [Shift(W, 1, "omar", ALL, 0, 24)]
    # Friday 23:00 and Saturday 07:59 are on; Saturday 08:00 and Monday 03:00 are not.
    on = [(_at(2026, 11, 27, 23), "omar"), (_at(2026, 11, 28, 7, 59), "omar"),
          (_at(2026, 11, 28, 8), None), (_at(*MON_NOV, 3), None)]
    for at, who in on:
        assert rota.on_call(pieces, W, 1, at, LONDON) == ((who,) if who else ()), at


def test_days_text_and_mask_round_trip():
    assert rota.days_text(range(7)) == "mon-sun"
    assert rota.days_text({0, 1, 2, 3, 4}) == "mon-fri"
    assert rota.days_text({0, 2, 5, 6}) == "mon,wed,sat-sun"
    assert rota.days_mask({0}) == 1 and rota.days_mask({6}) == 64
    assert rota.days_mask(range(7)) == 127
    for mask in range(1, 128):
        assert rota.days_mask(rota.mask_days(mask)) == mask


def test_ward_zone():
    assert rota.ward_zone("Europe/London") == LONDON
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(WardError, match="timezone"):
            rota.ward_zone(bad)


# ---------------------------------------------------------------- contacts


@pytest.mark.parametrize(("check", "given_", "stored"), [
    (contacts.email, " nina@example.org ", "nina@example.org"),
    (contacts.email, None, None), (contacts.email, "  ", None),
    (contacts.phone, "+44 7700 900123", "+447700900123"),
    (contacts.phone, "+1 (555) 010-2345", "+15550102345"),
    (contacts.phone, "", None),
    (contacts.webhook_url, "https://hooks.example.org/ward?x=1", "https://hooks.example.org/ward?x=1"),
    (contacts.webhook_url, "http://127.0.0.1:8999/hook", "http://127.0.0.1:8999/hook"),
    (contacts.webhook_url, "http://localhost/hook", "http://localhost/hook"),
    (contacts.webhook_url, "http://[::1]:80/h", "http://[::1]:80/h"),
])
def test_contacts_accepted(check, given_, stored):
    assert check(given_) == stored


@pytest.mark.parametrize(("check", "bad", "match"), [
    (contacts.email, "nina", "email"), (contacts.email, "nina@ward", "email"),
    (contacts.email, "a b@example.org", "email"), (contacts.email, "x" * 250 + "@e.org", "email"),
    (contacts.phone, "07700 900123", "international"), (contacts.phone, "+0 123 4567", "phone"),
    (contacts.phone, "+44 7700 900123 ext 4", "phone"), (contacts.phone, "+1234", "phone"),
    (contacts.webhook_url, "http://hooks.example.org/x", "https"),
    (contacts.webhook_url, "http://10.0.0.5/x", "https"),
    (contacts.webhook_url, "ftp://example.org/x", "https"),
    (contacts.webhook_url, "https://", "URL"),
    (contacts.webhook_url, "https://example.org/a b", "URL"),
    (contacts.webhook_url, "https://example.org:port/", "URL"),
    (contacts.webhook_url, "example.org/hook", "URL|https"),
])
def test_contacts_refused_with_the_reason(check, bad, match):
    with pytest.raises(WardError, match=match):
        check(bad)


def test_contact_reachable():
    assert not rota.Contact("n", None, None, None).reachable
    assert rota.Contact("n", None, "+447700900123", None).reachable


def test_gaps_text_puts_the_same_hours_of_consecutive_days_together():
    assert rota.gaps_text([Gap(d, 0, 24) for d in range(7)]) == "all week"
    assert rota.gaps_text([Gap(0, 0, 8), Gap(1, 0, 8), Gap(5, 8, 24), Gap(6, 0, 24)]) == (
        "mon-tue 00-08, sat 08-24, sun 00-24")
    assert rota.gaps_text([]) == ""


def test_warnings_say_where_each_gap_goes_and_when_nobody_at_all_is_on():
    """H32: the gaps are said, worst first: nobody in any tier, then each tier's."""
    full = [Shift(W, t, f"p{t}", ALL, 0, 24) for t in rota.TIERS]
    assert rota.warnings(full, W) == []
    no_nights = [Shift(W, 1, "nina", ALL, 8, 20), Shift(W, 2, "sam", ALL, 8, 20),
                 Shift(W, 3, "cara", WEEKDAYS, 0, 24)]
    said = rota.warnings(no_nights, W)
    assert said[0] == ("NOBODY is on call in any tier sat-sun 00-08, sat-sun 20-24: an alert"
                       " then reaches no one")
    assert said[1].startswith("tier 1 (hub nurse) has nobody on call mon-sun 00-08, mon-sun"
                              " 20-24: alerts for tier 1 then go to tier 2")
    assert said[3] == ("tier 3 (consultant on call) has nobody on call sat-sun 00-24: an"
                       " escalation to tier 3 then reaches no one new")
    assert rota.warnings([], W)[0].startswith("NOBODY is on call in any tier all week")
    assert len(rota.warnings([], W)) == 4
