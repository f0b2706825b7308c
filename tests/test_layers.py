"""The layers hold (issue 11): the import-linter contract in pyproject.toml, run
by `lint-imports` as `make test` runs this file, passes on the tree; and a
wrong import, made in a copy of the tree, breaks it by name."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ward", "ingest", "alerts", "simulators", "api", "dashboard", "benchmarks")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports in ``root``: the contract of its pyproject.toml over its packages
    (the current directory comes first on the path, before any installed copy)."""
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                       "PYTHONPATH": str(root)})


def test_the_layers_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "KEPT" in result.stdout


@pytest.mark.parametrize(("module", "wrong", "named"), [
    # ward is the base: nothing in it but the CLI imports a stage.
    ("ward/domain.py", "import ingest.store", "ward.domain -> ingest.store"),
    # ingest, alerts and simulators import only ward, never each other.
    ("ingest/rows.py", "from alerts import rules", "ingest.rows -> alerts.rules"),
    # api and dashboard use a stage's package-level surface, not its modules.
    ("dashboard/rows.py", "from alerts import scoring", "dashboard.rows -> alerts.scoring"),
    ("api/views.py", "import ingest.decode", "api.views -> ingest.decode"),
    # Nothing below the web app imports it.
    ("alerts/engine.py", "import dashboard.queries", "alerts.engine -> dashboard.queries"),
])
def test_a_wrong_import_breaks_the_contract(tmp_path: Path, module: str, wrong: str,
                                            named: str) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert _lint(tmp_path).returncode == 0  # the copy holds, as the tree does
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{wrong}  # a wrong import\n")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert named in result.stdout, result.stdout
