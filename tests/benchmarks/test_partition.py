"""`vward bench partition`'s path, small: two real engines, each on a ward of its own,
score every set of a load dealt across their wards (no timing is asserted)."""

from __future__ import annotations

import secrets

import pytest

from benchmarks import scoring

pytestmark = pytest.mark.db


def test_two_engines_on_their_own_wards_score_every_set(services_up) -> None:
    tag = f"t{secrets.token_hex(3)}"
    first = 500_000 + secrets.randbelow(400_000)  # patients of this test's own
    r = scoring.latency(services_up, 20, 2, engines=2, first=first, tag=tag)
    assert r["engines"] == 2
    assert r["sets"] >= 20 * 2
    assert r["scored"] == r["sets"]  # every set, by one engine or the other
    assert r["rate"] > 0 and r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]
