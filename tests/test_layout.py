"""Sizes of the product's modules and functions (issue 11: rooms a newcomer can read).

A module over 400 lines or a function over 60 lines (from its ``def`` to its last
line, docstring and decorators' bodies included) has usually grown a second
responsibility. Each exception below names why it stays whole; the checker fails
when an exception no longer exceeds, so the list never outlives its reason.
Pure: reads the source with ``ast``, imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ward", "ingest", "alerts", "simulators", "api", "dashboard", "benchmarks")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# "path" for a module, "path:qualified.name" for a function, each with its reason
# (one sentence, ending with a full stop).  Empty: every room is within its size.
EXCEPTIONS: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _functions(tree: ast.Module) -> list[tuple[str, int]]:
    """(qualified name, lines from ``def`` to its end) of every function and method."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                assert child.end_lineno is not None
                found.append((name, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def oversized() -> dict[str, int]:
    """Every module and function over its limit, keyed as in ``EXCEPTIONS``, with its lines."""
    found: dict[str, int] = {}
    for path in _modules():
        relative = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            found[relative] = lines
        for name, length in _functions(ast.parse(source, filename=relative)):
            if length > MAX_FUNCTION_LINES:
                found[f"{relative}:{name}"] = length
    return found


def test_no_module_or_function_over_its_limit() -> None:
    over = {key: n for key, n in oversized().items() if key not in EXCEPTIONS}
    listing = "\n".join(f"  {key}: {n} lines" for key, n in sorted(over.items()))
    assert not over, (
        f"modules over {MAX_MODULE_LINES} lines or functions over {MAX_FUNCTION_LINES} lines "
        f"(split by responsibility, or add to EXCEPTIONS with a reason):\n{listing}"
    )


def test_every_exception_still_exceeds_and_has_a_reason() -> None:
    over = oversized()
    stale = sorted(key for key in EXCEPTIONS if key not in over)
    assert not stale, f"EXCEPTIONS no longer over the limit, remove them: {stale}"
    assert all(reason.strip().endswith(".") for reason in EXCEPTIONS.values())


def test_checker_finds_a_long_method() -> None:
    body = "\n".join(f"        x = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"class A:\n    def long(self):\n{body}\n")
    assert _functions(tree) == [("A.long", MAX_FUNCTION_LINES + 1)]
