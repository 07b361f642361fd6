"""The directory through the real API: doctors registered on chain by the registrar, searches, profiles.

The API's relayer (dev account #9) sends the registry transactions, so it needs REGISTRAR_ROLE.
The session's deployment does not give it one (other tests check that the relayer holds no role),
so `relayer_is_registrar` grants it for one test and revokes it afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from eth_account import Account

from healthledger.chain.client import REGISTRAR_ROLE, ChainClient
from healthledger.chain.relayer import Relayer

from .support.records import upload
from .support.wallet import Wallet

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def relayer_is_registrar(
    chain_client: ChainClient, registrar_relayer: Relayer, relayer_account
) -> AsyncIterator[None]:
    """The deployer (dev #0, admin) grants REGISTRAR_ROLE to the API's relayer (dev #9) for one test."""
    await registrar_relayer.transact(chain_client.factory, "grantRole", REGISTRAR_ROLE, relayer_account.address)
    assert await chain_client.has_registrar_role(relayer_account.address)
    try:
        yield
    finally:
        await registrar_relayer.transact(chain_client.factory, "revokeRole", REGISTRAR_ROLE, relayer_account.address)


@pytest.fixture
def registrar(registrar_wallet: Wallet) -> Wallet:
    return registrar_wallet


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


def _add_doctor(client: httpx.Client, registrar: Wallet, address: str, name: str, licence: str = "GMC-1234567") -> httpx.Response:
    return client.post(
        "/api/admin/doctors", json={"address": address, "name": name, "licenceId": licence}, headers=registrar.headers
    )


def _search_doctors(client: httpx.Client, wallet: Wallet, q: str, **params: Any) -> dict[str, Any]:
    return _ok(client.get("/api/doctors/search", params={"q": q, **params}, headers=wallet.headers))


def _search_patients(client: httpx.Client, wallet: Wallet, q: str, **params: Any) -> dict[str, Any]:
    return _ok(client.get("/api/patients/search", params={"q": q, **params}, headers=wallet.headers))


async def test_register_search_unregister(
    client, registrar, patient_wallet, chain_client, relayer_is_registrar
) -> None:
    doctor = Wallet.random()
    token = secrets.token_hex(4)
    name = f"Dr. Ada Lovelace {token.upper()}"
    added = _ok(_add_doctor(client, registrar, doctor.address.lower(), f"  {name}  ", " GMC-7654321 "), 201)
    assert added["address"] == doctor.address
    assert (added["name"], added["licence_id"], added["registered"]) == (name, "GMC-7654321", True)
    assert added["tx_hash"].startswith("0x") and added["block_number"] > 0
    assert await chain_client.is_doctor(doctor.address)
    assert doctor.login(client)["role"] == "doctor"
    assert _ok(client.get("/api/profile", headers=doctor.headers))["name"] == name

    _error(_add_doctor(client, registrar, doctor.address, "Someone Else"), 409, "doctor_already_registered")

    # By name (any case, any part) and by address prefix, for any signed-in user.
    for q in (token, token.upper(), f"lovelace {token}", doctor.address[:12], doctor.address[:12].lower()):
        found = _search_doctors(client, patient_wallet, q)
        assert [r["address"] for r in found["results"]] == [doctor.address], q
    (row,) = _search_doctors(client, doctor, token)["results"]
    assert row == {
        "address": doctor.address,
        "name": name,
        "licence_id": "GMC-7654321",
        "registered": True,
        "updated_at": row["updated_at"],
    }
    assert _search_doctors(client, patient_wallet, f"nobody {token}")["results"] == []

    removed = _ok(client.delete(f"/api/admin/doctors/{doctor.address}", headers=registrar.headers))
    assert removed["registered"] is False and removed["tx_hash"].startswith("0x")
    assert not await chain_client.is_doctor(doctor.address)
    (row,) = _search_doctors(client, patient_wallet, token)["results"]
    assert row["registered"] is False and row["name"] == name
    assert doctor.login(client)["role"] == "patient"

    _error(client.delete(f"/api/admin/doctors/{doctor.address}", headers=registrar.headers), 404, "doctor_not_found")
    _error(client.delete(f"/api/admin/doctors/{Account.create().address}", headers=registrar.headers), 404, "doctor_not_found")
    # Registering again works, and replaces the name.
    again = _ok(_add_doctor(client, registrar, doctor.address, f"Dr. A. Lovelace {token}"), 201)
    assert again["registered"] is True and await chain_client.is_doctor(doctor.address)
    (row,) = _search_doctors(client, patient_wallet, token)["results"]
    assert (row["name"], row["registered"]) == (f"Dr. A. Lovelace {token}", True)


async def test_bad_input(client, registrar, relayer_is_registrar) -> None:
    address = Account.create().address
    for body_address in ("0x1234", "not an address", "", "0x" + "g" * 40):
        _error(_add_doctor(client, registrar, body_address, "Dr. X"), 400, "invalid_address")
    _error(_add_doctor(client, registrar, "0x" + "0" * 40, "Dr. Zero"), 400, "invalid_address")
    _error(_add_doctor(client, registrar, address, "   "), 400, "invalid_name")
    _error(_add_doctor(client, registrar, address, "x" * 101), 400, "invalid_name")
    _error(_add_doctor(client, registrar, address, "Dr. X", ""), 400, "invalid_licenceId")
    missing = client.post("/api/admin/doctors", json={"address": address}, headers=registrar.headers)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "invalid_request"
    _error(client.delete("/api/admin/doctors/0xnope", headers=registrar.headers), 400, "invalid_address")


async def test_relayer_without_registrar_role_is_reported(client, registrar, chain_client, relayer_account) -> None:
    assert not await chain_client.has_registrar_role(relayer_account.address)
    doctor = Account.create().address
    error = _error(_add_doctor(client, registrar, doctor, "Dr. No Role"), 503, "relayer_not_registrar")
    assert "REGISTRAR_ROLE" in error["message"] and relayer_account.address in error["message"]
    assert error["relayer"] == relayer_account.address
    assert not await chain_client.is_doctor(doctor)
    assert _search_doctors(client, registrar, doctor)["results"] == []


async def test_registered_flag_is_live_from_the_chain(
    client, registrar, patient_wallet, chain_client, registrar_relayer, relayer_is_registrar
) -> None:
    doctor = Account.create().address
    token = secrets.token_hex(4)
    _ok(_add_doctor(client, registrar, doctor, f"Dr. Live {token}"), 201)
    # Unregistered on chain behind the API's back: search tells the truth.
    await registrar_relayer.unregister_doctor(doctor)
    (row,) = _search_doctors(client, patient_wallet, token)["results"]
    assert row["registered"] is False
    # DELETE then only brings the profile in line (nothing to send).
    removed = _ok(client.delete(f"/api/admin/doctors/{doctor}", headers=registrar.headers))
    assert (removed["registered"], removed["tx_hash"]) == (False, None)
    _error(client.delete(f"/api/admin/doctors/{doctor}", headers=registrar.headers), 404, "doctor_not_found")


async def test_doctor_search_is_paged(client, registrar, patient_wallet, relayer_is_registrar) -> None:
    token = secrets.token_hex(4)
    names = [f"Dr. {letter} {token}" for letter in ("Cyd", "Abe", "Bea")]
    for name in names:
        _ok(_add_doctor(client, registrar, Account.create().address, name), 201)
    everything = _search_doctors(client, patient_wallet, token)
    assert [r["name"] for r in everything["results"]] == sorted(names)
    pages = [_search_doctors(client, patient_wallet, token, page=p, page_size=2) for p in (1, 2, 3)]
    assert [[r["name"] for r in page["results"]] for page in pages] == [sorted(names)[:2], sorted(names)[2:], []]
    assert all((page["total"], page["pages"], page["page_size"]) == (3, 2, 2) for page in pages)
    _error(client.get("/api/doctors/search", params={"page_size": 201}, headers=patient_wallet.headers), 400, "invalid_page_size")
    _error(client.get("/api/doctors/search", params={"page": 0}, headers=patient_wallet.headers), 400, "invalid_page")
    # An empty query lists every doctor with a profile.
    assert _search_doctors(client, patient_wallet, "")["total"] >= 3


async def test_patient_profiles_and_search(client, doctor_wallet) -> None:
    token = secrets.token_hex(4)
    public, private, silent = Wallet.random(), Wallet.random(), Wallet.random()
    for wallet in (public, private, silent):
        wallet.login(client)

    profile = _ok(client.put("/api/profile", json={"displayName": f" Grace  Hopper {token} ", "published": True}, headers=public.headers))
    assert profile == {
        "address": public.address,
        "display_name": f"Grace Hopper {token}",
        "published": True,
        "updated_at": profile["updated_at"],
        "role": "patient",
    }
    _ok(client.put("/api/profile", json={"displayName": f"Hidden {token}", "published": False}, headers=private.headers))
    assert _ok(client.get("/api/profile", headers=private.headers))["display_name"] == f"Hidden {token}"
    _ok(upload(client, silent, os.urandom(300)), 201)  # known by its records only

    # By published name (any case, any part): only the published patient.
    for q in (token, f"HOPPER {token.upper()}"):
        found = _search_patients(client, doctor_wallet, q)
        assert found["results"] == [{"address": public.address, "display_name": f"Grace Hopper {token}", "published": True}]
        assert found["total"] == 1
    # By exact address: everyone the service knows, unpublished names stay hidden.
    assert _search_patients(client, doctor_wallet, private.address)["results"] == [
        {"address": private.address, "display_name": None, "published": False}
    ]
    assert _search_patients(client, doctor_wallet, silent.address.lower())["results"] == [
        {"address": silent.address, "display_name": None, "published": False}
    ]
    assert _search_patients(client, doctor_wallet, public.address)["results"][0]["display_name"] == f"Grace Hopper {token}"
    assert _search_patients(client, doctor_wallet, Account.create().address)["results"] == []
    assert _search_patients(client, doctor_wallet, doctor_wallet.address)["results"] == []
    # Not by a part of an address.
    assert _search_patients(client, doctor_wallet, private.address[:20])["results"] == []
    _error(client.get("/api/patients/search", params={"q": "a"}, headers=doctor_wallet.headers), 400, "invalid_query")

    # Unpublishing hides the name at once.
    _ok(client.put("/api/profile", json={"displayName": f"Grace Hopper {token}", "published": False}, headers=public.headers))
    assert _search_patients(client, doctor_wallet, token)["results"] == []
    _ok(client.put("/api/profile", json={"published": False}, headers=public.headers))
    _error(client.put("/api/profile", json={"displayName": "  ", "published": True}, headers=public.headers), 400, "invalid_displayName")


async def test_roles(client, registrar, patient_wallet, doctor_wallet) -> None:
    address = Account.create().address
    for wallet in (patient_wallet, doctor_wallet):
        _error(_add_doctor(client, wallet, address, "Dr. X"), 403, "wrong_role")
        _error(client.delete(f"/api/admin/doctors/{address}", headers=wallet.headers), 403, "wrong_role")
    for wallet in (patient_wallet, registrar):
        _error(client.get("/api/patients/search", params={"q": address}, headers=wallet.headers), 403, "wrong_role")
    for wallet in (doctor_wallet, registrar):
        _error(client.put("/api/profile", json={"displayName": "X", "published": True}, headers=wallet.headers), 403, "wrong_role")
    for wallet in (patient_wallet, doctor_wallet, registrar):
        assert client.get("/api/doctors/search", params={"q": "dr"}, headers=wallet.headers).status_code == 200
    assert client.get("/api/doctors/search", params={"q": "dr"}).status_code == 401
    assert client.get("/api/patients/search", params={"q": address}).status_code == 401
    assert client.post("/api/admin/doctors", json={}).status_code == 401
