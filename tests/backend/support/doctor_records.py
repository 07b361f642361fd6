"""A doctor adding a record for a patient through the API, the way the web app does it, and the
encryption-key set-up both accounts need first (keys v2)."""

from __future__ import annotations

from typing import Any

import httpx

from .records import content_hash, salt_for
from .wallet import Wallet

DOCTOR_UPLOAD = "/api/medical-records/doctor/upload"


def register_key(client: httpx.Client, wallet: Wallet) -> str:
    """POST /api/keys with the wallet's key signature, then PUT its EIP-712 binding; the public key."""
    prepared = client.post("/api/keys", json={"walletSignature": wallet.key_signature(client)}, headers=wallet.headers)
    assert prepared.status_code == 200, prepared.text
    body = prepared.json()
    stored = client.put(
        "/api/keys",
        json={"publicKey": body["publicKey"], "signature": wallet.sign_typed_data(body["typedData"])},
        headers=wallet.headers,
    )
    assert stored.status_code == 200, stored.text
    return body["publicKey"]


def add_record_as_doctor_payload(
    client: httpx.Client, doctor: Wallet, patient: str, content: bytes, record_type: str = "prescription",
    *, salt: str | None = None,
) -> dict[str, Any]:
    """The AddRecordAsDoctor typed data the API serves for `content` in `patient`'s vault."""
    return doctor.typed_data(
        client,
        "addRecordAsDoctor",
        {"patientAddress": patient, "recordType": record_type, "contentHash": content_hash(content, salt)},
    )


def doctor_upload_form(
    client: httpx.Client, doctor: Wallet, patient: str, content: bytes, record_type: str = "prescription",
    name: str = "prescription.pdf", *, overrides: dict[str, Any] | None = None, salt: str | None = None,
) -> dict[str, str]:
    """The signed form fields (all but the file) of a doctor's upload of `content` for `patient`."""
    salt = salt or salt_for(content)
    payload = add_record_as_doctor_payload(client, doctor, patient, content, record_type, salt=salt)
    form = {
        "patientAddress": patient,
        "recordType": record_type,
        "name": name,
        "salt": salt,
        "recordSignature": doctor.sign_typed_data(payload),
        "nonce": str(payload["message"]["nonce"]),
        "deadline": str(payload["message"]["deadline"]),
    }
    form.update(overrides or {})
    return form


def doctor_upload(
    client: httpx.Client, doctor: Wallet, patient: str, content: bytes, record_type: str = "prescription",
    name: str = "prescription.pdf", *, content_type: str = "application/pdf", overrides: dict[str, Any] | None = None,
    salt: str | None = None,
) -> httpx.Response:
    """Sign AddRecordAsDoctor for `content` and post it; `overrides` replace form fields."""
    return client.post(
        DOCTOR_UPLOAD,
        data=doctor_upload_form(client, doctor, patient, content, record_type, name, overrides=overrides, salt=salt),
        files={"file": (name, content, content_type)},
        headers=doctor.headers,
    )
