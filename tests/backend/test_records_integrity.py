"""Tampering is detected: the stored hash, the on-chain expectation and the ciphertext each checked."""

from __future__ import annotations

import os
from typing import Any

import httpx
from pymongo.collection import Collection

from .support.records import upload
from .support.wallet import Wallet


def _view(client: httpx.Client, wallet: Wallet, cid: str) -> httpx.Response:
    return client.get(
        f"/api/medical-records/view/{cid}",
        headers={**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)},
    )


def _uploaded(client: httpx.Client, wallet: Wallet, content: bytes | None = None) -> dict[str, Any]:
    response = upload(client, wallet, content or os.urandom(5000))
    assert response.status_code == 201, response.text
    return response.json()


def test_changed_hash_in_database_is_detected(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection
) -> None:
    record = _uploaded(client, patient_wallet)
    records_collection.update_one({"cid": record["cid"]}, {"$set": {"content_hash": "0x" + "ab" * 32}})

    response = _view(client, patient_wallet, record["cid"])
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "integrity_mismatch"
    assert "database" in error["mismatched"]
    assert "X-Integrity-Verified" not in response.headers

    verify = client.get(f"/api/medical-records/verify/{record['cid']}", headers=patient_wallet.headers).json()
    assert verify["verified"] is False and verify["blockchain"] is False


def test_changed_onchain_expectation_is_detected(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection
) -> None:
    first = _uploaded(client, patient_wallet)
    second = _uploaded(client, patient_wallet)
    assert (first["record_id"], second["record_id"]) == (0, 1)
    # Point the first file's metadata at the second on-chain record (swap ids through a free value).
    records_collection.update_one({"cid": second["cid"]}, {"$set": {"record_id": 999}})
    records_collection.update_one({"cid": first["cid"]}, {"$set": {"record_id": 1}})
    records_collection.update_one({"cid": second["cid"]}, {"$set": {"record_id": 0}})

    response = _view(client, patient_wallet, first["cid"])
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["mismatched"] == ["blockchain"]
    assert "chain" in error["message"]


def test_corrupted_ciphertext_is_detected(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection, ipfs_node
) -> None:
    record = _uploaded(client, patient_wallet)
    with httpx.Client(base_url=ipfs_node.api_url + "/api/v0", timeout=30) as ipfs:
        original = ipfs.post("cat", params={"arg": record["cid"]}).content
        corrupted = bytearray(original)
        corrupted[len(corrupted) // 2] ^= 0x01
        added = ipfs.post(
            "add", params={"cid-version": 1, "raw-leaves": "true"}, files={"file": ("x", bytes(corrupted))}
        ).json()
    corrupted_cid = added["Hash"]
    records_collection.update_one({"cid": record["cid"]}, {"$set": {"cid": corrupted_cid}})

    response = _view(client, patient_wallet, corrupted_cid)
    assert response.status_code == 409
    assert response.json()["error"]["mismatched"] == ["ipfs"]

    verify = client.get(f"/api/medical-records/verify/{corrupted_cid}", headers=patient_wallet.headers).json()
    assert verify["ipfs"] is False and verify["verified"] is False
