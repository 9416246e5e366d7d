"""Encrypt :class:`data.sealed.SealedText` fields on flush and decrypt them on load."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import Connection, event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapper, Session

from data.base import utcnow
from data.sealed import SealedText
from identity import vault
from identity.models import DataKey

log = logging.getLogger("lifeline.sealing")

_cache: dict[bytes, bytes] = {}  # data-key id -> unwrapped data key
_subjects: dict[str, bytes] = {}  # subject -> data-key id
_lock = threading.Lock()


def _aad(subject: str) -> bytes:
    return f"data-key:{subject}".encode()


def field_aad(obj: Any, field: SealedText) -> bytes:
    """Bind a ciphertext to its table, column and row, so it cannot be pasted into another row."""
    return f"{obj.__table__.name}.{field.column}:{obj.id}".encode()


def forget_keys() -> None:
    """Drop unwrapped keys from memory (after rotation, in tests)."""
    with _lock:
        _cache.clear()
        _subjects.clear()


def data_key_for(conn: Connection, subject: str) -> tuple[bytes, bytes]:
    """(key id, data key) of ``subject``, created and wrapped under the active KEK if missing."""
    key_id = _subjects.get(subject)
    if key_id is not None and key_id in _cache:
        return key_id, _cache[key_id]
    ring = vault.keyring()
    row = conn.execute(
        select(DataKey.id, DataKey.kek_id, DataKey.wrapped_key).where(DataKey.subject == subject)
    ).first()
    if row is None:
        data_key = vault.new_data_key()
        kek_id, wrapped = vault.wrap(data_key, ring=ring, aad=_aad(subject))
        new_id = uuid.uuid4()
        # A concurrent writer may create the same subject's key: keep whichever landed first.
        conn.execute(_insert_ignore(new_id, subject, kek_id, wrapped))
        row = conn.execute(
            select(DataKey.id, DataKey.kek_id, DataKey.wrapped_key).where(
                DataKey.subject == subject
            )
        ).one()
        created = True
    else:
        created = False
    data_key = vault.unwrap(row.kek_id, row.wrapped_key, ring=ring, aad=_aad(subject))
    with _lock:
        _cache[row.id.bytes] = data_key
        if not created:  # a key made in this transaction may yet be rolled back
            _subjects[subject] = row.id.bytes
    return row.id.bytes, data_key


def _insert_ignore(new_id: uuid.UUID, subject: str, kek_id: str, wrapped: bytes):
    return (
        pg_insert(DataKey)
        .values(id=new_id, subject=subject, kek_id=kek_id, wrapped_key=wrapped, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["subject"])
    )


def data_key_by_id(conn: Connection, key_id: bytes) -> bytes:
    """The unwrapped data key a sealed value names."""
    cached = _cache.get(key_id)
    if cached is not None:
        return cached
    row = conn.execute(
        select(DataKey.subject, DataKey.kek_id, DataKey.wrapped_key).where(
            DataKey.id == uuid.UUID(bytes=key_id)
        )
    ).one_or_none()
    if row is None:
        raise vault.VaultError("the data key of this value was deleted (crypto-shredded)")
    ring = vault.keyring()
    data_key = vault.unwrap(row.kek_id, row.wrapped_key, ring=ring, aad=_aad(row.subject))
    with _lock:
        _cache[key_id] = data_key
    return data_key


def seal_field(conn: Connection, obj: Any, field: SealedText) -> None:
    """Encrypt the pending plaintext of ``field`` into its column (and its lookup hash)."""
    plaintext = obj.__dict__.get(field.slot)
    if plaintext is None:
        setattr(obj, field.column, None)
        if field.lookup:
            setattr(obj, field.lookup, None)
    else:
        key_id, data_key = data_key_for(conn, field.subject(obj))
        sealed = vault.seal(plaintext, data_key=data_key, key_id=key_id, aad=field_aad(obj, field))
        setattr(obj, field.column, sealed)
        if field.lookup:
            purpose = f"{obj.__table__.name}.{field.name}"
            digest = vault.lookup_hash(plaintext, ring=vault.keyring(), purpose=purpose)
            setattr(obj, field.lookup, digest)
    obj.__dict__.pop(field.pending, None)


def open_field(conn: Connection, obj: Any, field: SealedText) -> None:
    """Decrypt the column of ``field`` into its plaintext slot (None when unreadable)."""
    blob = obj.__dict__.get(field.column)
    plaintext = None
    if blob is not None:
        try:
            data_key = data_key_by_id(conn, vault.key_id_of(bytes(blob)))
            plaintext = vault.open_sealed(bytes(blob), data_key=data_key, aad=field_aad(obj, field))
        except vault.VaultError as exc:
            log.error("cannot open %s.%s: %s", type(obj).__name__, field.name, exc)
    obj.__dict__[field.slot] = plaintext
    obj.__dict__.pop(field.pending, None)


def lookup_hash(model: type, field_name: str, value: str) -> str:
    """The keyed hash to search ``model.<lookup column>`` for ``value``."""
    purpose = f"{model.__table__.name}.{field_name}"
    return vault.lookup_hash(value, ring=vault.keyring(), purpose=purpose)


def _fields(obj: Any) -> list[SealedText]:
    return [f for owner, f in SealedText.registry if isinstance(obj, owner)]


def seal_pending(session: Session, obj: Any) -> None:
    """Encrypt ``obj``'s new or changed sealed fields now (a row written without a flush)."""
    fields = [f for f in _fields(obj) if obj.__dict__.get(f.pending)]
    if fields:
        if getattr(obj, "id", None) is None:
            obj.id = uuid.uuid4()
        conn = session.connection()
        for field in fields:
            seal_field(conn, obj, field)
    SealedText.pending_objects.discard(obj)


@event.listens_for(Session, "before_flush")
def _seal_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Every new or changed sealed field is encrypted before its row is written."""
    for obj in list(SealedText.pending_objects):
        if obj in session:
            seal_pending(session, obj)


def _on_load(obj: Any, context: Any) -> None:
    fields = _fields(obj)
    if not fields:
        return
    conn = context.session.connection()
    for field in fields:
        if not obj.__dict__.get(field.pending):
            open_field(conn, obj, field)


def _on_refresh(obj: Any, context: Any, attrs: Any) -> None:
    _on_load(obj, context)


def _attach(owner: type) -> None:
    if not event.contains(owner, "load", _on_load):
        event.listen(owner, "load", _on_load)
        event.listen(owner, "refresh", _on_refresh)


def install() -> None:
    """Attach the load hooks to every model with sealed fields (idempotent)."""
    for owner, _field in SealedText.registry:
        _attach(owner)


@event.listens_for(Mapper, "mapper_configured")
def _install_late(mapper: Mapper[Any], cls: type) -> None:
    """A model whose module is imported after this one still opens its sealed fields on load
    (the medical records' notes read back as None when ``care.models`` came second)."""
    if any(owner is cls for owner, _field in SealedText.registry):
        _attach(cls)


def rotate(conn: Connection, *, batch: int = 500) -> int:
    """Re-wrap every data key not under the active KEK; values are not re-encrypted."""
    ring = vault.keyring()
    done = 0
    while True:
        rows = conn.execute(
            select(DataKey.id, DataKey.subject, DataKey.kek_id, DataKey.wrapped_key)
            .where(DataKey.kek_id != ring.active_id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return done
        for row in rows:
            data_key = vault.unwrap(row.kek_id, row.wrapped_key, ring=ring, aad=_aad(row.subject))
            kek_id, wrapped = vault.wrap(data_key, ring=ring, aad=_aad(row.subject))
            conn.execute(
                update(DataKey)
                .where(DataKey.id == row.id, DataKey.kek_id == row.kek_id)
                .values(kek_id=kek_id, wrapped_key=wrapped, rotated_at=utcnow())
            )
        conn.commit()
        done += len(rows)


install()
