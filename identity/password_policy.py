"""Password rules: long enough and not on the shipped list of common (breached) passwords."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import data
from data.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
COMMON_PASSWORDS = Path(data.__file__).resolve().parent / "common_passwords.txt"


@lru_cache
def common_passwords() -> frozenset[str]:
    """The list shipped in ``data/``, lower-cased."""
    lines = COMMON_PASSWORDS.read_text().splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def check_password(password: str) -> None:
    """Raise :class:`InvalidInput` for a short, common or trivially repetitive password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    lowered = password.lower()
    squeezed = "".join(ch for ch in lowered if ch.isalnum())
    if lowered in common_passwords() or squeezed in common_passwords() or len(set(lowered)) < 4:
        raise InvalidInput(
            "this password is too common; choose a longer passphrase", field="password",
            code="password_too_common",
        )
