"""Routers are thin entry points: none imports another, none reaches into ``app.state``."""

from __future__ import annotations

import ast
from pathlib import Path

ROUTERS = Path(__file__).resolve().parents[2] / "console_api" / "routers"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_router_imports_another_router():
    """What two routers share lives below them (console_api.params, *_deps, a domain)."""
    offenders = {
        path.name: sorted(m for m in _imports(path) if m.startswith("console_api.routers."))
        for path in sorted(ROUTERS.glob("*.py"))
    }
    assert not {name: mods for name, mods in offenders.items() if mods}


def test_routers_take_dependencies_not_app_state():
    """Resources reach a route through console_api.deps, wired in one place (the health probes
    too: their dependencies answer None for what start-up has not built yet)."""
    readers = sorted(
        path.name for path in ROUTERS.glob("*.py") if "app.state" in path.read_text()
    )
    assert not readers
