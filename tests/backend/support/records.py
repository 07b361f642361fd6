"""Uploading a file through the API the way the web app does: hash, sign, post."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from .wallet import Wallet


def add_record_payload(client: httpx.Client, wallet: Wallet, content: bytes, record_type: str = "report") -> dict:
    """The AddRecord typed data the API serves for `content` (its SHA-256), for `wallet` to sign."""
    content_hash = "0x" + hashlib.sha256(content).hexdigest()
    return wallet.typed_data(client, "addRecord", {"recordType": record_type, "contentHash": content_hash})


def signed_fields(wallet: Wallet, payload: dict) -> dict[str, str]:
    """The form fields that carry `wallet`'s signature of an AddRecord `payload`: the signature, its nonce
    and its deadline."""
    return {
        "recordSignature": wallet.sign_typed_data(payload),
        "nonce": str(payload["message"]["nonce"]),
        "deadline": str(payload["message"]["deadline"]),
    }


def upload_form(
    client: httpx.Client,
    wallet: Wallet,
    content: bytes,
    record_type: str = "report",
    name: str = "blood test.pdf",
    *,
    overrides: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The signed form fields (all but the file) of an upload of `content`; `overrides` replace fields."""
    payload = add_record_payload(client, wallet, content, record_type)
    form = {"recordType": record_type, "name": name, "walletSignature": wallet.key_signature(client)}
    form.update(signed_fields(wallet, payload))
    form.update(overrides or {})
    return form


def upload(
    client: httpx.Client, wallet: Wallet, content: bytes, record_type: str = "report", name: str = "blood test.pdf",
    *, content_type: str = "application/pdf", overrides: dict[str, Any] | None = None,
) -> httpx.Response:
    """Sign the AddRecord payload for `content` and upload it; `overrides` replace form fields."""
    return client.post(
        "/api/medical-records/upload",
        data=upload_form(client, wallet, content, record_type, name, overrides=overrides),
        files={"file": (name, content, content_type)},
        headers=wallet.headers,
    )
