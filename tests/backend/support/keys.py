"""Setting up an account's encryption key as the app does at first sign-in (keys v2).

POST /api/keys with the key signature answers the public key and the EIP-712 binding to sign;
PUT /api/keys registers it. Idempotent: registering the same wallet again changes nothing.
A doctor needs this before a patient can approve them (409 `doctor_key_missing` otherwise).
"""

from __future__ import annotations

import httpx

from .wallet import Wallet


def register_key(client: httpx.Client, wallet: Wallet) -> str:
    """Register `wallet`'s encryption key; returns its public key (0x hex)."""
    prepared = client.post("/api/keys", json={"walletSignature": wallet.key_signature(client)}, headers=wallet.headers)
    assert prepared.status_code == 200, prepared.text
    body = prepared.json()
    registered = client.put(
        "/api/keys",
        json={"publicKey": body["publicKey"], "signature": wallet.sign_typed_data(body["typedData"])},
        headers=wallet.headers,
    )
    assert registered.status_code == 200, registered.text
    return body["publicKey"]
