"""Uploading a file through the API the way the web app does: salt, hash, sign, post.

The web app draws a fresh random salt per upload. Here the salt is derived from the content
(`salt_for`), so the separate helpers (the typed data of `add_record_payload`, the form of
`upload_form`) agree on it without passing it around, and a test that uploads the same bytes twice
sends the same commitment twice, as a retry of one upload does. Pass `salt=` for any other salt.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from .wallet import Wallet


def salt_for(content: bytes) -> str:
    """The test salt of `content`: 0x + 64 hex (see the module docstring)."""
    return "0x" + hashlib.sha256(b"healthledger test salt|" + content).hexdigest()


def content_hash(content: bytes, salt: str | None = None) -> str:
    """The commitment SHA-256(salt ‖ content) the chain stores, as 0x hex (salt: `salt_for(content)`)."""
    salt_bytes = bytes.fromhex((salt or salt_for(content))[2:])
    return "0x" + hashlib.sha256(salt_bytes + content).hexdigest()


def add_record_payload(
    client: httpx.Client, wallet: Wallet, content: bytes, record_type: str = "report", *, salt: str | None = None
) -> dict:
    """The AddRecord typed data the API serves for `content` (its salted commitment), for `wallet` to sign."""
    return wallet.typed_data(
        client, "addRecord", {"recordType": record_type, "contentHash": content_hash(content, salt)}
    )


def signed_fields(wallet: Wallet, payload: dict) -> dict[str, str]:
    """The form fields that carry `wallet`'s signature of an AddRecord `payload`: the signature, its nonce
    and its deadline."""
    return {
        "recordSignature": wallet.sign_typed_data(payload),
        "nonce": str(payload["message"]["nonce"]),
        "deadline": str(payload["message"]["deadline"]),
    }


def consecutive_upload_forms(
    client: httpx.Client, wallet: Wallet, contents: list[bytes]
) -> list[tuple[dict[str, str], bytes]]:
    """Signed upload forms (all but the file) of `contents`, one per file, with the signer's nonces
    n, n+1, … (all signed before any is sent, as the web app does for several files at once).
    `wallet` must be signed in on `client`."""
    key_signature = wallet.key_signature(client)
    forms = []
    for k, content in enumerate(contents):
        payload = add_record_payload(client, wallet, content)
        payload["message"]["nonce"] = int(payload["message"]["nonce"]) + k
        form = {"recordType": "report", "name": f"file {k}.pdf", "walletSignature": key_signature, "salt": salt_for(content)}
        forms.append(({**form, **signed_fields(wallet, payload)}, content))
    return forms


def upload_form(
    client: httpx.Client,
    wallet: Wallet,
    content: bytes,
    record_type: str = "report",
    name: str = "blood test.pdf",
    *,
    overrides: dict[str, Any] | None = None,
    salt: str | None = None,
) -> dict[str, str]:
    """The signed form fields (all but the file) of an upload of `content`; `overrides` replace fields."""
    salt = salt or salt_for(content)
    payload = add_record_payload(client, wallet, content, record_type, salt=salt)
    form = {"recordType": record_type, "name": name, "walletSignature": wallet.key_signature(client), "salt": salt}
    form.update(signed_fields(wallet, payload))
    form.update(overrides or {})
    return form


def upload(
    client: httpx.Client, wallet: Wallet, content: bytes, record_type: str = "report", name: str = "blood test.pdf",
    *, content_type: str = "application/pdf", overrides: dict[str, Any] | None = None, salt: str | None = None,
) -> httpx.Response:
    """Sign the AddRecord payload for `content` and upload it; `overrides` replace form fields."""
    return client.post(
        "/api/medical-records/upload",
        data=upload_form(client, wallet, content, record_type, name, overrides=overrides, salt=salt),
        files={"file": (name, content, content_type)},
        headers=wallet.headers,
    )


def multipart_parts(
    fields: dict[str, str], content: bytes, *, filename: str = "scan.pdf", content_type: str = "application/pdf",
    boundary: str = "hl-test-boundary-5c1e",
) -> tuple[list[bytes], bytes, bytes, str]:
    """An upload's multipart body in pieces, for tests that choose the order or the pace:
    (one piece per field, the file part's headers, the closing boundary, the request's Content-Type).
    The file's bytes follow the headers, then b"\r\n"."""
    pieces = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return pieces, head, f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def view(client: httpx.Client, wallet: Wallet, cid: str) -> httpx.Response:
    """GET /api/medical-records/view/{cid} as `wallet`, with its own key signature (patient or doctor)."""
    return client.get(
        f"/api/medical-records/view/{cid}", headers={**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)}
    )
