"""Anchors reveal nothing guessable: the chain holds SHA-256(salt ‖ file), the salt is stored only
sealed, reads re-hash with it, and a patient's verification bundle checks out against the chain
with nothing but an RPC URL (and fails for a changed file, a changed salt or another record).

Real Anvil, js-ipfs and SecantusDB, through the API and the `healthledger` CLI.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.collection import Collection
from typer.testing import CliRunner

from healthledger.chain.anchors import AnchorReader
from healthledger.cli import app
from healthledger.container import build_services
from healthledger.crypto import derive_kek, new_data_key, wrap_key
from healthledger.db.records import RecordDoc
from healthledger.services.upload import record_aad

from .support.crypto import encrypt_bytes
from .support.records import upload
from .support.wallet import Wallet


def _salt() -> str:
    return "0x" + os.urandom(32).hex()


def _commitment(salt: str, content: bytes) -> str:
    return "0x" + hashlib.sha256(bytes.fromhex(salt[2:]) + content).hexdigest()


def _key_headers(client: httpx.Client, wallet: Wallet) -> dict[str, str]:
    return {**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)}


def _uploaded(client: httpx.Client, wallet: Wallet, content: bytes, salt: str) -> dict[str, Any]:
    response = upload(client, wallet, content, salt=salt)
    assert response.status_code == 201, response.text
    return response.json()


def _bundle(client: httpx.Client, wallet: Wallet, cid: str) -> dict[str, Any]:
    response = client.get(f"/api/medical-records/bundle/{cid}", headers=_key_headers(client, wallet))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith("attachment;")
    return response.json()


def _verify_bundle(tmp_path: Path, bundle: dict[str, Any], rpc_url: str) -> tuple[int, str]:
    path = tmp_path / f"bundle-{os.urandom(4).hex()}.json"
    path.write_text(json.dumps(bundle))
    result = CliRunner().invoke(app, ["verify-bundle", str(path), "--rpc-url", rpc_url])
    return result.exit_code, result.output


def _strings(value: Any) -> list[str]:
    """Every string and bytes value anywhere in a document, as text (bytes as hex and base64)."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, (bytes, bytearray)):
        return [bytes(value).hex(), base64.b64encode(value).decode(), base64.urlsafe_b64encode(value).decode()]
    return [str(value)]


def test_the_chain_holds_the_salted_commitment_and_reads_verify(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection, anvil
) -> None:
    content, salt = os.urandom(4000), _salt()
    record = _uploaded(client, patient_wallet, content, salt)

    assert record["content_hash"] == _commitment(salt, content)
    assert record["content_hash"] != "0x" + hashlib.sha256(content).hexdigest()
    assert "sealed_salt" not in record and "salt" not in record

    view = client.get(f"/api/medical-records/view/{record['cid']}", headers=_key_headers(client, patient_wallet))
    assert view.status_code == 200, view.text
    assert view.content == content and view.headers["X-Content-SHA256"] == record["content_hash"]
    assert view.headers["X-Content-Salt"] == salt  # the reader, who has the file, can re-check the anchor
    verify = client.get(f"/api/medical-records/verify/{record['cid']}", headers=_key_headers(client, patient_wallet))
    assert verify.json()["verified"] is True and verify.json()["plaintext_rehashed"] is True

    # At rest the salt exists only sealed: no spelling of it appears anywhere in the document.
    doc = records_collection.find_one({"cid": record["cid"]})
    assert doc["sealed_salt"].startswith("hlkw1.")
    raw = bytes.fromhex(salt[2:])
    spellings = {salt[2:].lower(), base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    assert not [s for s in _strings(doc) for spelling in spellings if spelling in s.lower() or spelling in s]


@pytest.mark.parametrize("salt", ["0x1234", "0x" + "zz" * 32, "ab" * 32, "0x" + "ab" * 33])
def test_a_malformed_salt_is_refused_before_anything_is_written(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection, salt: str
) -> None:
    response = upload(client, patient_wallet, b"a file", overrides={"salt": salt})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_salt"
    assert records_collection.count_documents({"patient": patient_wallet.address.lower()}) == 0


def test_an_upload_without_a_salt_is_refused(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection
) -> None:
    # An empty multipart field is a missing one: the request's own validation answers (required field).
    response = upload(client, patient_wallet, b"a file", overrides={"salt": ""})
    assert response.status_code == 422 and "salt" in response.json()["error"]["message"]
    assert records_collection.count_documents({"patient": patient_wallet.address.lower()}) == 0


def test_a_signature_over_another_salt_is_refused(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection
) -> None:
    # Signed for one salt, sent with another: the commitment the server computes is not the one signed.
    response = upload(client, patient_wallet, b"a file", salt=_salt(), overrides={"salt": _salt()})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_record_signature"
    assert records_collection.count_documents({"patient": patient_wallet.address.lower()}) == 0


def test_a_salt_moved_from_another_record_is_a_mismatch(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection
) -> None:
    first = _uploaded(client, patient_wallet, os.urandom(300), _salt())
    second = _uploaded(client, patient_wallet, os.urandom(300), _salt())
    other = records_collection.find_one({"cid": first["cid"]})["sealed_salt"]
    records_collection.update_one({"cid": second["cid"]}, {"$set": {"sealed_salt": other}})

    view = client.get(f"/api/medical-records/view/{second['cid']}", headers=_key_headers(client, patient_wallet))
    assert view.status_code == 409 and view.json()["error"]["code"] == "integrity_mismatch"
    verify = client.get(f"/api/medical-records/verify/{second['cid']}", headers=_key_headers(client, patient_wallet))
    assert verify.status_code == 200 and verify.json()["verified"] is False


def test_the_bundle_verifies_and_fails_for_a_changed_file_salt_or_record(
    client: httpx.Client, patient_wallet: Wallet, anvil, tmp_path: Path
) -> None:
    content, salt = b"%PDF-1.7 discharge letter " + os.urandom(2000), _salt()
    record = _uploaded(client, patient_wallet, content, salt)
    other = _uploaded(client, patient_wallet, os.urandom(500), _salt())
    bundle = _bundle(client, patient_wallet, record["cid"])

    assert {k: v for k, v in bundle.items() if k != "file"} == {
        "version": 1,
        "fileName": "blood test.pdf",
        "contentType": "application/pdf",
        "salt": salt,
        "contentHash": record["content_hash"],
        "chainId": 31337,
        "contract": bundle["contract"],
        "recordId": record["record_id"],
        "txHash": record["tx_hash"],
        "blockNumber": record["block_number"],
    }
    assert bundle["contract"].lower() == record["vault_address"]
    assert base64.b64decode(bundle["file"]) == content

    code, output = _verify_bundle(tmp_path, bundle, anvil.rpc_url)
    assert code == 0 and output.startswith("VERIFIED"), output

    changed_file = base64.b64encode(content[:-1] + bytes([content[-1] ^ 1])).decode()
    failures = {
        "content_mismatch (file)": {**bundle, "file": changed_file},
        "content_mismatch (salt)": {**bundle, "salt": _salt()},
        "another_record": {**bundle, "recordId": other["record_id"]},
        "unknown_record": {**bundle, "recordId": 999},
        "wrong_chain": {**bundle, "chainId": 1},
        "transaction_mismatch": {**bundle, "txHash": other["tx_hash"]},
        "malformed_bundle": {**bundle, "salt": "0x12"},
    }
    for expected, changed in failures.items():
        code, output = _verify_bundle(tmp_path, changed, anvil.rpc_url)
        assert code == 1, (expected, output)
        assert f"NOT VERIFIED ({expected.split()[0]})" in output, (expected, output)

    # No chain to ask: not a verdict, exit 2.
    code, output = _verify_bundle(tmp_path, bundle, "http://127.0.0.1:9")
    assert code == 2, output


def test_only_the_patient_with_their_key_gets_a_bundle(client: httpx.Client, patient_wallet: Wallet) -> None:
    record = _uploaded(client, patient_wallet, os.urandom(100), _salt())
    url = f"/api/medical-records/bundle/{record['cid']}"
    missing = client.get(url, headers=patient_wallet.headers)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_wallet_signature"
    stranger = Wallet.random()
    stranger.login(client)
    other = client.get(url, headers=_key_headers(client, stranger))
    assert other.status_code == 403 and other.json()["error"]["code"] == "not_allowed"
    unknown = client.get("/api/medical-records/bundle/not-a-cid", headers=_key_headers(client, patient_wallet))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid_cid"


async def _store_the_old_way(client: httpx.Client, patient_wallet: Wallet, api_settings, content: bytes) -> str:
    """A record stored the way uploads were before salts: plain SHA-256 on chain, no sealed salt."""
    plain = "0x" + hashlib.sha256(content).hexdigest()
    patient = patient_wallet.address
    services = await build_services(api_settings)
    try:
        data_key = new_data_key()
        container = encrypt_bytes(content, data_key)

        async def chunks():
            yield container

        added = await services.ipfs.add_stream(chunks())
        payload = patient_wallet.typed_data(client, "addRecord", {"recordType": "report", "contentHash": plain})
        await services.relayer.ensure_vault(patient)
        sent = await services.relayer.relay_signed(
            "addRecord", patient, payload["message"], patient_wallet.sign_typed_data(payload)
        )
        signature = bytes.fromhex(patient_wallet.key_signature(client)[2:])
        await services.records.insert_pending(
            RecordDoc(
                patient=patient.lower(), record_type="report", name="old.pdf", content_type="application/pdf",
                cid=added.cid, content_hash=plain, ciphertext_hash="0x" + hashlib.sha256(container).hexdigest(),
                size=len(content), ciphertext_size=len(container),
                wrapped_key=wrap_key(data_key, derive_kek(signature, patient), record_aad(patient, plain)),
                vault_address=(await services.chain.vault_address(patient)).lower(),
            )
        )
        await services.records.mark_mined(
            added.cid, record_id=services.chain.record_id_from_receipt(patient, sent.receipt),
            tx_hash=sent.tx_hash, block_number=sent.block_number, block_hash="0x" + "00" * 32, confirmed=True,
        )
    finally:
        await services.close()
    return added.cid


def test_a_record_from_before_salts_keeps_verifying_as_plain_sha256(
    client: httpx.Client, patient_wallet: Wallet, api_settings, anvil, tmp_path: Path
) -> None:
    content = os.urandom(1500)
    plain = "0x" + hashlib.sha256(content).hexdigest()
    cid = asyncio.run(_store_the_old_way(client, patient_wallet, api_settings, content))

    view = client.get(f"/api/medical-records/view/{cid}", headers=_key_headers(client, patient_wallet))
    assert view.status_code == 200, view.text
    assert view.content == content and "X-Content-Salt" not in view.headers
    verify = client.get(f"/api/medical-records/verify/{cid}", headers=_key_headers(client, patient_wallet))
    assert verify.json()["verified"] is True and verify.json()["plaintext_rehashed"] is True

    bundle = _bundle(client, patient_wallet, cid)
    assert bundle["salt"] is None and bundle["contentHash"] == plain
    code, output = _verify_bundle(tmp_path, bundle, anvil.rpc_url)
    assert code == 0, output


@pytest.mark.asyncio
async def test_the_anchor_reader_needs_only_an_rpc_url(anvil) -> None:
    reader = AnchorReader(anvil.rpc_url)
    try:
        assert await reader.chain_id() == 31337
        assert await reader.get_record("0x" + "00" * 20, 0) is None
        assert await reader.records_added("0x" + "00" * 32) is None
    finally:
        await reader.aclose()
