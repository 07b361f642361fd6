"""The whole doctor-access workflow against the real servers, checked through the API and the chain."""

from __future__ import annotations

import os

import httpx
import pytest
import pytest_asyncio

from .fixtures.wallets import registered_doctor
from .support import access
from .support.records import upload
from .support.wallet import Wallet

DAY = 86400


@pytest_asyncio.fixture
async def doctors(client: httpx.Client, registrar_relayer) -> tuple[Wallet, Wallet]:
    return (await registered_doctor(client, registrar_relayer), await registered_doctor(client, registrar_relayer))


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _patient_grants(client: httpx.Client, patient: Wallet) -> list[dict]:
    return _ok(client.get("/api/access-requests/patient/grants", headers=patient.headers))["grants"]


def _denied(response: httpx.Response, code: str | None = None) -> None:
    assert response.status_code == 403, response.text
    if code:
        assert response.json()["error"]["code"] == code
    assert not response.content.startswith(b"%PDF")


@pytest.mark.asyncio
async def test_full_access_lifecycle(client, patient_wallet, doctors, chain_client, anvil) -> None:
    doctor, other_doctor = doctors
    files = [os.urandom(2000) + bytes([i]) for i in range(3)]
    records = [_ok(upload(client, patient_wallet, content), 201) for content in files]
    cids = [record["cid"] for record in records]
    patient = patient_wallet.address

    # Request -> appears for the patient with the reason and live registry status.
    request = _ok(access.request_access(client, doctor, patient, "cardiology follow-up"), 201)
    pending = access.pending_requests(client, patient_wallet)
    assert [(r["id"], r["doctor"], r["reason"], r["doctor_registered"]) for r in pending] == [
        (request["id"], doctor.address.lower(), "cardiology follow-up", True)
    ]
    assert (await chain_client.get_grant(patient, doctor.address)).request_pending

    # Approve two of three records for one day.
    approved = _ok(access.approve(client, patient_wallet, request["id"], doctor.address, [0, 1], 1))
    assert approved["record_ids"] == [0, 1]
    assert access.pending_requests(client, patient_wallet) == []
    onchain = await chain_client.get_approved_records(patient, doctor.address)
    assert list(onchain.record_ids) == [0, 1] and onchain.expires_at == approved["expires_at"]

    for index in (0, 1):
        view = access.doctor_view(client, doctor, cids[index])
        assert view.status_code == 200, view.text
        assert view.content == files[index]
        assert view.headers["X-Integrity-Verified"] == "true"
        assert view.headers["X-Blockchain-Hash-Verified"] == "true"
    _denied(access.doctor_view(client, doctor, cids[2]), "access_denied")
    for cid in cids:
        _denied(access.doctor_view(client, other_doctor, cid), "access_denied")
    assert not await chain_client.can_read(patient, other_doctor.address, 0)

    db_view = _ok(client.get("/api/access-requests/doctor/authorized-records", headers=doctor.headers))
    chain_view = _ok(client.get("/api/access-requests/doctor/blockchain-authorized-records", headers=doctor.headers))
    assert db_view["consistent_with_chain"] is True
    assert db_view["grants"] == chain_view["grants"]
    assert [r["cid"] for r in chain_view["grants"][0]["records"]] == cids[:2]

    # The patient sees the same grant from their side: whom, which records, until when.
    [shared] = _patient_grants(client, patient_wallet)
    assert shared["doctor"] == doctor.address and shared["doctor_registered"] is True
    assert [r["cid"] for r in shared["records"]] == cids[:2]
    assert shared["expires_at"] == approved["expires_at"] and shared["pending_extension_seconds"] == 0
    _denied(client.get("/api/access-requests/patient/grants", headers=doctor.headers))

    # Past expiry: refused at once, and the chain agrees.
    anvil.advance(DAY + 1)
    _denied(access.doctor_view(client, doctor, cids[0]), "access_denied")
    assert not await chain_client.can_read(patient, doctor.address, 0)
    assert _ok(client.get("/api/access-requests/doctor/blockchain-authorized-records", headers=doctor.headers))["grants"] == []
    assert _patient_grants(client, patient_wallet) == []  # expired grants are not "shared"

    # Approve again (a new request), extend, revoke one record, revoke all.
    request = _ok(access.request_access(client, doctor, patient, "second opinion"), 201)
    approved = _ok(access.approve(client, patient_wallet, request["id"], doctor.address, [0, 2], 1))
    assert access.doctor_view(client, doctor, cids[2]).status_code == 200
    _denied(access.doctor_view(client, doctor, cids[1]), "access_denied")  # replaced grant

    _ok(access.request_extension(client, doctor, patient, 2 * DAY))
    assert [g["pending_extension_seconds"] for g in _patient_grants(client, patient_wallet)] == [2 * DAY]
    extended = _ok(access.approve_extension(client, patient_wallet, doctor.address, 2 * DAY))
    assert extended["expires_at"] == approved["expires_at"] + 2 * DAY
    assert (await chain_client.get_grant(patient, doctor.address)).expires_at == extended["expires_at"]
    anvil.advance(DAY + 1)  # past the original expiry, inside the extension
    assert access.doctor_view(client, doctor, cids[0]).status_code == 200

    revoked = _ok(access.revoke(client, patient_wallet, doctor.address, [0]))
    assert revoked["keys_removed"] == 1
    _denied(access.doctor_view(client, doctor, cids[0]), "access_denied")
    assert access.doctor_view(client, doctor, cids[2]).status_code == 200
    assert not await chain_client.can_read(patient, doctor.address, 0)

    _ok(access.revoke(client, patient_wallet, doctor.address))
    _denied(access.doctor_view(client, doctor, cids[2]), "access_denied")
    assert (await chain_client.get_approved_records(patient, doctor.address)).record_ids == ()
    assert _patient_grants(client, patient_wallet) == []
    assert _ok(client.get("/api/access-requests/doctor/authorized-records", headers=doctor.headers))["grants"] == []


@pytest.mark.asyncio
async def test_deny_shares_nothing(client, patient_wallet, doctors, chain_client) -> None:
    doctor, _ = doctors
    record = _ok(upload(client, patient_wallet, os.urandom(500)), 201)
    request = _ok(access.request_access(client, doctor, patient_wallet.address), 201)
    denied = _ok(access.deny(client, patient_wallet, request["id"], doctor.address))
    assert denied["state"] == "denied"
    assert not (await chain_client.get_grant(patient_wallet.address, doctor.address)).request_pending
    _denied(access.doctor_view(client, doctor, record["cid"]), "access_denied")
    again = access.deny(client, patient_wallet, request["id"], doctor.address)
    assert again.status_code == 409
