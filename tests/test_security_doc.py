"""docs/security.md: the threat model names its actors, and every test it
cites as the evidence of a control exists (as the hazard log's do)."""

from __future__ import annotations

import re

import cited_tests
import pytest

ROOT = cited_tests.ROOT
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
CITED = cited_tests.cited(DOC)


def test_the_threat_model_names_every_actor_and_part() -> None:
    for actor in ("anyone on the internet", "a clinician", "an admin", "a device",
                  "the operator", "another local user"):
        assert f"| {actor} |" in DOC, actor
    for part in ("## The web edge", "## The broker", "## Devices",
                 "## The database and the host"):
        assert re.search(rf"^{part}$", DOC, re.M), part


@pytest.mark.parametrize(("path", "name"), CITED, ids=cited_tests.ids(CITED))
def test_every_cited_test_exists(path: str, name: str) -> None:
    cited_tests.assert_exists(path, name)


def test_it_cites_tests() -> None:
    assert len(CITED) >= 25
