"""One env prefix per package, the old names still read, and docs/settings.md current."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from console_api.settings_reference import SETTINGS_CLASSES, SHARED_NAMES, env_names, render
from data.settings import LEGACY_PREFIX
from dispatch.settings import DispatchSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"

#: Names renamed in 2026-12 (old -> new) that a deployment may still set: a sample of each class.
RENAMED = {
    "LIFELINE_SECRET_KEY": ("identity", "secret_key", "x" * 40),
    "LIFELINE_KEK": ("identity", "kek", "k1:abc"),
    "LIFELINE_REGIONS": ("dispatch", "regions", "helsinki"),
    "LIFELINE_STREAM_PREFIX": ("realtime", "stream_prefix", "old:stream:"),
    "LIFELINE_NODE_MODULES": ("console_api", "node_modules", "/opt/node_modules"),
    "LIFELINE_REQUEST_TIMEOUT_SECONDS": ("console_api", "request_timeout_seconds", "7"),
    "LIFELINE_TWILIO_API_BASE": ("messaging", "twilio_api_base", "http://127.0.0.1:9"),
}


def _prefix(cls: type[BaseSettings]) -> str:
    return cls.model_config.get("env_prefix") or ""


def _owner(old: str) -> type[BaseSettings]:
    package, field, _ = RENAMED[old]
    return next(c for p, c in SETTINGS_CLASSES if p == package and field in c.model_fields)


def test_each_package_has_one_prefix_and_no_two_packages_share_one() -> None:
    by_package: dict[str, set[str]] = defaultdict(set)
    for package, cls in SETTINGS_CLASSES:
        by_package[package].add(_prefix(cls))
    assert all(len(prefixes) == 1 for prefixes in by_package.values()), by_package
    prefixes = [next(iter(p)) for p in by_package.values()]
    assert len(prefixes) == len(set(prefixes)), prefixes
    # Only data keeps the bare LIFELINE_ (deployment-wide names); the others are distinct.
    assert [p for p in prefixes if p == LEGACY_PREFIX] == [LEGACY_PREFIX]


def test_every_name_is_its_packages_own_or_a_shared_one_or_an_old_alias() -> None:
    readers: dict[str, set[str]] = defaultdict(set)
    for package, cls in SETTINGS_CLASSES:
        for field in cls.model_fields:
            first, *old = env_names(cls, field)
            assert first.startswith(_prefix(cls)) or first in SHARED_NAMES, (cls, field, first)
            assert all(name.startswith(LEGACY_PREFIX) for name in old), (cls, field, old)
            for name in (first, *old):
                readers[name].add(package)
    shared = {name for name, packages in readers.items() if len(packages) > 1}
    assert shared <= SHARED_NAMES, shared - SHARED_NAMES


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_an_old_name_still_works(old: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, field, value = RENAMED[old]
    cls = _owner(old)
    monkeypatch.delenv(env_names(cls, field)[0], raising=False)  # the test run sets some
    monkeypatch.setenv(old, value)
    assert str(getattr(cls(), field)).rstrip("0").rstrip(".") == value


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_the_new_name_wins_over_the_old(old: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, field, value = RENAMED[old]
    cls = _owner(old)
    new = env_names(cls, field)[0]
    assert new != old and old in env_names(cls, field)
    monkeypatch.setenv(old, "1" + value)
    monkeypatch.setenv(new, value)
    assert str(getattr(cls(), field)).rstrip("0").rstrip(".") == value


def test_settings_build_by_field_name() -> None:
    """Code and tests pass settings by field name: the aliases must not stop that."""
    assert DispatchSettings(recommended_units=7).recommended_units == 7


def test_docs_settings_md_is_current() -> None:
    stale = "run: python -m console_api.settings_reference > docs/settings.md"
    assert DOC.read_text() == render(), stale
