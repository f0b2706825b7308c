"""The tests a document cites as evidence (`tests/x.py::test_name`), and the
check that each exists: a control whose test is gone is no control.  For the
hazard log (tests/test_hazard_log.py) and the threat model
(tests/test_security_doc.py), which cite them the same way."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CITATION = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def cited(doc: str) -> list[tuple[str, str]]:
    """(path, test name) of every citation in ``doc``, once each, sorted."""
    return sorted(set(_CITATION.findall(doc)))


def ids(citations: list[tuple[str, str]]) -> list[str]:
    return [f"{path}::{name}" for path, name in citations]


def assert_exists(path: str, name: str) -> None:
    """``path`` holds a top-level ``def name(``."""
    source = ROOT / path
    assert source.exists(), f"{path} does not exist"
    assert re.search(rf"^def {name}\(", source.read_text(encoding="utf-8"), re.M), (
        f"{path} has no test {name}")
