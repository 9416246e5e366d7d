"""Tests import their harnesses from tests.support, never from bench/ (bench imports tests)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_imports_bench():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""] if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            )
            offenders += [f"{path.relative_to(TESTS)}: {n}" for n in names
                          if n == "bench" or n.startswith("bench.")]
    assert not offenders


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_tests_are_grouped_by_kind():
    """One axis (issue 22): what a test needs decides its folder, so `pytest tests/unit` runs
    without PostgreSQL, Redis or a server, and a harness is found in tests/support/."""
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {"unit", "integration", "api", "e2e", "support"}
    needs_services = {"psycopg", "redis", "playwright.async_api", "tests.support.servers"}
    offenders = [f"{p.name}: {sorted(_imports(p) & needs_services)}"
                 for p in sorted((TESTS / "unit").glob("test_*.py"))
                 if _imports(p) & needs_services]
    assert not offenders, "these need a service: move them to integration/api/e2e"
