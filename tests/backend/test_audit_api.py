"""The audit trail through the real API: chain events of the patient's contract plus the view log."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from healthledger.chain.client import ChainClient
from healthledger.chain.relayer import Relayer
from healthledger.devstack.anvil import AnvilNode
from tests.backend.fixtures.chain import SIGNATURE_TTL_SECONDS, sign_and_relay

from .support import access
from .support.records import upload
from .support.wallet import Wallet

DAY = 86400


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _view(client: httpx.Client, wallet: Wallet, cid: str) -> httpx.Response:
    return client.get(
        f"/api/medical-records/view/{cid}",
        headers={**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)},
    )


def _audit(client: httpx.Client, wallet: Wallet) -> list[dict[str, Any]]:
    body = _ok(client.get("/api/audit/patient", headers=wallet.headers))
    assert body["patient"] == wallet.address
    assert body["total"] == len(body["events"])
    return body["events"]


def _assert_newest_first(events: list[dict[str, Any]]) -> None:
    times = [e["timestamp_unix"] for e in events]
    assert times == sorted(times, reverse=True)
    chain = [(e["block_number"], e["log_index"]) for e in events if e["source"] == "chain"]
    assert chain == sorted(chain, reverse=True)


async def _relay_request_access(
    chain_client: ChainClient, relayer: Relayer, anvil: AnvilNode, doctor: Wallet, patient: str
) -> str:
    """The doctor signs RequestAccess in their wallet; the relayer submits it (no API involved)."""
    nonce = await chain_client.nonce_of(patient, doctor.address)
    deadline = anvil.latest_timestamp() + SIGNATURE_TTL_SECONDS
    result = await sign_and_relay(
        chain_client, relayer, "requestAccess", patient, doctor.account.key,
        doctor=doctor.address, nonce=nonce, deadline=deadline,
    )
    return result.tx_hash


@pytest.mark.asyncio
async def test_patient_sees_records_added_access_requested_and_views(
    client, patient_wallet, doctor_wallet, chain_client, relayer, anvil, db
) -> None:
    contents = [os.urandom(1500) + bytes([i]) for i in range(2)]
    records = [_ok(upload(client, patient_wallet, content), 201) for content in contents]
    tx_hash = await _relay_request_access(chain_client, relayer, anvil, doctor_wallet, patient_wallet.address)

    events = _audit(client, patient_wallet)
    assert [e["event"] for e in events] == ["AccessRequested", "RecordAdded", "RecordAdded"]
    _assert_newest_first(events)

    # Every entry matches the chain: same transactions, blocks, log positions and timestamps.
    onchain = await chain_client.get_events(patient_wallet.address)
    assert [(e["tx_hash"], e["block_number"], e["log_index"], e["timestamp_unix"]) for e in reversed(events)] == [
        (e.tx_hash, e.block_number, e.log_index, e.timestamp) for e in onchain
    ]
    requested, second, first = events
    assert requested["tx_hash"] == tx_hash
    assert requested["doctor"] == doctor_wallet.address
    assert requested["action"] == "access_requested"
    assert requested["record_ids"] is None
    for entry, record in ((first, records[0]), (second, records[1])):
        assert entry["tx_hash"] == record["tx_hash"]
        assert entry["record_ids"] == [record["record_id"]]
        assert entry["cids"] == [record["cid"]]
        assert entry["details"]["content_hash"] == record["content_hash"]
        assert entry["details"]["record_type"] == "report"
        assert entry["details"]["author"] == patient_wallet.address
        assert entry["patient"] == patient_wallet.address
        assert entry["contract"] == await chain_client.vault_address(patient_wallet.address)
        assert entry["timestamp"].endswith("+00:00")
        assert entry["block_hash"].startswith("0x") and len(entry["block_hash"]) == 66

    # A view is logged (verified) before the file is returned.
    view = _view(client, patient_wallet, records[0]["cid"])
    assert view.status_code == 200 and view.content == contents[0]
    views = [e for e in _audit(client, patient_wallet) if e["source"] == "database"]
    assert len(views) == 1
    assert views[0]["event"] == "RecordViewed" and views[0]["action"] == "record_viewed"
    assert views[0]["reader"] == patient_wallet.address and views[0]["reader_role"] == "patient"
    assert views[0]["cids"] == [records[0]["cid"]] and views[0]["record_ids"] == [0]
    assert views[0]["verified"] is True and views[0]["doctor"] is None

    # A failed verification is logged too, as not verified.
    db["records"].update_one({"cid": records[1]["cid"]}, {"$set": {"content_hash": "0x" + "cd" * 32}})
    try:
        failed = _view(client, patient_wallet, records[1]["cid"])
        assert failed.status_code == 409 and failed.json()["error"]["code"] == "integrity_mismatch"
    finally:
        db["records"].update_one({"cid": records[1]["cid"]}, {"$set": {"content_hash": records[1]["content_hash"]}})
    views = [e for e in _audit(client, patient_wallet) if e["source"] == "database"]
    assert [(v["cids"], v["verified"]) for v in views] == [([records[1]["cid"]], False), ([records[0]["cid"]], True)]

    # A pending record is not a failed verification: nothing is logged.
    db["records"].update_one({"cid": records[1]["cid"]}, {"$set": {"state": "pending"}})
    try:
        assert _view(client, patient_wallet, records[1]["cid"]).status_code == 409
    finally:
        db["records"].update_one({"cid": records[1]["cid"]}, {"$set": {"state": "confirmed"}})
    assert len([e for e in _audit(client, patient_wallet) if e["source"] == "database"]) == 2


@pytest.mark.asyncio
async def test_full_access_lifecycle_is_in_the_trail(client, patient_wallet, doctor_wallet, chain_client, anvil) -> None:
    patient = patient_wallet.address
    records = [_ok(upload(client, patient_wallet, os.urandom(800) + bytes([i])), 201) for i in range(3)]

    request = _ok(access.request_access(client, doctor_wallet, patient, "cardiology follow-up"), 201)
    _ok(access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [0, 2], 1))
    doctor_read = access.doctor_view(client, doctor_wallet, records[2]["cid"])
    assert doctor_read.status_code == 200, doctor_read.text
    _ok(access.request_extension(client, doctor_wallet, patient, DAY))
    _ok(access.approve_extension(client, patient_wallet, doctor_wallet.address, DAY))
    _ok(access.revoke(client, patient_wallet, doctor_wallet.address, [0]))
    _ok(access.revoke(client, patient_wallet, doctor_wallet.address))
    second = _ok(access.request_access(client, doctor_wallet, patient, "second opinion"), 201)
    _ok(access.deny(client, patient_wallet, second["id"], doctor_wallet.address))

    events = _audit(client, patient_wallet)
    _assert_newest_first(events)
    chain_entries = [e for e in events if e["source"] == "chain"]
    assert [e["event"] for e in reversed(chain_entries)] == [
        "RecordAdded",
        "RecordAdded",
        "RecordAdded",
        "AccessRequested",
        "RecordsApproved",
        "ExtensionRequested",
        "ExtensionApproved",
        "RecordsRevoked",
        "AccessRevoked",
        "AccessRequested",
        "AccessDenied",
    ]
    onchain = await chain_client.get_events(patient)
    assert [e["tx_hash"] for e in reversed(chain_entries)] == [e.tx_hash for e in onchain]
    by_event = {e["event"]: e for e in chain_entries}  # newest of each kind
    assert all(e["doctor"] == doctor_wallet.address for e in chain_entries if e["event"] != "RecordAdded")
    assert all(
        e["doctor"] is None and e["details"]["author_role"] == "patient" and e["details"]["author"] == patient
        for e in chain_entries if e["event"] == "RecordAdded"
    )

    approved = by_event["RecordsApproved"]
    # The approval's bitmap, decoded; its 256-bit words are not echoed.
    assert approved["action"] == "records_approved" and approved["record_ids"] == [0, 2]
    assert "words" not in approved["details"] and "startWord" not in approved["details"]
    assert approved["cids"] == [records[0]["cid"], records[2]["cid"]]
    assert isinstance(approved["details"]["expires_at"], int)
    assert by_event["ExtensionRequested"]["details"]["extra_seconds"] == DAY
    assert by_event["ExtensionApproved"]["details"]["expires_at"] == approved["details"]["expires_at"] + DAY
    assert by_event["RecordsRevoked"]["record_ids"] == [0] and by_event["RecordsRevoked"]["action"] == "records_revoked"
    assert by_event["AccessRevoked"]["record_ids"] is None and by_event["AccessRevoked"]["action"] == "access_revoked"
    requests = [e for e in chain_entries if e["event"] == "AccessRequested"]
    assert [e["details"].get("reason") for e in requests] == ["second opinion", "cardiology follow-up"]
    assert requests[1]["tx_hash"] == request["tx_hash"]

    (doctor_view,) = [e for e in events if e["source"] == "database"]
    assert doctor_view["reader"] == doctor_wallet.address and doctor_view["reader_role"] == "doctor"
    assert doctor_view["doctor"] == doctor_wallet.address
    assert doctor_view["cids"] == [records[2]["cid"]] and doctor_view["verified"] is True


def test_patient_without_anything_has_an_empty_trail(client, patient_wallet) -> None:
    assert _audit(client, patient_wallet) == []


@pytest.mark.asyncio
async def test_registrar_sees_every_patient_paged(
    client, patient_wallet, doctor_wallet, registrar_wallet, chain_client, relayer, anvil
) -> None:
    other = Wallet.random()
    other.login(client)
    mine = _ok(upload(client, patient_wallet, os.urandom(900)), 201)
    theirs = _ok(upload(client, other, os.urandom(900)), 201)
    request_tx = await _relay_request_access(chain_client, relayer, anvil, doctor_wallet, other.address)
    assert _view(client, patient_wallet, mine["cid"]).status_code == 200

    first = _ok(client.get("/api/audit/all", headers=registrar_wallet.headers))
    assert first["page"] == 1 and first["page_size"] == 50
    assert first["total"] >= 4 and first["patients"] >= 2
    assert first["pages"] == -(-first["total"] // 50)

    # Walk every page: each patient's entries are there, once, newest first overall.
    seen: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _ok(client.get("/api/audit/all", params={"page": page, "page_size": 200}, headers=registrar_wallet.headers))
        seen.extend(body["events"])
        if page >= body["pages"]:
            break
        page += 1
    assert len(seen) == body["total"]
    assert len({e["id"] for e in seen}) == len(seen)
    times = [e["timestamp_unix"] for e in seen]
    assert times == sorted(times, reverse=True)
    tx_hashes = {e.get("tx_hash") for e in seen}
    assert {mine["tx_hash"], theirs["tx_hash"], request_tx} <= tx_hashes
    (request_entry,) = [e for e in seen if e.get("tx_hash") == request_tx]
    assert request_entry["patient"] == other.address and request_entry["doctor"] == doctor_wallet.address
    views = [e for e in seen if e["source"] == "database" and e["patient"] == patient_wallet.address]
    assert [(v["cids"], v["reader_role"], v["verified"]) for v in views] == [([mine["cid"]], "patient", True)]
    for address in (patient_wallet.address, other.address):
        onchain = await chain_client.get_events(address)
        assert sorted(e["tx_hash"] for e in seen if e["patient"] == address and e["source"] == "chain") == sorted(
            e.tx_hash for e in onchain
        )

    # Pages are consecutive slices of one timeline.
    small = [
        _ok(client.get("/api/audit/all", params={"page": p, "page_size": 3}, headers=registrar_wallet.headers))
        for p in (1, 2)
    ]
    six = _ok(client.get("/api/audit/all", params={"page": 1, "page_size": 6}, headers=registrar_wallet.headers))
    assert [e["id"] for e in small[0]["events"] + small[1]["events"]] == [e["id"] for e in six["events"]]
    beyond = _ok(client.get("/api/audit/all", params={"page": 10_000}, headers=registrar_wallet.headers))
    assert beyond["events"] == [] and beyond["total"] == six["total"]

    for params, code in (({"page": 0}, "invalid_page"), ({"page_size": 201}, "invalid_page_size"), ({"page_size": 0}, "invalid_page_size")):
        response = client.get("/api/audit/all", params=params, headers=registrar_wallet.headers)
        assert response.status_code == 400 and response.json()["error"]["code"] == code


@pytest.mark.asyncio
async def test_roles(client, patient_wallet, doctor_wallet, registrar_wallet) -> None:
    for wallet in (patient_wallet, doctor_wallet):
        response = client.get("/api/audit/all", headers=wallet.headers)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "wrong_role"
    for wallet in (doctor_wallet, registrar_wallet):
        response = client.get("/api/audit/patient", headers=wallet.headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_role"
    assert client.get("/api/audit/patient").status_code == 401
    assert client.get("/api/audit/all").status_code == 401


def _name_doctor(db, address: str, name: str) -> None:
    db["profiles"].update_one(
        {"address": address.lower()},
        {"$set": {"role": "doctor", "name": name, "name_lower": name.lower(), "licence_id": "L-1", "registered": True}},
        upsert=True,
    )


@pytest.mark.asyncio
async def test_patient_trail_names_records_and_readers_registrar_trail_does_not(
    client, patient_wallet, doctor_wallet, registrar_wallet, db
) -> None:
    """The patient's own timeline says which record ("Amoxicillin prescription") and which doctor;
    the registrar's, over the same entries, carries no record name (a file name says as much as the file)."""
    _name_doctor(db, doctor_wallet.address, "Dr Maria Lopez")
    patient = patient_wallet.address
    rx = _ok(upload(client, patient_wallet, os.urandom(700), "prescription", "Amoxicillin prescription.pdf"), 201)
    bill = _ok(upload(client, patient_wallet, os.urandom(700), "bill", "Invoice March.pdf"), 201)
    request = _ok(access.request_access(client, doctor_wallet, patient, "follow-up"), 201)
    _ok(access.approve(client, patient_wallet, request["id"], doctor_wallet.address, [rx["record_id"], bill["record_id"]], 1))
    for _ in range(2):
        assert access.doctor_view(client, doctor_wallet, rx["cid"]).status_code == 200
    assert _view(client, patient_wallet, rx["cid"]).status_code == 200  # the patient's own view: not counted below

    names = {rx["record_id"]: "Amoxicillin prescription.pdf", bill["record_id"]: "Invoice March.pdf"}
    events = _audit(client, patient_wallet)
    for entry in events:
        expected = [{"record_id": i, "name": names[i]} for i in entry["record_ids"] or []]
        assert entry["record_names"] == expected, entry
    (approved,) = [e for e in events if e["action"] == "records_approved"]
    assert len(approved["record_names"]) == 2 and approved["details"]["doctor_name"] == "Dr Maria Lopez"
    views = [e for e in events if e["source"] == "database"]
    assert [(v["reader_role"], v["reader_name"]) for v in views] == [("patient", None), ("doctor", "Dr Maria Lopez"), ("doctor", "Dr Maria Lopez")]
    assert all(v["record_names"] == [{"record_id": rx["record_id"], "name": "Amoxicillin prescription.pdf"}] for v in views)

    # Views by others, per file: 2 by the doctor; the patient's own is not counted; the unread bill is absent.
    summary = _ok(client.get("/api/audit/patient/views", headers=patient_wallet.headers))
    assert summary["patient"] == patient
    (row,) = summary["records"]
    assert (row["cid"], row["record_id"], row["views"]) == (rx["cid"], rx["record_id"], 2)
    assert row["last_viewed_at"] == views[1]["timestamp"]
    for wallet in (doctor_wallet, registrar_wallet):
        assert client.get("/api/audit/patient/views", headers=wallet.headers).status_code == 403
    assert client.get("/api/audit/patient/views").status_code == 401

    # The registrar sees the same entries, the doctor named, but no record name anywhere.
    page = _ok(client.get("/api/audit/all", params={"page_size": 200}, headers=registrar_wallet.headers))
    mine = [e for e in page["events"] if e["patient"] == patient]
    assert {e["id"] for e in mine} == {e["id"] for e in events}
    assert all(e["record_names"] == [] for e in page["events"])
    assert "Amoxicillin" not in str(page)
    assert [v["reader_name"] for v in mine if v["source"] == "database" and v["reader_role"] == "doctor"] == ["Dr Maria Lopez"] * 2
