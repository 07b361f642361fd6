"""Contracts v2 through the API, against the real servers: write grants, doctor-authored records,
cancelled signatures, extensions bound to their grant, registry-bound reads."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from pymongo.database import Database

from healthledger.chain.client import ChainClient
from healthledger.chain.relayer import Relayer

from .fixtures.wallets import registered_doctor
from .support import access
from .support.records import upload
from .support.wallet import Wallet

DAY = 86400
HASH = "0x" + "cd" * 32


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


def _profile(db: Database, address: str, role: str, **fields: object) -> None:
    db["profiles"].update_one(
        {"address": address.lower()},
        {"$set": {"role": role, **fields, "updated_at": datetime.now(UTC)}},
        upsert=True,
    )


@pytest_asyncio.fixture
async def named_doctor(client: httpx.Client, registrar_relayer: Relayer, db: Database) -> Wallet:
    doctor = await registered_doctor(client, registrar_relayer)
    _profile(db, doctor.address, "doctor", name="Dr. Writer", name_lower="dr. writer", licence_id="W-1", registered=True)
    return doctor


@pytest.mark.asyncio
async def test_write_grant_lifecycle_and_doctor_authored_record(
    client, patient_wallet, named_doctor, db, chain_client: ChainClient, relayer: Relayer, anvil
) -> None:
    patient, doctor = patient_wallet.address, named_doctor
    _profile(db, patient, "patient", display_name="Pat Example", name_lower="pat example", published=True)
    first = _ok(upload(client, patient_wallet, os.urandom(700)), 201)

    granted = _ok(access.write_grant(client, patient_wallet, doctor.address, DAY))
    assert granted["doctorAddress"] == doctor.address and granted["txHash"].startswith("0x")
    assert granted["expiresAt"] == await chain_client.get_write_grant(patient, doctor.address) > 0
    assert _ok(client.get("/api/access-requests/patient/write-grants", headers=patient_wallet.headers)) == {
        "grants": [{"doctorAddress": doctor.address, "doctorName": "Dr. Writer", "expiresAt": granted["expiresAt"]}]
    }
    assert _ok(client.get("/api/access-requests/doctor/write-grants", headers=doctor.headers)) == {
        "grants": [{"patientAddress": patient, "patientName": "Pat Example", "expiresAt": granted["expiresAt"]}]
    }

    # The doctor adds a record through the relayer (no upload route yet: issue 13): the database
    # has no row for it, and nothing that lists or checks the patient's records minds.
    payload = doctor.typed_data(
        client, "addRecordAsDoctor", {"patientAddress": patient, "recordType": "prescription", "contentHash": HASH}
    )
    message = payload["message"]
    assert message["doctor"] == doctor.address and message["kind"] == 0
    # The API's typed data, signed by the doctor's wallet, relayed through the table.
    added = await relayer.relay_signed("addRecordAsDoctor", patient, message, doctor.sign_typed_data(payload))
    second = _ok(upload(client, patient_wallet, os.urandom(800)), 201)
    assert (first["record_id"], second["record_id"]) == (0, 2)
    listed = _ok(client.get("/api/medical-records/patient-records", headers=patient_wallet.headers))
    assert sorted(r["record_id"] for r in listed["records"]) == [0, 2]

    trail = _ok(client.get("/api/audit/patient", headers=patient_wallet.headers))["events"]
    (by_doctor,) = [e for e in trail if e["action"] == "record_added" and e["tx_hash"] == added.tx_hash]
    assert by_doctor["doctor"] == doctor.address and by_doctor["record_ids"] == [1]
    assert by_doctor["details"]["author"] == doctor.address
    assert by_doctor["details"]["author_role"] == "doctor"
    assert by_doctor["details"]["author_name"] == "Dr. Writer"
    own = [e for e in trail if e["action"] == "record_added" and e["tx_hash"] != added.tx_hash]
    assert [e["details"]["author_role"] for e in own] == ["patient", "patient"]
    assert all(e["doctor"] is None and "author_name" not in e["details"] for e in own)
    (write_approved,) = [e for e in trail if e["action"] == "write_approved"]
    assert write_approved["doctor"] == doctor.address
    assert write_approved["details"]["expires_at"] == granted["expiresAt"]
    # Every entry about a doctor names them, so the timeline can say "Dr. Writer" rather than an address.
    assert write_approved["details"]["doctor_name"] == by_doctor["details"]["doctor_name"] == "Dr. Writer"

    revoked = _ok(access.write_revoke(client, patient_wallet, doctor.address))
    assert revoked["doctorAddress"] == doctor.address and revoked["txHash"].startswith("0x")
    assert await chain_client.get_write_grant(patient, doctor.address) == 0
    assert _ok(client.get("/api/access-requests/patient/write-grants", headers=patient_wallet.headers)) == {"grants": []}
    assert _ok(client.get("/api/access-requests/doctor/write-grants", headers=doctor.headers)) == {"grants": []}
    _error(access.write_revoke(client, patient_wallet, doctor.address), 409, "no_write_grant")
    trail = _ok(client.get("/api/audit/patient", headers=patient_wallet.headers))["events"]
    assert [e["doctor"] for e in trail if e["action"] == "write_revoked"] == [doctor.address]

    # An expired grant is not listed either.
    _ok(access.write_grant(client, patient_wallet, doctor.address, 60))
    anvil.advance(61)
    assert _ok(client.get("/api/access-requests/doctor/write-grants", headers=doctor.headers)) == {"grants": []}


@pytest.mark.asyncio
async def test_write_grant_refusals(client, patient_wallet, doctor_wallet, registrar_relayer) -> None:
    stranger = Wallet.random()
    # Not a registered doctor: refused before anything is signed or sent.
    payload = patient_wallet.typed_data(client, "approveWrite", {"doctor": stranger.address, "duration": 60})
    body = {"doctorAddress": stranger.address, "durationSeconds": 60, **access.signed(patient_wallet, payload)}
    post = lambda b: client.post("/api/access-requests/patient/write-grant", json=b, headers=patient_wallet.headers)  # noqa: E731
    _error(post(body), 409, "doctor_not_registered")
    _error(post({**body, "doctorAddress": "nobody"}), 400, "invalid_address")
    _error(post({**body, "doctorAddress": doctor_wallet.address, "durationSeconds": 0}), 400, "invalid_duration")
    # A signature for another duration than the one posted.
    payload = patient_wallet.typed_data(client, "approveWrite", {"doctor": doctor_wallet.address, "duration": 60})
    signed = access.signed(patient_wallet, payload)
    _error(post({"doctorAddress": doctor_wallet.address, "durationSeconds": 120, **signed}), 400, "invalid_signature")
    # Doctors cannot use the patient routes, patients not the doctor's list.
    _error(client.post("/api/access-requests/patient/write-grant", json=body, headers=doctor_wallet.headers), 403, "wrong_role")
    _error(client.get("/api/access-requests/doctor/write-grants", headers=patient_wallet.headers), 403, "wrong_role")
    _error(access.write_revoke(client, patient_wallet, doctor_wallet.address), 409, "no_write_grant")


@pytest.mark.asyncio
async def test_invalidate_nonce_cancels_a_prepared_approval(client, patient_wallet, doctor_wallet) -> None:
    """A signed but unsent ApproveRecords cannot be used once the patient cancels their signatures."""
    patient = patient_wallet.address
    _ok(upload(client, patient_wallet, os.urandom(600)), 201)
    request = _ok(access.request_access(client, doctor_wallet, patient), 201)
    payload = patient_wallet.typed_data(
        client, "approveRecords", {"doctor": doctor_wallet.address, "recordIds": [0], "duration": DAY}
    )
    assert payload["primaryType"] == "ApproveRecords"
    assert (payload["message"]["startWord"], payload["message"]["words"]) == (0, ["1"])
    prepared = {
        "requestId": request["id"], "action": "approve", "selectedRecords": [0], "durationSeconds": DAY,
        "walletSignature": patient_wallet.key_signature(client),
        **access.signed(patient_wallet, payload, "approvalSignature"),
    }

    cancelled = _ok(access.invalidate_nonce(client, patient_wallet))
    assert cancelled["account"] == patient and cancelled["nonce"] == payload["message"]["nonce"]
    response = client.post("/api/access-requests/patient/respond", json=prepared, headers=patient_wallet.headers)
    _error(response, 409, "stale_nonce")
    # The same cancellation again is refused: that nonce is used.
    cancelled_payload = patient_wallet.typed_data(client, "invalidateNonce", {})
    body = access.signed(patient_wallet, cancelled_payload)
    _ok(client.post("/api/signing/invalidate-nonce", json=body, headers=patient_wallet.headers))
    _error(client.post("/api/signing/invalidate-nonce", json=body, headers=patient_wallet.headers), 409, "stale_nonce")

    # A doctor names the vault; without it: 400. A patient cannot name someone else's.
    _error(client.post("/api/signing/invalidate-nonce", json=body, headers=doctor_wallet.headers), 400, "invalid_address")
    other = {"patientAddress": doctor_wallet.address, **body}
    _error(client.post("/api/signing/invalidate-nonce", json=other, headers=patient_wallet.headers), 400, "invalid_address")
    by_doctor = _ok(access.invalidate_nonce(client, doctor_wallet, patient))
    assert by_doctor["account"] == doctor_wallet.address and by_doctor["nonce"] == 1  # its requestAccess used 0

    trail = _ok(client.get("/api/audit/patient", headers=patient_wallet.headers))["events"]
    cancels = [e for e in trail if e["action"] == "nonce_invalidated"]
    assert [(e["details"]["account"], e["details"]["nonce"], e["doctor"]) for e in cancels] == [
        (doctor_wallet.address, 1, doctor_wallet.address),
        (patient, cancelled["nonce"] + 1, None),
        (patient, cancelled["nonce"], None),
    ]


@pytest.mark.asyncio
async def test_extension_signed_for_an_earlier_grant_is_409(client, patient_wallet, doctor_wallet, chain_client) -> None:
    patient, doctor = patient_wallet.address, doctor_wallet
    _ok(upload(client, patient_wallet, os.urandom(600)), 201)
    request = _ok(access.request_access(client, doctor, patient), 201)
    _ok(access.approve(client, patient_wallet, request["id"], doctor.address, [0], 1))
    _ok(access.request_extension(client, doctor, patient, DAY))
    old = patient_wallet.typed_data(client, "approveExtension", {"doctor": doctor.address, "extra": DAY})
    generation = (await chain_client.get_grant(patient, doctor.address)).generation
    assert old["message"]["generation"] == generation > 0

    # A new grant (another request, approved), and the same extension asked again.
    request = _ok(access.request_access(client, doctor, patient), 201)
    _ok(access.approve(client, patient_wallet, request["id"], doctor.address, [0], 1))
    _ok(access.request_extension(client, doctor, patient, DAY))
    assert (await chain_client.get_grant(patient, doctor.address)).generation == generation + 1
    stale = {"doctorAddress": doctor.address, **access.signed(patient_wallet, old)}
    url = "/api/access-requests/patient/approve-extension"
    _error(client.post(url, json=stale, headers=patient_wallet.headers), 409, "grant_changed")
    _error(
        client.post(url, json={**stale, "generation": generation}, headers=patient_wallet.headers), 409, "grant_changed"
    )
    _ok(access.approve_extension(client, patient_wallet, doctor.address, DAY))


@pytest.mark.asyncio
async def test_re_registered_doctor_does_not_get_old_grants_back(
    client, patient_wallet, doctor_wallet, registrar_relayer, chain_client
) -> None:
    """v1's canRead ignored the registry: a doctor struck off and registered again read again."""
    patient, doctor = patient_wallet.address, doctor_wallet
    record = _ok(upload(client, patient_wallet, os.urandom(600)), 201)
    request = _ok(access.request_access(client, doctor, patient), 201)
    _ok(access.approve(client, patient_wallet, request["id"], doctor.address, [0], 1))
    assert access.doctor_view(client, doctor, record["cid"]).status_code == 200

    await registrar_relayer.unregister_doctor(doctor.address)
    assert not await chain_client.can_read(patient, doctor.address, 0)
    await registrar_relayer.register_doctor(doctor.address)
    assert not await chain_client.can_read(patient, doctor.address, 0)  # the grant stays dead
    assert doctor.login(client)["role"] == "doctor"
    _error(access.doctor_view(client, doctor, record["cid"]), 403, "access_denied")
    chain_view = _ok(client.get("/api/access-requests/doctor/blockchain-authorized-records", headers=doctor.headers))
    assert chain_view["grants"] == []
    assert _ok(client.get("/api/access-requests/patient/grants", headers=patient_wallet.headers))["grants"] == []


@pytest.mark.asyncio
async def test_a_request_the_approval_could_not_honour_is_refused_before_sending(
    client, patient_wallet, doctor_wallet, registrar_relayer, chain_client
) -> None:
    """v2 answers a pending request without asking the registry (gas): approving a doctor struck off
    since, or registered again since asking, would be mined and grant nothing. The API says why instead."""
    patient, doctor = patient_wallet.address, doctor_wallet
    _ok(upload(client, patient_wallet, os.urandom(600)), 201)
    request = _ok(access.request_access(client, doctor, patient), 201)
    nonce = await chain_client.nonce_of(patient, patient)

    await registrar_relayer.unregister_doctor(doctor.address)
    _error(access.approve(client, patient_wallet, request["id"], doctor.address, [0], 1), 409, "doctor_not_registered")
    await registrar_relayer.register_doctor(doctor.address)
    _error(access.approve(client, patient_wallet, request["id"], doctor.address, [0], 1), 409, "request_stale")
    assert await chain_client.nonce_of(patient, patient) == nonce  # nothing was sent
    assert (await chain_client.get_grant(patient, doctor.address)).expires_at == 0

    # Asking again (under the new registration) is answered as usual.
    assert doctor.login(client)["role"] == "doctor"
    request = _ok(access.request_access(client, doctor, patient), 201)
    _ok(access.approve(client, patient_wallet, request["id"], doctor.address, [0], 1))
    assert await chain_client.can_read(patient, doctor.address, 0)
