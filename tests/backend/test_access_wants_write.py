"""A doctor's access request can also ask to add records (`wantsWrite`), against the real servers.

The flag is an off-chain hint stored with the request like its reason: the doctor's own list and the
patient's pending rows carry it as `wants_write`; answering the request still grants read access only,
and the patient grants write access with its own signed approveWrite (as the web app does right after
the approval, with `durationDays`).
"""

from __future__ import annotations

import os

import httpx
import pytest
import pytest_asyncio

from .fixtures.wallets import registered_doctor
from .support import access
from .support.records import upload
from .support.responses import expect_ok
from .support.wallet import Wallet

DAY = 86400


@pytest_asyncio.fixture
async def doctor(client: httpx.Client, registrar_relayer) -> Wallet:
    return await registered_doctor(client, registrar_relayer)


def _doctor_requests(client: httpx.Client, doctor: Wallet) -> list[dict]:
    return expect_ok(client.get("/api/access-requests/doctor/requests", headers=doctor.headers))["requests"]


def _doctor_write_grants(client: httpx.Client, doctor: Wallet) -> list[str]:
    grants = expect_ok(client.get("/api/access-requests/doctor/write-grants", headers=doctor.headers))["grants"]
    return [grant["patientAddress"].lower() for grant in grants]


@pytest.mark.asyncio
async def test_wants_write_round_trips_and_defaults_to_false(client, patient_wallet, doctor, chain_client) -> None:
    patient = patient_wallet.address
    record = expect_ok(upload(client, patient_wallet, os.urandom(1500)), 201)

    # Without the field: false everywhere.
    plain = expect_ok(access.request_access(client, doctor, patient, "routine check"), 201)
    assert plain["wants_write"] is False
    assert [(r["id"], r["wants_write"]) for r in access.pending_requests(client, patient_wallet)] == [(plain["id"], False)]
    assert [(r["id"], r["wants_write"]) for r in _doctor_requests(client, doctor)] == [(plain["id"], False)]

    # Asking to write as well: the new request replaces the pending one (as on chain) and carries the flag.
    asking = expect_ok(access.request_access(client, doctor, patient, "prescribing", wants_write=True), 201)
    assert asking["wants_write"] is True
    pending = access.pending_requests(client, patient_wallet)
    assert [(r["id"], r["reason"], r["wants_write"]) for r in pending] == [(asking["id"], "prescribing", True)]
    assert [(r["id"], r["state"], r["wants_write"]) for r in _doctor_requests(client, doctor)] == [
        (asking["id"], "pending", True),
        (plain["id"], "superseded", False),
    ]

    # Approving the request shares what was chosen; it grants no write access by itself.
    expect_ok(access.approve(client, patient_wallet, asking["id"], doctor.address, [record["record_id"]], 1))
    assert _doctor_write_grants(client, doctor) == []
    assert await chain_client.get_write_grant(patient, doctor.address) == 0
    assert [(r["id"], r["state"], r["wants_write"]) for r in _doctor_requests(client, doctor)] == [
        (asking["id"], "approved", True),
        (plain["id"], "superseded", False),
    ]

    # The patient's second signature (approveWrite, sent in whole days as the app does) grants it.
    granted = expect_ok(access.write_grant(client, patient_wallet, doctor.address, 30 * DAY, as_days=True))
    assert granted["doctorAddress"].lower() == doctor.address.lower()
    assert _doctor_write_grants(client, doctor) == [patient.lower()]
    assert await chain_client.get_write_grant(patient, doctor.address) == granted["expiresAt"] > 0


@pytest.mark.asyncio
@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [True], {"v": True}])
async def test_non_boolean_wants_write_is_refused_before_anything_is_relayed(client, patient_wallet, doctor, value) -> None:
    patient = patient_wallet.address
    access.register_key(client, doctor)
    payload = doctor.typed_data(client, "requestAccess", {"patientAddress": patient})
    response = client.post(
        "/api/access-requests/doctor/request",
        json={"patientAddress": patient, "requestReason": "x-ray", "wantsWrite": value, **access.signed(doctor, payload)},
        headers=doctor.headers,
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "wantsWrite" in error["message"]
    assert access.pending_requests(client, patient_wallet) == []
    assert _doctor_requests(client, doctor) == []
