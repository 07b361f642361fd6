"""Role checks on every access endpoint, and forged or replayed signatures: 4xx, nothing written."""

from __future__ import annotations

import os

import httpx
import pytest

from .support import access
from .support.records import upload
from .support.wallet import Wallet

DOCTOR_ENDPOINTS = [
    ("POST", "/api/access-requests/doctor/request"),
    ("GET", "/api/access-requests/doctor/requests"),
    ("POST", "/api/access-requests/doctor/extend"),
    ("GET", "/api/access-requests/doctor/authorized-records"),
    ("GET", "/api/access-requests/doctor/blockchain-authorized-records"),
]
PATIENT_ENDPOINTS = [
    ("GET", "/api/access-requests/patient/requests"),
    ("POST", "/api/access-requests/patient/respond"),
    ("POST", "/api/access-requests/patient/revoke"),
    ("POST", "/api/access-requests/patient/approve-extension"),
    ("POST", "/api/medical-records/upload"),
    ("GET", "/api/medical-records/patient-records"),
]


def _call(client: httpx.Client, wallet: Wallet, method: str, path: str) -> httpx.Response:
    return client.request(method, path, headers=wallet.headers, json={} if method == "POST" else None)


@pytest.mark.parametrize(("method", "path"), DOCTOR_ENDPOINTS)
def test_patient_cannot_call_doctor_endpoints(client, patient_wallet, method, path) -> None:
    response = _call(client, patient_wallet, method, path)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "wrong_role"


@pytest.mark.parametrize(("method", "path"), PATIENT_ENDPOINTS)
@pytest.mark.asyncio
async def test_doctor_cannot_call_patient_endpoints(client, doctor_wallet, method, path) -> None:
    response = _call(client, doctor_wallet, method, path)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "wrong_role"


@pytest.mark.parametrize(("method", "path"), DOCTOR_ENDPOINTS + PATIENT_ENDPOINTS)
def test_anonymous_is_refused(client, method, path) -> None:
    response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 401


@pytest.mark.asyncio
async def test_unregistered_doctor_gets_403(client, patient_wallet, registrar_relayer, db) -> None:
    doctor = Wallet.random()
    await registrar_relayer.register_doctor(doctor.address)
    doctor.login(client)
    payload = doctor.typed_data(client, "requestAccess", {"patientAddress": patient_wallet.address})
    await registrar_relayer.unregister_doctor(doctor.address)  # struck off after signing in
    response = client.post(
        "/api/access-requests/doctor/request",
        json={"patientAddress": patient_wallet.address, "requestReason": "x", **access.signed(doctor, payload)},
        headers=doctor.headers,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_registered_doctor"
    assert db["access_requests"].count_documents({"doctor": doctor.address.lower()}) == 0


@pytest.mark.asyncio
async def test_forged_and_replayed_signatures(client, patient_wallet, doctor_wallet, db, chain_client) -> None:
    upload(client, patient_wallet, os.urandom(100))
    patient = patient_wallet.address

    # A request signed by someone else than the calling doctor.
    payload = doctor_wallet.typed_data(client, "requestAccess", {"patientAddress": patient})
    forged = access.signed(Wallet.random(), payload)
    response = client.post(
        "/api/access-requests/doctor/request",
        json={"patientAddress": patient, "requestReason": "x", **forged},
        headers=doctor_wallet.headers,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert db["access_requests"].count_documents({"doctor": doctor_wallet.address.lower()}) == 0

    request = access.request_access(client, doctor_wallet, patient).json()
    # An approval signed for other records than the ones posted.
    payload = patient_wallet.typed_data(
        client, "approveRecords", {"doctor": doctor_wallet.address, "recordIds": [0], "duration": 3600}
    )
    response = client.post(
        "/api/access-requests/patient/respond",
        json={
            "requestId": request["id"], "action": "approve", "selectedRecords": [0], "durationSeconds": 2 * 86400,
            "walletSignature": patient_wallet.key_signature(client),
            **access.signed(patient_wallet, payload, "approvalSignature"),
        },
        headers=patient_wallet.headers,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert db["grant_keys"].count_documents({"doctor": doctor_wallet.address.lower()}) == 0
    assert not await chain_client.can_read(patient, doctor_wallet.address, 0)

    # A valid revoke cannot be replayed.
    assert access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [0], 1).status_code == 200
    revoke_payload = patient_wallet.typed_data(client, "revokeAccess", {"doctor": doctor_wallet.address})
    body = {"doctorAddress": doctor_wallet.address, **access.signed(patient_wallet, revoke_payload)}
    assert client.post("/api/access-requests/patient/revoke", json=body, headers=patient_wallet.headers).status_code == 200
    replay = client.post("/api/access-requests/patient/revoke", json=body, headers=patient_wallet.headers)
    assert replay.status_code in (400, 409), replay.text


@pytest.mark.asyncio
async def test_signed_deadline_beyond_what_the_database_holds(client, patient_wallet, doctor_wallet, db, chain_client) -> None:
    # A valid uint256 deadline, signed by the doctor, but past MongoDB's int64: refused before the
    # relayer sends anything (it used to be relayed, then fail at the payload lookup with a 500).
    upload(client, patient_wallet, os.urandom(100))
    patient, doctor = patient_wallet.address, doctor_wallet.address
    payload = doctor_wallet.typed_data(client, "requestAccess", {"patientAddress": patient})
    payload["message"]["deadline"] = 2**64
    response = client.post(
        "/api/access-requests/doctor/request",
        json={
            "patientAddress": patient, "requestReason": "x", "signature": doctor_wallet.sign_typed_data(payload),
            "nonce": payload["message"]["nonce"], "deadline": 2**64,
        },
        headers=doctor_wallet.headers,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_params", response.text
    assert db["access_requests"].count_documents({"doctor": doctor.lower()}) == 0
    assert await chain_client.nonce_of(patient, doctor) == 0


@pytest.mark.asyncio
async def test_patient_cannot_answer_or_read_another_patients_things(client, patient_wallet, doctor_wallet) -> None:
    other = Wallet.random()
    other.login(client)
    record = upload(client, other, os.urandom(100)).json()
    request = access.request_access(client, doctor_wallet, other.address).json()
    response = access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [0], 1)
    assert response.status_code == 404
    view = client.get(
        f"/api/medical-records/view/{record['cid']}",
        headers={**patient_wallet.headers, "X-Wallet-Signature": patient_wallet.key_signature(client)},
    )
    assert view.status_code == 403
