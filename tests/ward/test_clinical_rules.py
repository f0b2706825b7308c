"""The clinicians' setting rules of ward.clinical at their edges (hazard 2): an accepted
range never covers a red value, SpO2 has none, and a review date is at most 14 days
ahead.  Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ward.clinical import MAX_REVIEW, ActionRefused, accepted_range_problem, review_date
from ward.news2_chart import points_between

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("parameter", "low", "high"), [
    ("heart_rate", 41, 130),  # 41 scores 1, 130 scores 2: the widest amber range
    ("heart_rate", 91, 110),
    ("respiratory_rate", 8.5, 24),  # 8.5 is above the red <= 8
    ("systolic_bp", 90.5, 110),  # 90.5 scores 2 (no rounding first)
    ("temperature", 35.05, 45),  # 35.05 scores 1; temperature has no red above
])
def test_ranges_over_amber_values_are_allowed(parameter: str, low: float, high: float) -> None:
    assert accepted_range_problem(parameter, low, high) is None


@pytest.mark.parametrize(("parameter", "low", "high"), [
    ("heart_rate", 40, 100),  # 40 scores 3
    ("heart_rate", 91, 130.5),  # 130.5 scores 3
    ("heart_rate", 30, 140),  # the example
    ("respiratory_rate", 8, 20),
    ("systolic_bp", 90, 110),
    ("systolic_bp", 200, 219.5),  # above 219 scores 3
    ("temperature", 35.0, 36),
])
def test_a_range_that_covers_a_red_value_is_refused(parameter: str, low: float,
                                                     high: float) -> None:
    problem = accepted_range_problem(parameter, low, high)
    assert problem is not None and "score 3" in problem


@pytest.mark.parametrize(("parameter", "low", "high", "words"), [
    ("spo2", 88, 92, "scale 2"),
    ("consciousness", 0, 1, "an accepted range is for one of"),
    ("on_oxygen", 0, 1, "an accepted range is for one of"),
    ("heart_rate", 100, 90, "is empty"),
    ("heart_rate", float("nan"), 90, "finite"),
    ("heart_rate", 60, 80, "score 0 already"),
])
def test_other_ranges_are_refused_with_their_reason(parameter, low, high, words) -> None:
    assert words in (accepted_range_problem(parameter, low, high) or "")


def test_points_between_follows_the_upper_inclusive_cascade() -> None:
    assert points_between("heart_rate", 40, 40) == (3, 3)
    assert points_between("heart_rate", 40.5, 50) == (1, 1)
    assert points_between("heart_rate", 50, 91) == (0, 1)
    assert points_between("temperature", 35.05, 39.05) == (0, 2)


def test_a_review_date_is_at_most_14_days_ahead_and_defaults_to_it() -> None:
    assert timedelta(days=14) == MAX_REVIEW
    assert review_date(NOW, None) == NOW + MAX_REVIEW
    assert review_date(NOW, NOW + MAX_REVIEW) == NOW + MAX_REVIEW
    with pytest.raises(ActionRefused, match="at most 14 days"):
        review_date(NOW, NOW + MAX_REVIEW + timedelta(microseconds=1))
    with pytest.raises(ActionRefused, match="in the future"):
        review_date(NOW, NOW)
