"""The integrity report through the real API: MongoDB vs chain hashes, and IPFS pins, per record."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from healthledger.api import integrity_report as integrity_report_api
from healthledger.chain.relayer import Relayer
from healthledger.db.records import RecordDoc
from healthledger.services import integrity_report as integrity_report_service
from healthledger.storage.ipfs import IpfsClient

from .support.records import upload
from .support.wallet import Wallet

REPORT = "/api/system/integrity-report"


def _patient(client: httpx.Client) -> Wallet:
    wallet = Wallet.random()
    wallet.login(client)
    return wallet


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _report(client: httpx.Client, wallet: Wallet, **params: str) -> dict[str, Any]:
    return _ok(client.get(REPORT, params=params, headers=wallet.headers))


def _repin(api_url: str, cid: str) -> None:
    httpx.post(f"{api_url}/api/v0/pin/add", params={"arg": cid}, timeout=30.0, trust_env=False).raise_for_status()


@pytest_asyncio.fixture
async def scenario(client, db, ipfs_client: IpfsClient, ipfs_node):
    """A patient with one record of each status; everything is put back afterwards."""
    wallet = _patient(client)
    records = [_ok(upload(client, wallet, os.urandom(1200) + bytes([i])), 201) for i in range(3)]
    healthy, tampered, unpinned = records

    async def one_chunk():
        yield os.urandom(700)

    pending_cid = (await ipfs_client.add_stream(one_chunk())).cid
    pending = RecordDoc(
        patient=wallet.address.lower(),
        record_type="bill",
        name="pending.pdf",
        content_type="application/pdf",
        cid=pending_cid,
        content_hash="0x" + "11" * 32,
        ciphertext_hash="0x" + "22" * 32,
        size=1,
        ciphertext_size=1,
        wrapped_key="",
        vault_address=tampered["vault_address"],
        created_at=datetime.now(UTC),
    )
    db["records"].insert_one(asdict(pending))
    db["records"].update_one({"cid": tampered["cid"]}, {"$set": {"content_hash": "0x" + "ab" * 32}})
    assert await ipfs_client.unpin(unpinned["cid"])
    try:
        yield wallet, {"verified": healthy, "mismatched": tampered, "missing": unpinned}, pending_cid
    finally:
        db["records"].update_one({"cid": tampered["cid"]}, {"$set": {"content_hash": tampered["content_hash"]}})
        db["records"].delete_one({"cid": pending_cid})
        await ipfs_client.unpin(pending_cid)
        _repin(ipfs_node.api_url, unpinned["cid"])


@pytest.mark.parametrize("targeted", [True, False], ids=["their-cids-only", "every-pin-listed"])
def test_each_status_for_the_patient(client, scenario, monkeypatch, targeted: bool) -> None:
    """A patient's few records are looked up among the node's pins by their CIDs only (`pinned_among`);
    past TARGETED_PIN_CHECK_UP_TO records on chain every pin is listed instead. Both give the same report."""
    wallet, by_status, pending_cid = scenario
    listings: list[str] = []
    list_every_pin = IpfsClient.pinned_cids

    async def spied_listing(self: IpfsClient) -> set[str]:
        listings.append("pin/ls")
        return await list_every_pin(self)

    monkeypatch.setattr(IpfsClient, "pinned_cids", spied_listing)
    if not targeted:
        monkeypatch.setattr(integrity_report_service, "TARGETED_PIN_CHECK_UP_TO", 2)  # 3 on chain
    report = _report(client, wallet)
    assert listings == ([] if targeted else ["pin/ls"])
    assert report["scope"] == "patient"
    assert report["total"] == 4 and report["patients"] == 1
    assert report["counts"] == {"verified": 1, "mismatched": 1, "missing": 1, "pending": 1, "unanchored": 0}
    rows = {row["cid"]: row for row in report["records"]}
    assert set(rows) == {*(r["cid"] for r in by_status.values()), pending_cid}
    assert all(row["patient"] == wallet.address.lower() for row in rows.values())

    healthy = rows[by_status["verified"]["cid"]]
    assert healthy | {"problems": None} == {
        "cid": by_status["verified"]["cid"],
        "record_id": by_status["verified"]["record_id"],
        "patient": wallet.address.lower(),
        "state": "confirmed",
        "record_type": "report",
        "database": True,
        "blockchain": True,
        "ipfs": True,
        "status": "verified",
        "database_hash": by_status["verified"]["content_hash"],
        "blockchain_hash": by_status["verified"]["content_hash"],
        "problems": None,
        "reanchored": 0,
    }
    assert healthy["problems"] == []

    tampered = rows[by_status["mismatched"]["cid"]]
    assert (tampered["status"], tampered["blockchain"], tampered["ipfs"]) == ("mismatched", False, True)
    assert tampered["database_hash"] == "0x" + "ab" * 32
    assert tampered["blockchain_hash"] == by_status["mismatched"]["content_hash"]
    assert "different hash" in tampered["problems"][0]

    unpinned = rows[by_status["missing"]["cid"]]
    assert (unpinned["status"], unpinned["blockchain"], unpinned["ipfs"]) == ("missing", True, False)
    assert unpinned["problems"] == ["the ciphertext is not pinned on the IPFS node"]

    pending = rows[pending_cid]
    assert (pending["status"], pending["state"], pending["blockchain"], pending["ipfs"]) == ("pending", "pending", None, True)
    assert pending["record_id"] is None and pending["blockchain_hash"] is None

    assert set(report["timings_ms"]) == {"database", "ipfs", "chain", "checks", "total"}
    only = _report(client, wallet, status="mismatched")
    assert [row["cid"] for row in only["records"]] == [by_status["mismatched"]["cid"]]
    assert only["counts"] == report["counts"]
    bad = client.get(REPORT, params={"status": "broken"}, headers=wallet.headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_status"



def test_a_large_answer_arrives_whole_in_slices(client, scenario, monkeypatch) -> None:
    """Above BODY_SLICE the body is sent in slices with its Content-Length (api/integrity_report.py):
    it must arrive whole, not chunked, and say what the answer sent in one piece says."""
    wallet, _, _ = scenario
    whole = _report(client, wallet)
    monkeypatch.setattr(integrity_report_api, "BODY_SLICE", 256)
    sliced = client.get(REPORT, headers=wallet.headers)
    assert sliced.status_code == 200
    assert int(sliced.headers["content-length"]) == len(sliced.content) > 4 * 256
    assert "transfer-encoding" not in sliced.headers
    body = sliced.json()
    assert (body["records"], body["counts"], body["total"]) == (whole["records"], whole["counts"], whole["total"])


def test_record_missing_on_chain(client, db) -> None:
    wallet = _patient(client)
    record = _ok(upload(client, wallet, os.urandom(600)), 201)
    # The document claims an id the contract never issued.
    db["records"].update_one({"cid": record["cid"]}, {"$set": {"record_id": 7}})
    try:
        (row,) = _report(client, wallet)["records"]
    finally:
        db["records"].update_one({"cid": record["cid"]}, {"$set": {"record_id": record["record_id"]}})
    assert (row["status"], row["blockchain"], row["ipfs"], row["blockchain_hash"]) == ("missing", False, True, None)
    assert row["problems"][0] == "the chain holds no such record"
    (row,) = _report(client, wallet)["records"]
    assert row["status"] == "verified"


def test_patient_sees_only_their_records(client, scenario) -> None:
    other = _patient(client)
    empty = _report(client, other)
    assert (empty["total"], empty["patients"], empty["records"]) == (0, 0, [])
    assert empty["counts"] == {"verified": 0, "mismatched": 0, "missing": 0, "pending": 0, "unanchored": 0}
    record = _ok(upload(client, other, os.urandom(500)), 201)
    report = _report(client, other)
    assert [row["cid"] for row in report["records"]] == [record["cid"]]
    assert report["counts"] == {"verified": 1, "mismatched": 0, "missing": 0, "pending": 0, "unanchored": 0}


@pytest.mark.asyncio
async def test_registrar_sees_all_doctor_is_refused(client, scenario, registrar_relayer: Relayer, dev_accounts) -> None:
    wallet, by_status, pending_cid = scenario
    other = _patient(client)
    other_record = _ok(upload(client, other, os.urandom(500)), 201)

    registrar = Wallet.from_key(dev_accounts[0].private_key)
    assert registrar.login(client)["role"] == "registrar"
    report = _report(client, registrar)
    assert report["scope"] == "all"
    assert report["patients"] >= 2
    assert sum(report["counts"].values()) == report["total"] == len(report["records"])
    rows = {row["cid"]: row for row in report["records"]}
    for status, record in by_status.items():
        assert rows[record["cid"]]["status"] == status
    assert rows[pending_cid]["status"] == "pending"
    assert rows[other_record["cid"]]["status"] == "verified"
    assert rows[other_record["cid"]]["patient"] == other.address.lower()

    doctor = Wallet.random()
    await registrar_relayer.register_doctor(doctor.address)
    assert doctor.login(client)["role"] == "doctor"
    response = client.get(REPORT, headers=doctor.headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_role"
    assert client.get(REPORT).status_code == 401
