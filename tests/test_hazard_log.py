"""docs/safety/hazard-log.md: every hazard has its cause, effect, risks and controls,
and every test it names as evidence exists (a control without a real test is no
control)."""

from __future__ import annotations

import re

import cited_tests
import pytest

ROOT = cited_tests.ROOT
LOG = (ROOT / "docs" / "safety" / "hazard-log.md").read_text(encoding="utf-8")
HAZARDS = re.split(r"^### ", LOG, flags=re.M)[1:]
CITED = cited_tests.cited(LOG)


def test_the_log_has_the_eleven_hazards_of_the_review_and_more() -> None:
    ids = [h.split()[0] for h in HAZARDS]
    assert ids[:11] == [f"H{i}" for i in range(1, 12)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("hazard", HAZARDS, ids=[h.split()[0] for h in HAZARDS])
def test_every_hazard_has_cause_effect_risks_and_controls(hazard: str) -> None:
    for part in ("**Cause", "**Effect.**", "**Initial risk.**", "**Controls.**",
                 "**Residual risk.**"):
        assert part in hazard, f"{hazard.split(chr(10))[0]}: no {part}"
    open_hazard = "Open:" in hazard
    assert open_hazard or "**Evidence.**" in hazard, hazard.split("\n")[0]


@pytest.mark.parametrize(("path", "name"), CITED, ids=cited_tests.ids(CITED))
def test_every_cited_test_exists(path: str, name: str) -> None:
    cited_tests.assert_exists(path, name)


def test_it_cites_tests() -> None:
    assert len(CITED) >= 40
