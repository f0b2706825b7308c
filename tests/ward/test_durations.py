"""The one duration formatter and parser; pure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ward import durations
from ward.durations import parse, text

M, H, D = 60, 3600, 86400


@pytest.mark.parametrize(("seconds", "kwargs", "shown"), [
    (0, {}, "0 s"),
    (40, {}, "40 s"),
    (243, {}, "4 min 3 s"),
    (2 * H + 5 * M, {}, "2 h 5 min"),
    (2 * H, {}, "2 h"),  # a zero part dropped
    (10 * M, {"zeros": True}, "10 min 0 s"),  # ... or kept
    (D + 3 * H + 59, {}, "1 d 3 h"),
    (5 * M + 59, {"finest": "min"}, "5 min"),
    (40, {"finest": "min"}, "40 s"),  # shorter than the finest unit
    (13 * H + 20 * M, {"finest": "min"}, "13 h 20 min"),
    (11 * H + 59 * M, {"parts": 1}, "11 h"),
    (3 * D + 23 * H, {"parts": 1}, "3 d"),
    (90 * M, {"parts": 4}, "1 h 30 min"),
    (D + 30, {"parts": 4}, "1 d 30 s"),
    (timedelta(hours=4), {"parts": 4}, "4 h"),
    (0.4, {}, "0 s"),
    (H - 1, {"finest": "min"}, "59 min"),  # rounded down
    (2 * D + 59, {"largest": "h"}, "48 h"),
    (5 * H + 30 * M, {"largest": "h"}, "5 h 30 min"),
    (3 * M, {"largest": "min", "finest": "min"}, "3 min"),
    (5 * H + 59 * M, {"finest": "min", "alone_from": {"h": 6}}, "5 h 59 min"),
    (6 * H + 59 * M, {"finest": "min", "alone_from": {"h": 6}}, "6 h"),  # from 6 h on
    (2 * D + 23 * H, {"alone_from": {"h": 6, "d": 3}}, "2 d 23 h"),
    (10 * D + 23 * H, {"alone_from": {"h": 6, "d": 3}}, "10 d"),
    (45 * M + 30, {"alone_from": {"h": 6}}, "45 min 30 s"),  # another unit: untouched
    (50 * H + 30 * M, {"largest": "h", "alone_from": {"h": 6}}, "50 h"),
])
def test_lengths_read_as_people_say_them(seconds, kwargs, shown):
    assert text(seconds, **kwargs) == shown


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), timedelta(seconds=-5)])
def test_a_negative_or_endless_length_is_refused(bad):
    with pytest.raises(ValueError, match="finite and not negative"):
        text(bad)


@pytest.mark.parametrize("kwargs", [{"parts": 0}, {"finest": "week"}, {"largest": "y"},
                                    {"largest": "min", "finest": "h"}])
def test_impossible_precisions_are_refused(kwargs):
    with pytest.raises(ValueError, match="parts"):
        text(60, **kwargs)


@pytest.mark.parametrize("alone_from", [{"h": 0}, {"week": 2}])
def test_impossible_rough_lengths_are_refused(alone_from):
    with pytest.raises(ValueError, match="alone_from"):
        text(60, alone_from=alone_from)


@given(st.floats(min_value=0, max_value=400 * D), st.integers(1, 4))
def test_never_longer_than_it_is_nor_shorter_by_a_last_unit(seconds, parts):
    words, size = text(seconds, parts=parts).split(), dict(durations.UNITS)
    total = sum(int(n) * size[u] for n, u in zip(words[::2], words[1::2], strict=True))
    last = size[words[-1]]
    assert total <= seconds < total + last


@pytest.mark.parametrize(("typed", "seconds"), [
    ("90", 90), ("90s", 90), ("10m", 600), ("10 min", 600), (" 2 h ", 7200),
    ("1d", 86400), ("0.5h", 1800),
])
def test_typed_lengths(typed, seconds):
    assert parse(typed) == timedelta(seconds=seconds)


@pytest.mark.parametrize("typed", ["", "0", "0m", "-5", "-2h", "10x", "h", "1e3", "2w",
                                   "2h ago", "yesterday", "1.h", "nan", "inf"])
def test_anything_else_is_refused_saying_the_forms(typed):
    with pytest.raises(ValueError, match=r"a duration is a positive number with s, m, h or d"):
        parse(typed)
