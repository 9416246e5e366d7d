"""AES-256-GCM envelope encryption: data keys wrapped by a KEK that never enters the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import Field
from pydantic_settings import BaseSettings

from data.settings import package_settings

#: Development KEK (published, hence insecure): production refuses to start with it.
DEV_KEYRING = "dev:" + base64.b64encode(hashlib.sha256(b"lifeline-dev-kek").digest()).decode()
MAGIC = b"LF1"
NONCE_BYTES = 12


class VaultError(Exception):
    """A value cannot be sealed or opened (unknown key, tampered ciphertext)."""


class VaultSettings(BaseSettings):
    """``LIFELINE_IDENTITY_KEK`` or ``_KEK_FILE``: ``id:base64key`` entries, newest first.

    ``LIFELINE_IDENTITY_LOOKUP_KEY`` (base64, 32 bytes) keys the national-ID hashes; without it
    the oldest KEK of the ring does, so keep that one listed (it need not wrap anything). The
    identity package's prefix, apart from IdentitySettings so the keyring needs no token secret.
    """

    model_config = package_settings("LIFELINE_IDENTITY_")

    env: str = Field(default="development", validation_alias="LIFELINE_ENV")
    kek: str | None = None
    kek_file: str | None = None
    lookup_key: str | None = None

    def keyring_text(self) -> str:
        """The keyring, from the file when one is named; the dev keyring outside production."""
        if self.kek_file:
            return Path(self.kek_file).read_text().strip()
        if self.kek:
            return self.kek
        if self.env == "production":
            raise VaultError(
                "set LIFELINE_IDENTITY_KEK or LIFELINE_IDENTITY_KEK_FILE in production"
            )
        return DEV_KEYRING


@dataclass(frozen=True)
class Keyring:
    """Key-encryption keys by id; the first one wraps new data keys, the others only unwrap."""

    keys: dict[str, bytes]
    active_id: str
    lookup_secret: bytes | None = None

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Parse ``id:base64,id:base64`` (newest first); each key is 32 bytes."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for entry in filter(None, (e.strip() for e in text.replace("\n", ",").split(","))):
            kid, _, b64 = entry.partition(":")
            key = base64.b64decode(b64)
            if not kid or len(kid) > 32 or len(key) != 32:
                raise VaultError("each KEK entry is id:base64 of 32 bytes")
            keys[kid] = key
            order.append(kid)
        if not order:
            raise VaultError("the KEK keyring is empty")
        return cls(keys=keys, active_id=order[0])

    def lookup_key(self) -> bytes:
        """HMAC key for exact-match lookups; stable across KEK rotation."""
        if self.lookup_secret is not None:
            return self.lookup_secret
        oldest = list(self.keys.values())[-1]
        return hashlib.sha256(b"lifeline-lookup:" + oldest).digest()


@lru_cache
def keyring() -> Keyring:
    """The process keyring, read once from the environment or file."""
    settings = VaultSettings()
    ring = Keyring.parse(settings.keyring_text())
    if settings.env == "production" and DEV_KEYRING.split(":", 1)[1] in settings.keyring_text():
        raise VaultError("the published development KEK may not be used in production")
    if settings.lookup_key:
        secret = base64.b64decode(settings.lookup_key)
        if len(secret) != 32:
            raise VaultError("LIFELINE_IDENTITY_LOOKUP_KEY must be base64 of 32 bytes")
        ring = Keyring(keys=ring.keys, active_id=ring.active_id, lookup_secret=secret)
    return ring


def new_data_key() -> bytes:
    """A fresh 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def wrap(data_key: bytes, *, ring: Keyring, aad: bytes) -> tuple[str, bytes]:
    """Encrypt a data key under the active KEK; returns (kek id, wrapped key)."""
    nonce = os.urandom(NONCE_BYTES)
    return ring.active_id, nonce + AESGCM(ring.keys[ring.active_id]).encrypt(nonce, data_key, aad)


def unwrap(kek_id: str, wrapped: bytes, *, ring: Keyring, aad: bytes) -> bytes:
    """Decrypt a data key; fails if the KEK is unknown or the wrapped key was altered."""
    kek = ring.keys.get(kek_id)
    if kek is None:
        raise VaultError(f"KEK {kek_id!r} is not in the keyring")
    try:
        return AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
    except Exception as exc:
        raise VaultError("wrapped data key failed authentication") from exc


def seal(plaintext: str, *, data_key: bytes, key_id: bytes, aad: bytes) -> bytes:
    """``LF1 | key id (16) | nonce (12) | ciphertext+tag``; ``aad`` binds it to its row."""
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(data_key).encrypt(nonce, plaintext.encode(), aad)
    return MAGIC + key_id + nonce + body


def key_id_of(blob: bytes) -> bytes:
    """The data-key id a sealed value names."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 16 + NONCE_BYTES + 16:
        raise VaultError("not a sealed value")
    return blob[len(MAGIC) : len(MAGIC) + 16]


def open_sealed(blob: bytes, *, data_key: bytes, aad: bytes) -> str:
    """Decrypt a sealed value; tampering or a wrong key is a :class:`VaultError`."""
    start = len(MAGIC) + 16
    nonce, body = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
    try:
        return AESGCM(data_key).decrypt(nonce, body, aad).decode()
    except Exception as exc:
        raise VaultError("sealed value failed authentication") from exc


def lookup_hash(value: str, *, ring: Keyring, purpose: str) -> str:
    """Keyed hash (HMAC-SHA256) for exact-match search without decrypting every row."""
    normalised = "".join(ch for ch in value if ch.isalnum()).upper()
    message = f"{purpose}:{normalised}".encode()
    return hmac.new(ring.lookup_key(), message, hashlib.sha256).hexdigest()
