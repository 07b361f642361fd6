"""Accounts' encryption keys over the real API (keys v2, step 1): derive, bind, register, read back.

Against the session's real servers (uvicorn over HTTP, SecantusDB, Anvil for sign-in). The wallet
signs as MetaMask would (personal_sign, eth_signTypedData_v4); the database is tampered with
directly to check the binding is verified on every read, not only at registration.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from eth_account import Account
from healthledger.crypto import (
    ACCOUNT_KEY_MESSAGE,
    derive_account_keypair,
    is_binding_by,
    open_sealed,
    seal_to,
)
from pymongo.database import Database

from .support.wallet import Wallet

CHAIN_ID = 31337


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, response.text
    return body


def _key_signature(client: httpx.Client, wallet: Wallet) -> str:
    message = _ok(client.get("/api/keys/message"))
    assert message == {"message": ACCOUNT_KEY_MESSAGE, "version": "healthledger/account-key/x25519/v1", "method": "personal_sign"}
    return wallet.personal_sign(message["message"])


def _register(client: httpx.Client, wallet: Wallet) -> tuple[str, str, str]:
    """POST then PUT as the app does: (wallet signature, public key, binding signature)."""
    wallet_signature = _key_signature(client, wallet)
    prepared = _ok(client.post("/api/keys", json={"walletSignature": wallet_signature}, headers=wallet.headers))
    binding = wallet.sign_typed_data(prepared["typedData"])
    registered = _ok(
        client.put("/api/keys", json={"publicKey": prepared["publicKey"], "signature": binding}, headers=wallet.headers)
    )
    assert registered == {"account": wallet.address, "publicKey": prepared["publicKey"]}
    return wallet_signature, prepared["publicKey"], binding


def test_register_and_read_back_a_key_pair(client: httpx.Client, patient_wallet: Wallet, doctor_wallet: Wallet) -> None:
    wallet_signature, public_key, binding = _register(client, patient_wallet)
    private, public = derive_account_keypair(wallet_signature)
    assert public_key == "0x" + bytes(public).hex()  # the client could derive it itself

    # Anyone signed in (here a doctor) reads it, with a binding they can check themselves.
    served = _ok(client.get(f"/api/keys/{patient_wallet.address.lower()}", headers=doctor_wallet.headers))
    assert served["account"] == patient_wallet.address and served["publicKey"] == public_key
    assert is_binding_by(patient_wallet.address, public_key, CHAIN_ID, served["signature"])
    # What is sealed to the served key opens with the key pair the wallet derives.
    assert open_sealed(private, seal_to(served["publicKey"], b"a data key")) == b"a data key"

    # The typed data is the documented binding, on this chain, for this caller.
    prepared = _ok(client.post("/api/keys", json={"walletSignature": wallet_signature}, headers=patient_wallet.headers))
    assert prepared["typedData"]["domain"] == {"name": "HealthLedger", "version": "1", "chainId": CHAIN_ID}
    assert prepared["typedData"]["message"] == {"account": patient_wallet.address, "publicKey": public_key}


def test_re_registering_is_idempotent_and_another_key_replaces_it(
    client: httpx.Client, patient_wallet: Wallet, db: Database
) -> None:
    _, public_key, binding = _register(client, patient_wallet)
    before = db["account_keys"].find_one({"account": patient_wallet.address.lower()})
    again = {"publicKey": public_key, "signature": binding}
    assert _ok(client.put("/api/keys", json=again, headers=patient_wallet.headers))["publicKey"] == public_key
    after = db["account_keys"].find_one({"account": patient_wallet.address.lower()})
    assert after["registered_at"] == before["registered_at"]
    assert db["account_keys"].count_documents({"account": patient_wallet.address.lower()}) == 1

    # A different key (say, from a later scheme) bound by the same account replaces the first.
    _, other_public = derive_account_keypair(Wallet.random().personal_sign(ACCOUNT_KEY_MESSAGE))
    other_hex = "0x" + bytes(other_public).hex()
    typed = _ok(client.post("/api/keys", json={"walletSignature": _key_signature(client, patient_wallet)}, headers=patient_wallet.headers))["typedData"]
    typed["message"]["publicKey"] = other_hex
    replaced = {"publicKey": other_hex, "signature": patient_wallet.sign_typed_data(typed)}
    assert _ok(client.put("/api/keys", json=replaced, headers=patient_wallet.headers))["publicKey"] == other_hex
    assert _ok(client.get(f"/api/keys/{patient_wallet.address}", headers=patient_wallet.headers))["publicKey"] == other_hex


def test_a_tampered_row_is_refused_never_served(client: httpx.Client, patient_wallet: Wallet, doctor_wallet: Wallet, db: Database) -> None:
    _register(client, patient_wallet)
    _, doctor_public, doctor_binding = _register(client, doctor_wallet)
    rows = db["account_keys"]
    # Swap the patient's key for the doctor's (records would then be sealed to the doctor).
    rows.update_one({"account": patient_wallet.address.lower()}, {"$set": {"public_key": doctor_public}})
    body = _error(client.get(f"/api/keys/{patient_wallet.address}", headers=doctor_wallet.headers), 409, "key_binding_invalid")
    assert doctor_public not in str(body)
    # Even with the doctor's own (valid) binding signature copied along: it binds the doctor's address.
    rows.update_one({"account": patient_wallet.address.lower()}, {"$set": {"signature": doctor_binding}})
    _error(client.get(f"/api/keys/{patient_wallet.address}", headers=doctor_wallet.headers), 409, "key_binding_invalid")
    # A row another chain's binding vouches for (chain_id rewritten too) is not this chain's.
    rows.update_one({"account": patient_wallet.address.lower()}, {"$set": {"chain_id": 1, "signature": "0x" + "11" * 65}})
    _error(client.get(f"/api/keys/{patient_wallet.address}", headers=doctor_wallet.headers), 409, "key_binding_invalid")
    # The doctor's own row is untouched and still served.
    assert _ok(client.get(f"/api/keys/{doctor_wallet.address}", headers=patient_wallet.headers))["publicKey"] == doctor_public
    # Registering again repairs it.
    _register(client, patient_wallet)
    _ok(client.get(f"/api/keys/{patient_wallet.address}", headers=doctor_wallet.headers))


def test_bad_bindings_and_signatures_are_400_and_store_nothing(
    client: httpx.Client, patient_wallet: Wallet, doctor_wallet: Wallet, db: Database
) -> None:
    headers = patient_wallet.headers
    # POST: someone else's signature of the message, a signature of another text, junk.
    for wallet_signature in (
        doctor_wallet.personal_sign(ACCOUNT_KEY_MESSAGE),
        patient_wallet.personal_sign("HealthLedger encryption key v1"),
        "0x" + "11" * 65,
        "not a signature",
    ):
        _error(client.post("/api/keys", json={"walletSignature": wallet_signature}, headers=headers), 400, "invalid_wallet_signature")

    prepared = _ok(client.post("/api/keys", json={"walletSignature": _key_signature(client, patient_wallet)}, headers=headers))
    public_key = prepared["publicKey"]
    binding = patient_wallet.sign_typed_data(prepared["typedData"])
    _, other_public = derive_account_keypair(doctor_wallet.personal_sign(ACCOUNT_KEY_MESSAGE))
    other_chain = {**prepared["typedData"], "domain": {**prepared["typedData"]["domain"], "chainId": 1}}
    refused = [
        # Someone else's signature over the patient's very binding.
        {"publicKey": public_key, "signature": doctor_wallet.sign_typed_data(prepared["typedData"])},
        # The patient's binding, presented for another key.
        {"publicKey": "0x" + bytes(other_public).hex(), "signature": binding},
        # Signed for another chain.
        {"publicKey": public_key, "signature": patient_wallet.sign_typed_data(other_chain)},
        # A personal_sign instead of typed data, and junk.
        {"publicKey": public_key, "signature": patient_wallet.personal_sign(ACCOUNT_KEY_MESSAGE)},
        {"publicKey": public_key, "signature": "0x1234"},
    ]
    for body in refused:
        _error(client.put("/api/keys", json=body, headers=headers), 400, "invalid_key_binding")
    for bad_key in ("0x" + "00" * 32, "0x" + "ab" * 31, "zz"):
        _error(client.put("/api/keys", json={"publicKey": bad_key, "signature": binding}, headers=headers), 400, "invalid_public_key")
    # The doctor cannot register the patient's binding as their own either.
    _error(
        client.put("/api/keys", json={"publicKey": public_key, "signature": binding}, headers=doctor_wallet.headers),
        400,
        "invalid_key_binding",
    )
    assert db["account_keys"].count_documents({"account": {"$in": [patient_wallet.address.lower(), doctor_wallet.address.lower()]}}) == 0
    _error(client.get(f"/api/keys/{patient_wallet.address}", headers=headers), 404, "key_not_found")


def test_unknown_bad_address_and_signed_out(client: httpx.Client, patient_wallet: Wallet) -> None:
    _error(client.get(f"/api/keys/{Account.create().address}", headers=patient_wallet.headers), 404, "key_not_found")
    _error(client.get("/api/keys/0x1234", headers=patient_wallet.headers), 400, "invalid_address")
    _error(client.get(f"/api/keys/{patient_wallet.address}"), 401, "missing_token")
    _error(client.post("/api/keys", json={"walletSignature": "0x"}), 401, "missing_token")
    _error(client.put("/api/keys", json={"publicKey": "0x", "signature": "0x"}), 401, "missing_token")
    # The message itself is public, like the KEK's.
    assert _ok(client.get("/api/keys/message"))["method"] == "personal_sign"


def test_no_signature_or_private_key_reaches_the_log(
    client: httpx.Client, patient_wallet: Wallet, doctor_wallet: Wallet, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wallet_signature, public_key, binding = _register(client, patient_wallet)
    private, _ = derive_account_keypair(wallet_signature)
    client.post("/api/keys", json={"walletSignature": doctor_wallet.personal_sign(ACCOUNT_KEY_MESSAGE)}, headers=patient_wallet.headers)
    db["account_keys"].update_one({"account": patient_wallet.address.lower()}, {"$set": {"public_key": "0x" + "22" * 32}})
    client.get(f"/api/keys/{patient_wallet.address}", headers=patient_wallet.headers)
    # Both branches ran and logged (so the capture works) ...
    events = [record.getMessage() for record in caplog.records]
    assert any("encryption key registered" in event for event in events)
    assert any("does not match its binding" in event for event in events)
    # ... and no secret is in anything logged, formatted or not.
    text = "\n".join([caplog.text, *(repr(record.args) for record in caplog.records)]).lower()
    for secret in (wallet_signature, bytes(private).hex(), binding):
        assert secret.removeprefix("0x").lower() not in text
    # The wallet's own signature is not stored either.
    stored = db["account_keys"].find_one({"account": patient_wallet.address.lower()})
    assert wallet_signature[2:].lower() not in str(stored).lower()

