"""Password rules: long enough, not on the shipped breached-password list, and strong by zxcvbn.

Length and a blocklist alone let ``P@ssw0rd2024`` and ``qwertyuiopas`` through: zxcvbn (Dropbox's
estimator: dictionaries with l33t substitutions, keyboard walks, dates, repeats) scores them 1 of 4.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from zxcvbn import zxcvbn

import data
from data.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
#: zxcvbn score 3 of 4: about 10^8 guesses or more ("safely unguessable" offline with a slow
#: hash such as argon2id).
MIN_ZXCVBN_SCORE = 3
#: zxcvbn's run time grows with the length; past this its score is certainly enough.
SCORED_PREFIX = 100
COMMON_PASSWORDS = Path(data.__file__).resolve().parent / "common_passwords.txt"


@lru_cache
def common_passwords() -> frozenset[str]:
    """The breached-password list shipped in ``data/``, lower-cased."""
    lines = COMMON_PASSWORDS.read_text().splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def check_password(password: str, *, user_inputs: list[str] | None = None) -> None:
    """Raise :class:`InvalidInput` for a short, breached or guessable password.

    ``user_inputs`` (the email, say) and their words count as known words to zxcvbn.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    lowered = password.lower()
    squeezed = "".join(ch for ch in lowered if ch.isalnum())
    if lowered in common_passwords() or squeezed in common_passwords() or len(set(lowered)) < 4:
        raise InvalidInput(
            "this password is on a list of breached passwords; choose a longer passphrase",
            field="password", code="password_too_common",
        )
    known = [word for text in user_inputs or [] for word in re.split(r"\W+", text) if word]
    scored = zxcvbn(password[:SCORED_PREFIX], user_inputs=[*(user_inputs or []), *known])
    if scored["score"] < MIN_ZXCVBN_SCORE:
        hint = scored["feedback"].get("warning") or "it follows a common pattern"
        raise InvalidInput(
            f"this password is too easy to guess ({hint.rstrip('.')}); "
            "choose a longer passphrase of unrelated words",
            field="password", code="password_too_weak",
        )
