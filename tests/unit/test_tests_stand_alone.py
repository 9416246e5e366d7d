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
