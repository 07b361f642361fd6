"""Upload, list, view and verify through the real API on real Anvil, js-ipfs and SecantusDB."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from .support.records import content_hash as commitment, upload
from .support.wallet import Wallet


@pytest.mark.parametrize("record_type", ["prescription", "bill", "report"])
def test_upload_each_type_then_view_and_verify(client: httpx.Client, patient_wallet: Wallet, record_type: str) -> None:
    content = os.urandom(3000) + record_type.encode()
    response = upload(client, patient_wallet, content, record_type)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["state"] == "confirmed"
    assert record["record_type"] == record_type
    assert record["content_hash"] == commitment(content) != "0x" + hashlib.sha256(content).hexdigest()
    assert record["record_id"] == 0
    assert "wrapped_key" not in record

    listed = client.get("/api/medical-records/patient-records", headers=patient_wallet.headers).json()["records"]
    assert [r["cid"] for r in listed] == [record["cid"]]

    view = client.get(
        f"/api/medical-records/view/{record['cid']}",
        headers={**patient_wallet.headers, "X-Wallet-Signature": patient_wallet.key_signature(client)},
    )
    assert view.status_code == 200, view.text
    assert view.content == content
    assert view.headers["X-Integrity-Verified"] == "true"
    assert view.headers["X-Blockchain-Hash-Verified"] == "true"

    verify = client.get(f"/api/medical-records/verify/{record['cid']}", headers=patient_wallet.headers).json()
    assert verify["verified"] is True and verify["plaintext_rehashed"] is False
    verify = client.get(
        f"/api/medical-records/verify/{record['cid']}",
        headers={**patient_wallet.headers, "X-Wallet-Signature": patient_wallet.key_signature(client)},
    ).json()
    assert verify == {
        "cid": record["cid"],
        "database": True,
        "blockchain": True,
        "ipfs": True,
        "plaintext_rehashed": True,
        "verified": True,
        "problems": [],
    }
