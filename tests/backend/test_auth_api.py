"""Sign-In with Ethereum, tokens and roles, over real HTTP against the real chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from .support.wallet import Wallet


def login_error(client: httpx.Client, message: str, signature: str) -> dict:
    response = client.post("/api/auth/login", json={"message": message, "signature": signature})
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "login_failed"
    return error


def test_login_gives_tokens_and_patient_role(client: httpx.Client) -> None:
    wallet = Wallet.random()
    body = wallet.login(client)
    assert body["role"] == "patient"
    assert body["address"] == wallet.address
    assert body["access_token"] and body["refresh_token"]
    assert client.get("/api/medical-records/patient-records", headers=wallet.headers).status_code == 200


def test_nonce_is_single_use(client: httpx.Client) -> None:
    wallet = Wallet.random()
    nonce_info = client.get("/api/auth/nonce").json()
    message = wallet.siwe_message(nonce_info)
    signature = wallet.personal_sign(message)
    assert client.post("/api/auth/login", json={"message": message, "signature": signature}).status_code == 200
    assert "nonce" in login_error(client, message, signature)["message"]


def test_unknown_nonce_rejected(client: httpx.Client) -> None:
    wallet = Wallet.random()
    nonce_info = client.get("/api/auth/nonce").json()
    message = wallet.siwe_message({**nonce_info, "nonce": "neverissued123"})
    assert "nonce" in login_error(client, message, wallet.personal_sign(message))["message"]


def test_wrong_domain_and_chain_rejected(client: httpx.Client) -> None:
    wallet = Wallet.random()
    nonce_info = client.get("/api/auth/nonce").json()
    message = wallet.siwe_message({**nonce_info, "domain": "evil.example"})
    assert "domain" in login_error(client, message, wallet.personal_sign(message))["message"]
    message = wallet.siwe_message({**nonce_info, "chain_id": 1})
    assert "chain" in login_error(client, message, wallet.personal_sign(message))["message"]


def test_signature_of_another_wallet_rejected(client: httpx.Client) -> None:
    wallet, impostor = Wallet.random(), Wallet.random()
    message = wallet.siwe_message(client.get("/api/auth/nonce").json())
    login_error(client, message, impostor.personal_sign(message))
    login_error(client, message, "0xdeadbeef")
    login_error(client, "not an EIP-4361 message", wallet.personal_sign("x"))


def test_expired_message_rejected(client: httpx.Client) -> None:
    wallet = Wallet.random()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    message = wallet.siwe_message(client.get("/api/auth/nonce").json(), expiration_time=past)
    assert "expired" in login_error(client, message, wallet.personal_sign(message))["message"]


@pytest.mark.parametrize("field", ["expiration_time", "not_before"])
def test_times_without_time_zone_rejected(client: httpx.Client, field: str) -> None:
    # A time without a zone names no one moment (and comparing it with now used to answer 500).
    wallet = Wallet.random()
    message = wallet.siwe_message(client.get("/api/auth/nonce").json(), **{field: "2030-01-01T00:00:00"})
    assert "time zone" in login_error(client, message, wallet.personal_sign(message))["message"]


def test_refresh_token_works_once(client: httpx.Client) -> None:
    wallet = Wallet.random()
    wallet.login(client)
    first = client.post("/api/auth/refresh", json={"refresh_token": wallet.refresh_token})
    assert first.status_code == 200, first.text
    assert first.json()["role"] == "patient"
    again = client.post("/api/auth/refresh", json={"refresh_token": wallet.refresh_token})
    assert again.status_code == 401
    assert "already used" in again.json()["error"]["message"]
    # An access token is not a refresh token.
    wrong_type = client.post("/api/auth/refresh", json={"refresh_token": first.json()["access_token"]})
    assert wrong_type.status_code == 401


@pytest.mark.asyncio
async def test_roles_come_from_the_chain(client: httpx.Client, registrar_relayer, dev_accounts) -> None:
    doctor = Wallet.random()
    await registrar_relayer.register_doctor(doctor.address)
    assert doctor.login(client)["role"] == "doctor"

    registrar = Wallet.from_key(dev_accounts[0].private_key)
    assert registrar.login(client)["role"] == "registrar"

    # A doctor removed from the registry is a patient at the next refresh.
    await registrar_relayer.unregister_doctor(doctor.address)
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": doctor.refresh_token}).json()
    assert refreshed["role"] == "patient"


def test_doctor_cannot_use_patient_endpoints(client: httpx.Client) -> None:
    # A token for the wrong role is refused with 403 (role checks are per endpoint).
    wallet = Wallet.random()
    wallet.login(client)
    response = client.post(
        "/api/signing/typed-data",
        json={"action": "requestAccess", "params": {"patientAddress": Wallet.random().address}},
        headers=wallet.headers,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_role"
