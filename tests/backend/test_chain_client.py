"""ChainClient reads against a real Anvil: addresses, registry, records in batches, events."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.request
from collections.abc import Callable

import pytest
from eth_account import Account
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector

from healthledger.chain.client import AUDIT_EVENTS, ChainClient, Grant, predict_vault_address
from healthledger.chain.deployment import Deployment
from healthledger.chain.relayer import Relayer
from healthledger.devstack.anvil import AnvilNode, DevAccount

from .fixtures.chain import DoctorAndPatient, RecordAdder, add_record  # noqa: F401 (fixture)

pytestmark = pytest.mark.asyncio


def sha256(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


async def test_identity_and_registry(
    chain_client: ChainClient, deployment: Deployment, deployer_account: DevAccount, relayer_account: DevAccount
) -> None:
    assert await chain_client.chain_id() == 31337
    assert await chain_client.implementation_address() == deployment.implementation
    assert chain_client.factory_address == deployment.factory
    assert await chain_client.block_number() >= deployment.block_number
    assert await chain_client.has_registrar_role(deployer_account.address)
    assert not await chain_client.has_registrar_role(relayer_account.address)
    assert not await chain_client.is_doctor(relayer_account.address)
    assert await chain_client.balance_of(relayer_account.address) > 0
    assert "factory=" in repr(chain_client)


async def test_vault_address_is_computed_like_the_factory(chain_client: ChainClient, deployment: Deployment) -> None:
    for _ in range(5):
        patient = Account.create().address
        expected = await chain_client.factory.functions.predictVaultAddress(patient).call()
        assert await chain_client.vault_address(patient) == expected
        assert await chain_client.vault_address(patient.lower()) == expected
        assert predict_vault_address(deployment.factory, deployment.implementation, patient) == expected


async def test_absent_clone_reads_as_empty(chain_client: ChainClient) -> None:
    """Before createVault: nonce 0, no records, no grants (the first AddRecord is signed then)."""
    someone, doctor = Account.create().address, Account.create().address
    assert not await chain_client.vault_exists(someone)
    assert await chain_client.nonce_of(someone, someone) == 0
    assert await chain_client.record_count(someone) == 0
    assert await chain_client.get_record(someone, 0) is None
    assert await chain_client.get_records_batch(someone) == []
    assert not await chain_client.can_read(someone, someone, 0)
    assert await chain_client.get_grant(someone, doctor) == Grant(0, 0, False)
    assert (await chain_client.get_approved_records(someone, doctor)).record_ids == ()
    assert await chain_client.get_events(someone) == []


async def test_records_single_and_batched(
    chain_client: ChainClient, add_record: RecordAdder, new_account: Callable[[], LocalAccount]
) -> None:
    patient = new_account()
    hashes = [sha256(f"file {i}".encode()) for i in range(50)]
    kinds = ["prescription", "bill", "report"]
    for i, content_hash in enumerate(hashes):
        result = await add_record(patient, content_hash, kinds[i % 3])
        assert result.record_id == i
    assert await chain_client.vault_exists(patient.address)
    assert await chain_client.record_count(patient.address) == 50
    assert await chain_client.nonce_of(patient.address, patient.address) == 50

    chain_client.batch_size = 16  # force several batches
    records = await chain_client.get_records_batch(patient.address)
    assert [r.record_id for r in records] == list(range(50))
    assert [r.content_hash for r in records] == hashes
    assert [r.kind for r in records] == [i % 3 for i in range(50)]
    assert {r.author for r in records} == {patient.address}
    assert all(r.timestamp > 0 for r in records)
    assert records[4].kind_name == "bill"

    subset = await chain_client.get_records_batch(patient.address, [7, 3, 3, 49, 50, -1])
    assert [r.record_id for r in subset] == [3, 7, 49]
    one = await chain_client.get_record(patient.address, 7)
    assert one == records[7]
    assert await chain_client.get_record(patient.address, 50) is None
    assert await chain_client.can_read(patient.address, patient.address, 49)
    assert not await chain_client.can_read(patient.address, patient.address, 50)


async def test_batch_read_of_1000_records_is_fast(
    anvil: AnvilNode, chain_client: ChainClient, relayer: Relayer, dev_accounts: tuple[DevAccount, ...]
) -> None:
    """The integrity report reads 1,000 records: that must take a few HTTP requests, not 1,000.

    Set-up shortcut: a funded patient (dev account #5, unlocked in Anvil) calls `addRecord`
    directly, all 1,000 transactions in one JSON-RPC batch, mined in a few full blocks.
    """
    patient = dev_accounts[5]
    await relayer.ensure_vault(patient.address)
    clone = await chain_client.vault_address(patient.address)
    start_count = await chain_client.record_count(patient.address)
    nonce = int(anvil.rpc("eth_getTransactionCount", [patient.address, "pending"]), 16)
    selector = function_signature_to_4byte_selector("addRecord(uint8,bytes32)")
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1000)]
    batch = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "eth_sendTransaction",
            "params": [{
                "from": patient.address,
                "to": clone,
                "nonce": hex(nonce + i),
                "gas": hex(150_000),
                "data": "0x" + (selector + abi_encode(["uint8", "bytes32"], [i % 3, h])).hex(),
            }],
        }
        for i, h in enumerate(hashes)
    ]
    anvil.rpc("evm_setAutomine", [False])
    try:
        request = urllib.request.Request(
            anvil.rpc_url, data=json.dumps(batch).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answers = json.loads(response.read())
        assert not [a for a in answers if "error" in a]
        while int(anvil.rpc("txpool_status")["pending"], 16):
            anvil.mine()
    finally:
        anvil.rpc("evm_setAutomine", [True])

    calls = 0
    original = chain_client._w3.provider.make_batch_request

    async def counting(requests):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await original(requests)

    chain_client._w3.provider.make_batch_request = counting  # type: ignore[method-assign]
    started = time.perf_counter()
    records = await chain_client.get_records_batch(patient.address)
    elapsed = time.perf_counter() - started
    assert len(records) == start_count + 1000
    assert [r.content_hash for r in records[start_count:]] == ["0x" + h.hex() for h in hashes]
    assert calls == 2  # 1,000 getRecord calls in batches of 500
    assert elapsed < 5.0, f"reading 1,000 records took {elapsed:.2f} s"
    print(f"get_records_batch: 1000 records in {elapsed * 1000:.0f} ms")


async def test_events_are_decoded_with_block_tx_and_time(
    chain_client: ChainClient, add_record: RecordAdder, doctor_and_patient: DoctorAndPatient
) -> None:
    patient, doctor, relay = doctor_and_patient.patient, doctor_and_patient.doctor, doctor_and_patient.relay
    start_block = await chain_client.block_number()
    added = [await add_record(patient, sha256(bytes([i]))) for i in range(3)]
    clone = await chain_client.vault_address(patient.address)

    requested = await relay(doctor, "requestAccess", nonce=0)
    nonce = await chain_client.nonce_of(patient.address, patient.address)
    approved = await relay(patient, "approveAccess", duration=3600, recordIds=[0, 2], nonce=nonce)

    events = await chain_client.get_events(patient.address, from_block=start_block)
    assert [e.name for e in events] == ["RecordAdded"] * 3 + ["AccessRequested", "AccessApproved"]
    assert [e.tx_hash for e in events] == [r.tx_hash for r in added] + [requested.tx_hash, approved.tx_hash]
    assert [e.block_number for e in events] == [r.block_number for r in added] + [
        requested.block_number,
        approved.block_number,
    ]
    for event in events:
        block = await chain_client._w3.eth.get_block(event.block_number)
        assert event.timestamp == block["timestamp"]
        assert event.contract == clone
    assert events[1].args == {"recordId": 1, "kind": 2, "author": patient.address, "contentHash": sha256(bytes([1]))}
    assert events[3].args == {"doctor": doctor.address}
    grant = await chain_client.get_grant(patient.address, doctor.address)
    assert events[4].args == {"doctor": doctor.address, "expiresAt": grant.expires_at, "recordIds": [0, 2]}

    only = await chain_client.get_events(patient.address, start_block, names=["AccessApproved"])
    assert [e.tx_hash for e in only] == [approved.tx_hash]
    chunked = await chain_client.get_events(patient.address, start_block, max_block_range=2)
    assert chunked == events
    assert await chain_client.get_events(patient.address, approved.block_number + 1) == []
    assert set(AUDIT_EVENTS) >= {e.name for e in events}
    with pytest.raises(ValueError):
        await chain_client.get_events(patient.address, names=["Transfer"])
    assert chain_client.events_from_receipt(approved.receipt)[0].name == "AccessApproved"


async def test_receipts(
    chain_client: ChainClient, add_record: RecordAdder, new_account: Callable[[], LocalAccount]
) -> None:
    patient = new_account()
    result = await add_record(patient, sha256(b"x"))
    receipt = await chain_client.receipt_or_none(result.tx_hash)
    assert receipt is not None and receipt["status"] == 1
    assert chain_client.record_id_from_receipt(patient.address, receipt) == result.record_id
    assert await chain_client.receipt_or_none("0x" + "00" * 32) is None
    with pytest.raises(ValueError):
        chain_client.record_id_from_receipt(Account.create().address, receipt)  # another patient's record


async def test_clients_on_concurrent_requests(chain_client: ChainClient, deployer_account: DevAccount) -> None:
    """One client serves many concurrent requests (one aiohttp session per loop)."""
    results = await asyncio.gather(*(chain_client.has_registrar_role(deployer_account.address) for _ in range(20)))
    assert all(results)


async def test_batched_registry_and_many_trails(
    chain_client: ChainClient,
    add_record: RecordAdder,
    doctor: LocalAccount,
    new_account: Callable[[], LocalAccount],
) -> None:
    """`is_doctor_many` and `get_events_many` answer what the one-at-a-time reads answer."""
    others = [Account.create().address for _ in range(3)]
    assert await chain_client.is_doctor_many([others[0], doctor.address, others[1].lower()]) == [False, True, False]
    assert await chain_client.is_doctor_many([]) == []

    first, second, silent = new_account(), new_account(), new_account()
    await add_record(first, sha256(b"a"))
    await add_record(second, sha256(b"b"))
    await add_record(first, sha256(b"c"))
    many = await chain_client.get_events_many([first.address, second.address, silent.address])
    for patient in (first, second):
        own = await chain_client.get_events(patient.address)
        assert [e for p, e in many if p == patient.address] == own
    assert {p for p, _ in many} == {first.address, second.address}


async def test_an_unreachable_node_is_chain_unavailable() -> None:
    """Transport failures leave the client as ChainUnavailable, never as aiohttp's or web3's errors."""
    from healthledger.chain.client import ChainUnavailable
    from healthledger.devstack.process import free_port

    client = ChainClient(f"http://127.0.0.1:{free_port()}", "0x" + "11" * 20, timeout_seconds=2)
    try:
        for read in (client.chain_id(), client.is_doctor("0x" + "22" * 20), client.get_events("0x" + "33" * 20)):
            with pytest.raises(ChainUnavailable):
                await read
    finally:
        await client.aclose()
