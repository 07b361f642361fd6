"""Uploading a file through the API the way the web app does: hash, sign, post."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from .wallet import Wallet


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
    content_hash = "0x" + hashlib.sha256(content).hexdigest()
    payload = wallet.typed_data(client, "addRecord", {"recordType": record_type, "contentHash": content_hash})
    form = {
        "recordType": record_type,
        "name": name,
        "walletSignature": wallet.key_signature(client),
        "recordSignature": wallet.sign_typed_data(payload),
        "nonce": str(payload["message"]["nonce"]),
        "deadline": str(payload["message"]["deadline"]),
    }
    form.update(overrides or {})
    return form


def upload(
    client: httpx.Client,
    wallet: Wallet,
    content: bytes,
    record_type: str = "report",
    name: str = "blood test.pdf",
    *,
    content_type: str = "application/pdf",
    overrides: dict[str, Any] | None = None,
) -> httpx.Response:
    """Sign the AddRecord payload for `content` and upload it; `overrides` replace form fields."""
    return client.post(
        "/api/medical-records/upload",
        data=upload_form(client, wallet, content, record_type, name, overrides=overrides),
        files={"file": (name, content, content_type)},
        headers=wallet.headers,
    )
