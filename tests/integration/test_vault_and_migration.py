"""The envelope-encryption primitives, the KEK settings, and the 0007 migration both ways."""

from __future__ import annotations

import base64
import os
import uuid

import psycopg
import pytest

from identity import vault
from tests.api.test_service_boundaries import run_cli
from tests.conftest import ADMIN_URL


def ring(*ids: str) -> vault.Keyring:
    text = ",".join(f"{i}:{base64.b64encode(os.urandom(32)).decode()}" for i in ids)
    return vault.Keyring.parse(text)


def test_seal_open_and_tamper():
    keys = ring("k1")
    data_key = vault.new_data_key()
    kek_id, wrapped = vault.wrap(data_key, ring=keys, aad=b"data-key:patient:1")
    assert kek_id == "k1" and data_key not in wrapped
    assert vault.unwrap(kek_id, wrapped, ring=keys, aad=b"data-key:patient:1") == data_key
    with pytest.raises(vault.VaultError):
        vault.unwrap(kek_id, wrapped, ring=keys, aad=b"data-key:patient:2")  # another subject
    blob = vault.seal("asthma", data_key=data_key, key_id=b"0" * 16, aad=b"row-1")
    assert vault.open_sealed(blob, data_key=data_key, aad=b"row-1") == "asthma"
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    for bad, aad in ((flipped, b"row-1"), (blob, b"row-2")):
        with pytest.raises(vault.VaultError):
            vault.open_sealed(bad, data_key=data_key, aad=aad)
    with pytest.raises(vault.VaultError):
        vault.unwrap("gone", wrapped, ring=keys, aad=b"data-key:patient:1")


def test_keyring_parsing_and_production_rules(monkeypatch):
    with pytest.raises(vault.VaultError):
        vault.Keyring.parse("k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(vault.VaultError):
        vault.Keyring.parse(" , ")
    keys = ring("new", "old")
    assert keys.active_id == "new" and set(keys.keys) == {"new", "old"}
    monkeypatch.setenv("LIFELINE_ENV", "production")
    monkeypatch.delenv("LIFELINE_IDENTITY_KEK", raising=False)
    with pytest.raises(vault.VaultError):
        vault.VaultSettings().keyring_text()
    monkeypatch.setenv("LIFELINE_IDENTITY_KEK", vault.DEV_KEYRING)
    vault.keyring.cache_clear()
    try:
        with pytest.raises(vault.VaultError):
            vault.keyring()
    finally:
        monkeypatch.undo()
        vault.keyring.cache_clear()


def test_lookup_hash_ignores_separators_and_survives_rotation():
    old = ring("old")
    rotated = vault.Keyring(keys={"new": os.urandom(32), **old.keys}, active_id="new")
    a = vault.lookup_hash("35202-1234567-1", ring=old, purpose="patients.national_id")
    b = vault.lookup_hash("35202 1234567 1", ring=rotated, purpose="patients.national_id")
    assert a == b and len(a) == 64
    assert a != vault.lookup_hash("35202-1234567-1", ring=old, purpose="other.field")


def test_cli_refuses_a_bad_totp_secret(database_url):
    result = run_cli(
        "users",
        "create",
        "--email",
        f"bad-{uuid.uuid4().hex[:6]}@lifeline.test",
        "--password",
        "violet tractor mends the harbour",
        "--role",
        "doctor",
        "--totp-secret",
        "not base32!",
        database_url=database_url,
    )
    assert result.returncode == 2 and "base32" in result.stdout


def test_migration_0007_is_reversible_and_keeps_case_notes():
    name = f"lifeline_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        assert run_cli("db", "upgrade", "0006_sms", database_url=sa_url).returncode == 0
        case_id = uuid.uuid4()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO emergency_cases (id, status, symptom_category, location, "
                "reporter_phone, notes, outside_service_area, off_network, raised_at, "
                "updated_at, version) VALUES (%s, 'raised', 'chest_pain', "
                "ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326), '+358401234567', "
                "'legacy plaintext note', false, false, now(), now(), 1)",
                (case_id,),
            )
        up = run_cli("db", "upgrade", database_url=sa_url)
        assert up.returncode == 0, up.stdout + up.stderr
        with psycopg.connect(url) as conn:
            blob = conn.execute(
                "SELECT notes_sealed FROM emergency_cases WHERE id = %s", (case_id,)
            ).fetchone()[0]
        assert bytes(blob).startswith(b"LF1") and b"legacy" not in bytes(blob)
        # The migration's frozen copy of the vault writes what the live vault reads.
        with psycopg.connect(url) as conn:
            subject, kek_id, wrapped = conn.execute(
                "SELECT subject, kek_id, wrapped_key FROM data_keys WHERE id = %s",
                (uuid.UUID(bytes=vault.key_id_of(bytes(blob))),),
            ).fetchone()
        keys = vault.Keyring.parse(vault.VaultSettings().keyring_text())
        data_key = vault.unwrap(kek_id, wrapped, ring=keys, aad=f"data-key:{subject}".encode())
        aad = f"emergency_cases.notes_sealed:{case_id}".encode()
        assert vault.open_sealed(bytes(blob), data_key=data_key, aad=aad) == "legacy plaintext note"
        down = run_cli("db", "downgrade", "0006_sms", database_url=sa_url)
        assert down.returncode == 0, down.stdout + down.stderr
        with psycopg.connect(url) as conn:
            notes = conn.execute(
                "SELECT notes FROM emergency_cases WHERE id = %s", (case_id,)
            ).fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
        assert notes == "legacy plaintext note"
        assert not tables & {"audit_log", "data_keys", "mfa_recovery_codes"}
        assert run_cli("db", "upgrade", database_url=sa_url).returncode == 0
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
