"""A plaintext attribute over an encrypted column (identity.sealing encrypts and decrypts it)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm.attributes import flag_modified


class SealedText:
    """``case.notes`` reads and writes plaintext; only ``case.<column>`` (ciphertext) is stored.

    ``subject`` names whose data key encrypts it (``"patient:<id>"``), so a patient's data can be
    crypto-shredded by deleting one key. ``lookup`` names a column that receives a keyed hash for
    exact-match search.
    """

    registry: list[tuple[type, SealedText]] = []
    #: Instances holding plaintext not yet sealed, so a flush need not scan the whole session.
    pending_objects: weakref.WeakSet[Any] = weakref.WeakSet()

    def __init__(
        self, column: str, *, subject: Callable[[Any], str], lookup: str | None = None
    ) -> None:
        self.column = column
        self.subject = subject
        self.lookup = lookup
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        SealedText.registry.append((owner, self))

    @property
    def slot(self) -> str:
        """Where the plaintext lives on the instance (never persisted)."""
        return f"_sealed_plain_{self.name}"

    @property
    def pending(self) -> str:
        """Marks plaintext not yet encrypted into the column."""
        return f"_sealed_pending_{self.name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(self.slot)

    def __set__(self, obj: Any, value: str | None) -> None:
        obj.__dict__[self.slot] = value
        obj.__dict__[self.pending] = True
        SealedText.pending_objects.add(obj)
        state = inspect(obj)
        if state.persistent:
            flag_modified(obj, self.column)
