"""Rate limits as clients meet them: on sign-in nonces, uploads and relayer-paid contract deployments.

Before: nothing was limited. Any new wallet made the relayer spend ~182k gas on its first upload, and
a doctor could make it deploy contracts for arbitrary addresses. Each test runs its own API with
small limits (the session's API has limits that never bite); the counters live in MongoDB.
"""

from __future__ import annotations

import os

import httpx
import pytest
from eth_account import Account

from .support.access import request_access
from .support.records import upload
from .support.wallet import Wallet

SMALL = {
    "rate_limit_nonce_per_ip": "3/minute",
    "rate_limit_upload_per_address": "1/minute",
    "rate_limit_new_vault_per_address": "1/day",
}


def _limited(response: httpx.Response) -> dict:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert 0 < int(response.headers["retry-after"]) <= 86400
    return error


def test_nonces_are_limited_per_client(other_api_server) -> None:
    with other_api_server(**SMALL) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(3):
            assert client.get("/api/auth/nonce").status_code == 200
        error = _limited(client.get("/api/auth/nonce"))
        assert "nonce" in error["message"] and "retry in" in error["message"]


def test_uploads_are_limited_per_patient_before_anything_is_stored(other_api_server) -> None:
    with other_api_server(**SMALL) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        patient = Wallet.random()
        patient.login(client)
        assert upload(client, patient, os.urandom(100)).status_code == 201
        _limited(upload(client, patient, os.urandom(100)))
        records = client.get("/api/medical-records/patient-records", headers=patient.headers).json()["records"]
        assert len(records) == 1
        # Another patient is not affected.
        other = Wallet.random()
        other.login(client)
        assert upload(client, other, os.urandom(100)).status_code == 201


@pytest.mark.asyncio
async def test_a_doctor_cannot_make_the_relayer_deploy_contracts_at_will(
    other_api_server, registrar_relayer, chain_client
) -> None:
    with other_api_server(**SMALL) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        doctor = Wallet.random()
        await registrar_relayer.register_doctor(doctor.address)
        doctor.login(client)
        first, second = Account.create().address, Account.create().address
        assert request_access(client, doctor, first).status_code == 201
        assert await chain_client.vault_exists(first)
        _limited(request_access(client, doctor, second))
        assert not await chain_client.vault_exists(second)  # nothing deployed, nothing paid
