"""docs/security.md: the threat model names its actors, and every test it
cites as the evidence of a control exists (as the hazard log's do)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
CITED = sorted(set(re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", DOC)))


def test_the_threat_model_names_every_actor_and_part() -> None:
    for actor in ("anyone on the internet", "a clinician", "an admin", "a device",
                  "the operator", "another local user"):
        assert f"| {actor} |" in DOC, actor
    for part in ("## The web edge", "## The broker", "## Devices",
                 "## The database and the host"):
        assert re.search(rf"^{part}$", DOC, re.M), part


@pytest.mark.parametrize(("path", "name"), CITED, ids=[f"{p}::{n}" for p, n in CITED])
def test_every_cited_test_exists(path: str, name: str) -> None:
    source = ROOT / path
    assert source.exists(), f"{path} does not exist"
    assert re.search(rf"^def {name}\(", source.read_text(encoding="utf-8"), re.M), (
        f"{path} has no test {name}")


def test_it_cites_tests() -> None:
    assert len(CITED) >= 25
