"""Keys v2 for sharing, against the real servers: data keys sealed to the doctor's verified key at
approval, reads with the reader's own key signature, v1 records still opened and shared, old grant
copies dropped at start-up, write grants in whole days."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from healthledger.crypto import (
    derive_account_keypair,
    derive_kek,
    open_data_key,
    reader_aad,
    seal_data_key,
    wrap_key,
)
from healthledger.services.upload import record_aad
from pymongo import MongoClient
from pymongo.database import Database

from .fixtures.wallets import registered_doctor
from .support import access
from .support.keys import register_key
from .support.records import upload, view
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

DAY = 86400


@pytest.mark.asyncio
async def test_approving_a_doctor_without_a_key_is_refused_before_anything_is_relayed(
    client, patient_wallet, doctor_wallet, chain_client, db: Database
) -> None:
    patient = patient_wallet.address
    record = expect_ok(upload(client, patient_wallet, os.urandom(800)), 201)
    request = expect_ok(access.request_access(client, doctor_wallet, patient, with_key=False), 201)
    nonce = await chain_client.nonce_of(patient, patient)

    body = expect_error(access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [record["record_id"]], 1), 409, "doctor_key_missing")
    assert "sign in" in body["error"]["message"]
    assert await chain_client.nonce_of(patient, patient) == nonce  # nothing relayed
    assert not await chain_client.can_read(patient, doctor_wallet.address, record["record_id"])
    assert db["grant_keys"].count_documents({"doctor": doctor_wallet.address.lower()}) == 0
    assert access.pending_requests(client, patient_wallet)[0]["id"] == request["id"]  # still open

    # Once the doctor has signed in and set up the key, the same request is approved.
    register_key(client, doctor_wallet)
    expect_ok(access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [record["record_id"]], 1))
    assert access.doctor_view(client, doctor_wallet, record["cid"]).status_code == 200


@pytest.mark.asyncio
async def test_a_tampered_doctor_key_is_refused_before_anything_is_sealed_or_relayed(
    client, patient_wallet, doctor_wallet, chain_client, db: Database
) -> None:
    patient = patient_wallet.address
    record = expect_ok(upload(client, patient_wallet, os.urandom(800)), 201)
    request = expect_ok(access.request_access(client, doctor_wallet, patient), 201)
    # The database's row for the doctor now names a key an attacker holds (the binding stays the doctor's).
    attacker = Wallet.random()
    _, attacker_public = derive_account_keypair(attacker.personal_sign(client.get("/api/keys/message").json()["message"]))
    db["account_keys"].update_one(
        {"account": doctor_wallet.address.lower()}, {"$set": {"public_key": "0x" + bytes(attacker_public).hex()}}
    )
    nonce = await chain_client.nonce_of(patient, patient)

    expect_error(access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [record["record_id"]], 1), 409, "key_binding_invalid")
    assert await chain_client.nonce_of(patient, patient) == nonce
    assert db["grant_keys"].count_documents({"doctor": doctor_wallet.address.lower()}) == 0


@pytest.mark.asyncio
async def test_doctors_read_with_their_own_key_signature(client, patient_wallet, doctor_wallet, db: Database) -> None:
    content = os.urandom(1200)
    record = expect_ok(upload(client, patient_wallet, content), 201)
    request = expect_ok(access.request_access(client, doctor_wallet, patient_wallet.address), 201)
    expect_ok(access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [record["record_id"]], 1))
    cid = record["cid"]

    expect_error(access.doctor_view(client, doctor_wallet, cid, with_signature=False), 400, "missing_wallet_signature")
    # The patient's key signature is not the doctor's.
    headers = {**doctor_wallet.headers, "X-Wallet-Signature": patient_wallet.key_signature(client)}
    expect_error(client.get(f"/api/medical-records/view/{cid}", headers=headers), 400, "invalid_wallet_signature")
    answer = access.doctor_view(client, doctor_wallet, cid)
    assert answer.status_code == 200 and answer.content == content

    # verify: the re-hash needs the signature; without it, the checks that need no key.
    with_key = expect_ok(client.get(f"/api/medical-records/verify/{cid}", headers={**doctor_wallet.headers, "X-Wallet-Signature": doctor_wallet.key_signature(client)}))
    assert with_key["verified"] is True and with_key["plaintext_rehashed"] is True
    without = expect_ok(client.get(f"/api/medical-records/verify/{cid}", headers=doctor_wallet.headers))
    assert without["verified"] is True and without["plaintext_rehashed"] is False

    # The grant copy is sealed to the doctor (their key opens it, bound to this record and reader),
    # and nothing like the server's old wrapped form is stored.
    [copy] = list(db["grant_keys"].find({"doctor": doctor_wallet.address.lower()}))
    assert "wrapped_key" not in copy and copy["sealed_key"].startswith("hlsk1.")
    private, _ = derive_account_keypair(doctor_wallet.key_signature(client))
    aad = reader_aad(patient_wallet.address, record["content_hash"], doctor_wallet.address)
    assert len(open_data_key(copy["sealed_key"], private, aad)) == 32
    # A copy edited in the database does not open: a database mismatch, not a 500.
    db["grant_keys"].update_one({"_id": copy["_id"]}, {"$set": {"sealed_key": copy["sealed_key"][:-4] + "AAAA"}})
    expect_error(access.doctor_view(client, doctor_wallet, cid), 409, "integrity_mismatch")


@pytest.mark.asyncio
async def test_a_v1_record_opens_and_is_shared(client, patient_wallet, doctor_wallet, db: Database) -> None:
    """A record written before keys v2 (data key wrapped under the patient's KEK, no sealed copy)."""
    content = os.urandom(900)
    record = expect_ok(upload(client, patient_wallet, content), 201)
    patient = patient_wallet.address.lower()
    doc = db["records"].find_one({"cid": record["cid"]})
    signature = patient_wallet.key_signature(client)
    private, _ = derive_account_keypair(signature)
    data_key = open_data_key(doc["sealed_keys"][patient], private, reader_aad(patient, doc["content_hash"], patient))
    # Rewrite it the v1 way: KEK-wrapped, no sealed copies.
    kek = derive_kek(bytes.fromhex(signature[2:]), patient_wallet.address)
    wrapped = wrap_key(data_key, kek, record_aad(patient, doc["content_hash"]))
    db["records"].update_one({"_id": doc["_id"]}, {"$set": {"wrapped_key": wrapped, "sealed_keys": {}}})

    assert view(client, patient_wallet, record["cid"]).content == content
    request = expect_ok(access.request_access(client, doctor_wallet, patient_wallet.address), 201)
    expect_ok(access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [record["record_id"]], 1))
    answer = access.doctor_view(client, doctor_wallet, record["cid"])
    assert answer.status_code == 200 and answer.content == content


def test_old_grant_copies_are_deleted_at_start_up(other_api_server, api_settings) -> None:
    database = "healthledger_test_legacy_" + os.urandom(4).hex()
    with MongoClient(api_settings.mongodb_uri, serverSelectionTimeoutMS=5000) as mongo:
        keys = mongo[database]["grant_keys"]
        keys.insert_one({"patient": "0x" + "1" * 40, "doctor": "0x" + "2" * 40, "cid": "Qm-old", "record_id": 0,
                         "wrapped_key": "hlwk1.old", "expires_at": 2**40})
        keys.insert_one({"patient": "0x" + "1" * 40, "doctor": "0x" + "2" * 40, "cid": "Qm-new", "record_id": 1,
                         "sealed_key": "hlsk1.new", "expires_at": 2**40})
        with other_api_server(mongodb_database=database):
            assert [doc["cid"] for doc in keys.find()] == ["Qm-new"]


@pytest.mark.asyncio
async def test_write_grant_in_whole_days(client, patient_wallet, doctor_wallet, chain_client) -> None:
    patient, doctor = patient_wallet.address, doctor_wallet.address
    expect_ok(upload(client, patient_wallet, os.urandom(300)), 201)
    url = "/api/access-requests/patient/write-grant"

    def body(duration: int, **fields: object) -> dict:
        payload = patient_wallet.typed_data(client, "approveWrite", {"doctor": doctor, "duration": duration})
        return {"doctorAddress": doctor, **fields, **access.signed(patient_wallet, payload)}

    for bad in (0, 3651, -1):
        expect_error(client.post(url, json=body(DAY, durationDays=bad), headers=patient_wallet.headers), 400, "invalid_duration")
    expect_error(client.post(url, json=body(DAY, durationDays=1, durationSeconds=60), headers=patient_wallet.headers), 400, "invalid_duration")
    expect_error(client.post(url, json=body(DAY), headers=patient_wallet.headers), 400, "invalid_duration")
    # The signed duration is days * 86400: a signature over 2 days does not pass for 3.
    expect_error(client.post(url, json=body(2 * DAY, durationDays=3), headers=patient_wallet.headers), 400, "invalid_signature")

    granted = expect_ok(client.post(url, json=body(2 * DAY, durationDays=2), headers=patient_wallet.headers))
    block_time = await chain_client.latest_timestamp()
    assert granted["expiresAt"] == block_time + 2 * DAY
    assert await chain_client.get_write_grant(patient, doctor) == granted["expiresAt"]


@pytest.mark.asyncio
async def test_the_maintenance_loop_sweeps_expired_grant_copies(other_api_server, registrar_relayer, anvil) -> None:
    """An expired grant's copies go (chain time, polled, no sleeps); a live grant's stay."""
    with other_api_server(reconcile_interval_seconds=0.3) as server, httpx.Client(base_url=server.url, timeout=60.0) as client:
        patient = Wallet.random()
        patient.login(client)
        short, long = [await registered_doctor(client, registrar_relayer) for _ in range(2)]
        record = expect_ok(upload(client, patient, os.urandom(500)), 201)
        for doctor, days in ((short, 1 / 24), (long, 30)):
            request = expect_ok(access.request_access(client, doctor, patient.address), 201)
            expect_ok(access.approve(client, patient, request["id"], doctor.address, [record["record_id"]], days))
        with MongoClient(server.settings.mongodb_uri, serverSelectionTimeoutMS=5000) as mongo:
            keys = mongo[server.settings.mongodb_database]["grant_keys"]
            holders = lambda: sorted(doc["doctor"] for doc in keys.find())  # noqa: E731
            assert holders() == sorted([short.address.lower(), long.address.lower()])
            anvil.advance(2 * 3600)
            deadline = time.monotonic() + 30
            while holders() != [long.address.lower()]:
                assert time.monotonic() < deadline, f"expired copy not swept: {holders()}"
                time.sleep(0.1)
        assert access.doctor_view(client, long, record["cid"]).status_code == 200


@pytest.mark.asyncio
async def test_an_author_reads_their_record_while_they_may_write(client, patient_wallet, doctor_wallet, db: Database) -> None:
    """Rule: the author (record.author) reads with `sealed_keys[author]` while the chain says canRead
    or canWrite for them. The record is made authored here in the database (doctor uploads are
    another module's), with the author's copy sealed as a doctor upload seals it."""
    content = os.urandom(700)
    record = expect_ok(upload(client, patient_wallet, content), 201)
    patient, doctor = patient_wallet.address.lower(), doctor_wallet.address.lower()
    doc = db["records"].find_one({"cid": record["cid"]})
    private, _ = derive_account_keypair(patient_wallet.key_signature(client))
    data_key = open_data_key(doc["sealed_keys"][patient], private, reader_aad(patient, doc["content_hash"], patient))
    doctor_public = register_key(client, doctor_wallet)
    author_copy = seal_data_key(data_key, doctor_public, reader_aad(patient, doc["content_hash"], doctor))
    db["records"].update_one({"_id": doc["_id"]}, {"$set": {"author": doctor, f"sealed_keys.{doctor}": author_copy}})

    # No grant of any kind: refused.
    expect_error(access.doctor_view(client, doctor_wallet, record["cid"]), 403, "access_denied")
    expect_ok(access.write_grant(client, patient_wallet, doctor_wallet.address, DAY))
    answer = access.doctor_view(client, doctor_wallet, record["cid"])
    assert answer.status_code == 200 and answer.content == content
    expect_error(access.doctor_view(client, doctor_wallet, record["cid"], with_signature=False), 400, "missing_wallet_signature")
    expect_ok(access.write_revoke(client, patient_wallet, doctor_wallet.address))
    expect_error(access.doctor_view(client, doctor_wallet, record["cid"]), 403, "access_denied")
    # A non-author with a write grant reads nothing through it.
    db["records"].update_one({"_id": doc["_id"]}, {"$set": {"author": None}})
    expect_ok(access.write_grant(client, patient_wallet, doctor_wallet.address, DAY))
    expect_error(access.doctor_view(client, doctor_wallet, record["cid"]), 403, "access_denied")
