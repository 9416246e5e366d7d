"""Sealed fields: ciphertext in the database (raw SQL), plaintext through the API, HMAC lookup,
rows bound to their ciphertext, and decryption after a KEK rotation."""

from __future__ import annotations

import asyncio
import base64
import os

import psycopg
from sqlalchemy import select

from care.models import MedicalRecord
from dispatch.models import EmergencyCase
from identity import sealing, vault
from identity import service as identity_service
from identity.models import Patient
from tests.api.test_service_boundaries import run_cli
from tests.conftest import sos_body

CASES = "/api/v1/emergency/cases"
NATIONAL_ID = "35202-1234567-1"


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def raw(database_url: str, sql: str, *params):
    with psycopg.connect(plain(database_url)) as conn:
        return conn.execute(sql, params).fetchone()


async def test_case_notes_are_ciphertext_in_the_database(client, world, database_url):
    secret = "chest pain since 3am, history of angina, lives alone"
    r = await client.post(CASES, json=sos_body(notes=secret))
    assert r.status_code == 201 and r.json()["notes"] == secret
    stored = raw(
        database_url, "SELECT notes_sealed FROM emergency_cases WHERE id = %s", r.json()["id"]
    )
    blob = bytes(stored[0])
    assert blob.startswith(b"LF1") and secret.encode() not in blob and b"angina" not in blob
    columns = raw(
        database_url,
        "SELECT string_agg(column_name, ',') FROM information_schema.columns "
        "WHERE table_name = 'emergency_cases'",
    )[0]
    assert "notes_sealed" in columns.split(",") and "notes" not in columns.split(",")
    read = await client.get(f"{CASES}/{r.json()['id']}", headers=world.operator.headers)
    assert read.json()["notes"] == secret


async def test_patient_national_id_and_record_notes_are_sealed_and_found_by_hmac(app, database_url):
    async with app.state.session_factory() as session:
        patient = Patient(full_name="Bilal Sealed", national_id=NATIONAL_ID)
        session.add(patient)
        await session.flush()
        record = MedicalRecord(
            patient_id=patient.id, record_type="note", notes="penicillin allergy; on warfarin"
        )
        session.add(record)
        await session.commit()
        patient_id, record_id = patient.id, record.id
    nid, digest = raw(
        database_url,
        "SELECT national_id_encrypted, national_id_hmac FROM patients WHERE id = %s",
        patient_id,
    )
    assert NATIONAL_ID.encode() not in bytes(nid) and b"1234567" not in bytes(nid)
    assert len(digest) == 64 and "1234567" not in digest
    notes = raw(database_url, "SELECT notes_sealed FROM medical_records WHERE id = %s", record_id)[
        0
    ]
    assert b"warfarin" not in bytes(notes)
    subject = raw(
        database_url, "SELECT count(*) FROM data_keys WHERE subject = %s", f"patient:{patient_id}"
    )[0]
    assert subject == 1  # one data key per patient, shared by their fields
    async with app.state.session_factory() as session:
        found = await identity_service.patient_by_national_id(
            db_session=session,
            national_id="35202 1234567 1",  # separators do not matter
        )
        assert found is not None and found.id == patient_id and found.national_id == NATIONAL_ID
        again = await session.get(MedicalRecord, record_id)
        assert again.notes == "penicillin allergy; on warfarin"
        assert (
            await identity_service.patient_by_national_id(
                db_session=session, national_id="35202-7654321-1"
            )
            is None
        )


async def test_ciphertext_pasted_into_another_row_does_not_open(app, client, database_url):
    a = (await client.post(CASES, json=sos_body(notes="case A private"))).json()["id"]
    b = (await client.post(CASES, json=sos_body(notes="case B"))).json()["id"]
    with psycopg.connect(plain(database_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE emergency_cases SET notes_sealed = "
            "(SELECT notes_sealed FROM emergency_cases WHERE id = %s) WHERE id = %s",
            (a, b),
        )
    async with app.state.session_factory() as session:
        moved = await session.get(EmergencyCase, b)
        assert moved.notes is None  # the AAD binds the ciphertext to its own row


def _keyring_env(new_first: bool, new_key: str) -> dict[str, str]:
    new = f"new:{new_key}"
    return {
        "LIFELINE_IDENTITY_KEK": (
            f"{new},{vault.DEV_KEYRING}" if new_first else f"{vault.DEV_KEYRING},{new}"
        )
    }


async def test_values_decrypt_after_kek_rotation(app, client, database_url, world, monkeypatch):
    text = "rotation survivor: diabetic, insulin in fridge"
    case_id = (await client.post(CASES, json=sos_body(notes=text))).json()["id"]
    new_key = base64.b64encode(os.urandom(32)).decode()

    async def rotate(new_first: bool) -> None:
        env = _keyring_env(new_first, new_key)
        monkeypatch.setattr(os, "environ", {**os.environ, **env})
        result = await asyncio.to_thread(run_cli, "keys", "rotate", database_url=database_url)
        assert result.returncode == 0, result.stdout + result.stderr
        vault.keyring.cache_clear()
        sealing.forget_keys()

    try:
        await rotate(new_first=True)
        keks = raw(database_url, "SELECT array_agg(DISTINCT kek_id) FROM data_keys")[0]
        assert keks == ["new"]
        async with app.state.session_factory() as session:
            case = (
                await session.scalars(select(EmergencyCase).where(EmergencyCase.id == case_id))
            ).one()
            assert case.notes == text
        read = await client.get(f"{CASES}/{case_id}", headers=world.operator.headers)
        assert read.json()["notes"] == text
    finally:
        await rotate(new_first=False)  # back to the keyring the rest of the suite runs with
        monkeypatch.undo()
        vault.keyring.cache_clear()
        sealing.forget_keys()
    assert raw(database_url, "SELECT array_agg(DISTINCT kek_id) FROM data_keys")[0] == ["dev"]


def test_a_model_imported_after_the_sealing_module_still_opens_its_fields():
    """The notes of medical records read back as None when ``care.models`` was imported after
    ``identity.sealing`` (dispatch imports sealing and no longer imports care)."""
    import subprocess
    import sys

    probe = (
        "import dispatch.service\n"
        "from sqlalchemy import event\n"
        "from sqlalchemy.orm import configure_mappers\n"
        "from care.models import MedicalRecord\n"
        "from identity import sealing\n"
        "configure_mappers()\n"
        "assert event.contains(MedicalRecord, 'load', sealing._on_load)\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120)
