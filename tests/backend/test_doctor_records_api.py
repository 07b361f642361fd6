"""Doctor-authored records (keys v2) end to end, against the real Anvil, js-ipfs and SecantusDB.

A patient grants a registered doctor write access; the doctor uploads a file for them with one
EIP-712 AddRecordAsDoctor signature and no key signature. The server seals the data key to the
patient's and the doctor's registered public keys, pins, anchors with the doctor as author and
confirms. Every refusal (no or expired grant, a missing or tampered key, a bad signature) happens
before anything is stored or sent: the records collection and the doctor's nonce are unchanged.
"""

from __future__ import annotations

import os

import httpx
import pytest
from pymongo.database import Database

from healthledger.chain.client import ChainClient
from healthledger.chain.relayer import Relayer

from .fixtures.wallets import registered_doctor
from .support import access
from .support.doctor_records import DOCTOR_UPLOAD, doctor_upload, doctor_upload_form, register_key
from .support.records import upload, view
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

DAY = 86400


@pytest.mark.asyncio
async def test_a_doctor_with_a_write_grant_adds_a_record_the_patient_opens(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, chain_client: ChainClient, db: Database
) -> None:
    patient = keyed_patient
    own = expect_ok(upload(client, patient, os.urandom(300)), 201)  # the patient's own, for the lists
    expect_ok(access.write_grant(client, patient, writer.address, DAY))

    content = b"%PDF-1.4 amoxicillin 500 mg, three times a day for 7 days " + os.urandom(64)
    added = expect_ok(doctor_upload(client, writer, patient.address, content), 201)
    assert added["state"] == "confirmed" and added["record_id"] == 1
    assert added["patient"] == patient.address.lower()
    assert (added["author"], added["author_name"]) == (writer.address.lower(), "Dr. Writer")
    assert added["record_type"] == "prescription" and added["size"] == len(content)

    # On chain the doctor is the record's author, under the salted commitment.
    on_chain = await chain_client.get_record(patient.address, added["record_id"])
    assert on_chain is not None and on_chain.author == writer.address
    assert on_chain.content_hash == added["content_hash"]

    # At rest: no KEK-wrapped key, one sealed copy per permanent reader, the doctor's signature kept.
    stored = db["records"].find_one({"cid": added["cid"]})
    assert stored["wrapped_key"] == ""
    assert set(stored["sealed_keys"]) == {patient.address.lower(), writer.address.lower()}
    assert stored["relay"]["signer"] == writer.address.lower()
    assert stored["author"] == writer.address.lower()

    # The patient's list names the author; their own record has none.
    listed = {r["cid"]: r for r in expect_ok(client.get("/api/medical-records/patient-records", headers=patient.headers))["records"]}
    assert (listed[added["cid"]]["author"], listed[added["cid"]]["author_name"]) == (writer.address.lower(), "Dr. Writer")
    assert (listed[own["cid"]]["author"], listed[own["cid"]]["author_name"]) == (None, None)

    # The patient opens it with their own key signature: the exact bytes, every check passed.
    viewed = view(client, patient, added["cid"])
    assert viewed.status_code == 200, viewed.text
    assert viewed.content == content
    assert viewed.headers["x-integrity-verified"] == viewed.headers["x-blockchain-hash-verified"] == "true"
    verified = expect_ok(
        client.get(
            f"/api/medical-records/verify/{added['cid']}",
            headers={**patient.headers, "X-Wallet-Signature": patient.key_signature(client)},
        )
    )
    assert verified["verified"] is True and verified["plaintext_rehashed"] is True

    # The doctor's authored list: theirs only, newest first, each naming its patient.
    second = expect_ok(doctor_upload(client, writer, patient.address, os.urandom(900), "report", "lab.pdf"), 201)
    authored = expect_ok(client.get("/api/medical-records/doctor/authored", headers=writer.headers))["records"]
    assert [r["cid"] for r in authored] == [second["cid"], added["cid"]]
    assert {(r["patient"], r["author"], r["author_name"]) for r in authored} == {
        (patient.address.lower(), writer.address.lower(), "Dr. Writer")
    }
    assert expect_ok(client.get("/api/medical-records/doctor/authored", headers=patient.headers), 403)["error"]["code"] == "wrong_role"


@pytest.mark.asyncio
async def test_the_same_upload_sent_again_is_its_record(client: httpx.Client, keyed_patient: Wallet, writer: Wallet, db: Database) -> None:
    """A retry of one doctor upload (its answer lost) gets that upload's record, not a second one."""
    expect_ok(access.write_grant(client, keyed_patient, writer.address, DAY))
    content = os.urandom(2048)
    form = doctor_upload_form(client, writer, keyed_patient.address, content)
    post = lambda: client.post(  # noqa: E731
        DOCTOR_UPLOAD, data=form, files={"file": ("rx.pdf", content, "application/pdf")}, headers=writer.headers
    )
    first = expect_ok(post(), 201)
    again = expect_ok(post(), 200)
    assert again["cid"] == first["cid"] and again["record_id"] == first["record_id"]
    assert db["records"].count_documents({"patient": keyed_patient.address.lower()}) == 1


@pytest.mark.asyncio
async def test_the_author_reads_their_record(client: httpx.Client, keyed_patient: Wallet, writer: Wallet) -> None:
    expect_ok(access.write_grant(client, keyed_patient, writer.address, DAY))
    content = os.urandom(777)
    added = expect_ok(doctor_upload(client, writer, keyed_patient.address, content), 201)
    viewed = view(client, writer, added["cid"])
    assert viewed.status_code == 200, viewed.text
    assert viewed.content == content


@pytest.mark.asyncio
async def test_a_doctor_uploads_files_larger_than_a_json_body(client: httpx.Client, keyed_patient: Wallet, writer: Wallet) -> None:
    """The doctor's upload takes files up to MAX_UPLOAD_BYTES like the patient's (it was held to the
    64 KiB JSON limit: 413 payload_too_large for a 100 KB prescription)."""
    expect_ok(access.write_grant(client, keyed_patient, writer.address, DAY))
    content = os.urandom(1024 * 1024)
    added = expect_ok(doctor_upload(client, writer, keyed_patient.address, content), 201)
    assert added["size"] == len(content)
    viewed = view(client, keyed_patient, added["cid"])
    assert viewed.status_code == 200, viewed.text
    assert viewed.content == content


@pytest.mark.asyncio
async def test_refusals_come_before_anything_is_stored(
    client: httpx.Client, patient_wallet: Wallet, writer: Wallet, registrar_relayer: Relayer,
    chain_client: ChainClient, db: Database, anvil,
) -> None:
    patient = patient_wallet
    records = db["records"]

    async def nothing_stored() -> None:
        assert records.count_documents({"patient": patient.address.lower()}) == 0
        assert records.count_documents({"author": writer.address.lower()}) == 0
        assert await chain_client.nonce_of(patient.address, writer.address) == 0
        assert await chain_client.record_count(patient.address) == 0

    content = os.urandom(512)
    # No write grant (and no vault yet): 403 before anything.
    expect_error(doctor_upload(client, writer, patient.address, content), 403, "no_write_grant")
    await nothing_stored()

    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    # The patient never set up an encryption key: nothing can be sealed to them.
    body = expect_error(doctor_upload(client, writer, patient.address, content), 409, "patient_key_missing")
    assert "sign in to HealthLedger once" in body["error"]["message"]
    await nothing_stored()

    register_key(client, patient)
    # A tampered key row (the patient's public key swapped for the doctor's): refused, never sealed to.
    doctor_row = db["account_keys"].find_one({"account": writer.address.lower()})
    patient_row = db["account_keys"].find_one({"account": patient.address.lower()})
    db["account_keys"].update_one({"_id": patient_row["_id"]}, {"$set": {"public_key": doctor_row["public_key"]}})
    expect_error(doctor_upload(client, writer, patient.address, content), 409, "key_binding_invalid")
    db["account_keys"].update_one({"_id": patient_row["_id"]}, {"$set": {"public_key": patient_row["public_key"]}})
    await nothing_stored()

    # A doctor without a key of their own.
    keyless = await registered_doctor(client, registrar_relayer)
    expect_ok(access.write_grant(client, patient, keyless.address, DAY))
    expect_error(doctor_upload(client, keyless, patient.address, content), 409, "doctor_key_missing")

    # Signatures that do not authorise this file: another file's, another wallet's.
    other = doctor_upload_form(client, writer, patient.address, os.urandom(512))
    expect_error(
        doctor_upload(client, writer, patient.address, content, overrides={"recordSignature": other["recordSignature"]}),
        400, "invalid_record_signature",
    )
    payload = writer.typed_data(
        client, "addRecordAsDoctor",
        {"patientAddress": patient.address, "recordType": "prescription", "contentHash": "0x" + "00" * 32},
    )
    expect_error(
        doctor_upload(client, writer, patient.address, content, overrides={"recordSignature": Wallet.random().sign_typed_data(payload)}),
        400, "invalid_record_signature",
    )
    # A nonce ahead of the current one is accepted (the relayer queue holds it), so the signature decides;
    # one beyond RELAY_MAX_NONCES_AHEAD is refused.
    expect_error(doctor_upload(client, writer, patient.address, content, overrides={"nonce": "5"}), 400, "invalid_record_signature")
    expect_error(doctor_upload(client, writer, patient.address, content, overrides={"nonce": "99"}), 409, "nonce_too_far_ahead")
    expect_error(doctor_upload(client, writer, patient.address, content, overrides={"patientAddress": "0x1234"}), 400, "invalid_address")
    expect_error(doctor_upload(client, writer, patient.address, content, overrides={"salt": "0x12"}), 400, "invalid_salt")
    expect_error(doctor_upload(client, writer, patient.address, content, overrides={"recordType": "x-ray"}), 400, "invalid_record_type")
    # Only doctors upload here.
    expect_error(
        client.post(DOCTOR_UPLOAD, data={"patientAddress": patient.address}, files={"file": ("a", b"a")}, headers=patient.headers),
        403, "wrong_role",
    )
    await nothing_stored()

    # An expired write grant is no grant.
    expect_ok(access.write_grant(client, patient, writer.address, 60))
    anvil.advance(61)
    expect_error(doctor_upload(client, writer, patient.address, content), 403, "no_write_grant")
    # A revoked one neither.
    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    expect_ok(access.write_revoke(client, patient, writer.address))
    expect_error(doctor_upload(client, writer, patient.address, content), 403, "no_write_grant")
    await nothing_stored()
