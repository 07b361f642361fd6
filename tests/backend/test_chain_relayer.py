"""Relayer against a real Anvil: typed data signed by wallets' keys, relayed, checked on chain."""

from __future__ import annotations

import asyncio
import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from healthledger.chain import typed_data as td
from healthledger.chain.client import ChainClient
from healthledger.chain.relayer import (
    Relayer,
    TransactionReverted,
    TransactionTimeout,
    decode_revert_data,
)
from healthledger.devstack.anvil import AnvilNode, DevAccount

from .fixtures.chain import DoctorAndPatient, RecordAdder, add_record, sign_typed_data  # noqa: F401 (fixture)

pytestmark = pytest.mark.asyncio


def sha256(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


class Ctx:
    """chain id, clone address and a deadline for one patient, to build payloads tersely."""

    def __init__(self, chain_id: int, clone: str, deadline: int) -> None:
        self.chain_id = chain_id
        self.clone = clone
        self.deadline = deadline

    def payload(self, action: str, **message: Any) -> dict[str, Any]:
        """`action`'s payload on this clone; the deadline is filled in."""
        return td.build_payload(action, self.chain_id, self.clone, {"deadline": self.deadline, **message})


async def ctx_for(chain: ChainClient, anvil: AnvilNode, patient: str) -> Ctx:
    return Ctx(await chain.chain_id(), await chain.vault_address(patient), anvil.latest_timestamp() + 3600)


@dataclass(frozen=True)
class SignedAddRecord:
    """An AddRecord at nonce 0, signed by the patient, not sent yet."""

    ctx: Ctx
    content_hash: str
    payload: dict[str, Any]
    signature: bytes

    @property
    def message(self) -> dict[str, Any]:
        return self.payload["message"]


async def signed_add_record(
    chain: ChainClient, anvil: AnvilNode, patient: LocalAccount, content: bytes, kind: int | str
) -> SignedAddRecord:
    """The patient's first AddRecord of sha256(`content`), signed (whether or not the clone exists)."""
    ctx = await ctx_for(chain, anvil, patient.address)
    content_hash = sha256(content)
    payload = ctx.payload("addRecord", kind=kind, contentHash=content_hash, nonce=0)
    return SignedAddRecord(ctx, content_hash, payload, sign_typed_data(patient.key, payload))


async def test_first_record_of_a_new_patient(
    anvil: AnvilNode, chain_client: ChainClient, relayer: Relayer, new_account: Callable[[], LocalAccount]
) -> None:
    """The patient signs before their clone exists (predicted address, nonce 0); the relayer then
    creates the clone and relays the signature."""
    patient = new_account()
    assert not await chain_client.vault_exists(patient.address)
    signed = await signed_add_record(chain_client, anvil, patient, b"prescription.pdf", "prescription")
    assert td.verify(signed.payload, signed.signature, patient.address)

    created = await relayer.create_vault(patient.address)
    assert created.receipt["status"] == 1
    assert await chain_client.vault_exists(patient.address)
    result = await relayer.relay_signed("addRecord", patient.address, signed.message, signed.signature)
    assert chain_client.record_id_from_receipt(patient.address, result.receipt) == 0 and result.gas_used > 0
    record = await chain_client.get_record(patient.address, 0)
    assert record is not None
    assert (record.kind, record.content_hash, record.author) == (0, signed.content_hash, patient.address)
    assert await chain_client.nonce_of(patient.address, patient.address) == 1

    # A second createVault is refused before anything is sent; ensure_vault tolerates it.
    with pytest.raises(TransactionReverted) as info:
        await relayer.create_vault(patient.address)
    assert info.value.error_name == "VaultAlreadyExists" and info.value.tx_hash is None
    assert info.value.error_args["patient"] == patient.address
    assert await relayer.ensure_vault(patient.address) == signed.ctx.clone


async def test_send_then_wait(
    anvil: AnvilNode, chain_client: ChainClient, relayer: Relayer, patient: LocalAccount
) -> None:
    """The upload pipeline's split: record the hash first, then wait for the receipt."""
    signed = await signed_add_record(chain_client, anvil, patient, b"bill", 1)
    call = await relayer.prepare_signed("addRecord", patient.address, signed.message, "0x" + signed.signature.hex())
    tx_hash = (await relayer.send(call)).tx_hash
    assert tx_hash.startswith("0x") and len(tx_hash) == 66
    receipt = await relayer.wait_for_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    assert chain_client.record_id_from_receipt(patient.address, receipt) == 0
    with pytest.raises(TransactionTimeout) as info:
        await relayer.wait_for_receipt("0x" + "11" * 32, timeout=0.3)
    assert info.value.tx_hash == "0x" + "11" * 32


async def test_approve_revoke_and_request_access(
    chain_client: ChainClient, add_record: RecordAdder, doctor_and_patient: DoctorAndPatient
) -> None:
    patient, doctor, relay = doctor_and_patient.patient, doctor_and_patient.doctor, doctor_and_patient.relay
    for i in range(3):
        await add_record(patient, sha256(bytes([i])))

    # The doctor asks (their own nonce in this clone, starting at 0).
    assert await chain_client.nonce_of(patient.address, doctor.address) == 0
    await relay(doctor, "requestAccess", nonce=0)
    assert (await chain_client.get_grant(patient.address, doctor.address)).request_pending
    assert await chain_client.nonce_of(patient.address, doctor.address) == 1

    # The patient approves records 0 and 2 for an hour.
    nonce = await chain_client.nonce_of(patient.address, patient.address)
    approved = await relay(patient, "approveAccess", duration=3600, recordIds=[0, 2], nonce=nonce)
    grant = await chain_client.get_grant(patient.address, doctor.address)
    block_time = (await chain_client._w3.eth.get_block(approved.block_number))["timestamp"]
    assert grant.expires_at == block_time + 3600 and not grant.request_pending
    assert grant.is_active(block_time)
    assert [await chain_client.can_read(patient.address, doctor.address, i) for i in range(3)] == [True, False, True]
    shared = await chain_client.get_approved_records(patient.address, doctor.address)
    assert shared.record_ids == (0, 2)
    assert shared.content_hashes == (sha256(bytes([0])), sha256(bytes([2])))
    assert shared.expires_at == grant.expires_at

    # Withdraw record 2 only, then everything.
    nonce += 1
    await relay(patient, "revokeRecords", recordIds=[2], nonce=nonce)
    assert (await chain_client.get_approved_records(patient.address, doctor.address)).record_ids == (0,)
    nonce += 1
    await relay(patient, "revokeAccess", nonce=nonce)
    assert not await chain_client.can_read(patient.address, doctor.address, 0)
    assert (await chain_client.get_grant(patient.address, doctor.address)).expires_at == 0
    assert (await chain_client.get_approved_records(patient.address, doctor.address)).record_ids == ()


async def test_deny_and_extension_with_time_travel(
    chain_snapshot: AnvilNode, chain_client: ChainClient, add_record: RecordAdder, doctor_and_patient: DoctorAndPatient
) -> None:
    anvil = chain_snapshot
    patient, doctor, relay = doctor_and_patient.patient, doctor_and_patient.doctor, doctor_and_patient.relay
    await add_record(patient, sha256(b"report"))

    await relay(doctor, "requestAccess", nonce=0)
    await relay(patient, "denyAccess", nonce=1)
    assert not (await chain_client.get_grant(patient.address, doctor.address)).request_pending

    await relay(patient, "approveAccess", duration=600, recordIds=[0], nonce=2)
    expires = (await chain_client.get_grant(patient.address, doctor.address)).expires_at
    await relay(doctor, "requestExtension", extra=900, nonce=1)
    assert (await chain_client.get_grant(patient.address, doctor.address)).pending_extension == 900
    # A patient who signed a different extension than the one pending is refused.
    generation = (await chain_client.get_grant(patient.address, doctor.address)).generation
    with pytest.raises(TransactionReverted) as info:
        await relay(patient, "approveExtension", extra=60, generation=generation, nonce=3)
    assert info.value.error_name == "ExtensionMismatch"
    assert info.value.error_args == {"pending": 900, "signed": 60}
    # A signature made for an earlier grant (generation) cannot extend this one.
    with pytest.raises(TransactionReverted) as info:
        await relay(patient, "approveExtension", extra=900, generation=generation - 1, nonce=3)
    assert info.value.error_name == "GrantChanged"
    assert info.value.error_args == {"current": generation, "signed": generation - 1}
    await relay(patient, "approveExtension", extra=900, generation=generation, nonce=3)
    assert (await chain_client.get_grant(patient.address, doctor.address)).expires_at == expires + 900

    # After expiry the doctor reads nothing, and a signature past its deadline is refused.
    anvil.advance(600 + 900 + 1)
    assert not await chain_client.can_read(patient.address, doctor.address, 0)
    assert (await chain_client.get_approved_records(patient.address, doctor.address)).record_ids == ()
    anvil.advance(3600)
    with pytest.raises(TransactionReverted) as info:
        await relay(patient, "revokeAccess", nonce=4)
    assert info.value.error_name == "SignatureExpired"


async def test_wrong_signature_is_invalid_signature(
    anvil: AnvilNode, chain_client: ChainClient, relayer: Relayer, patient: LocalAccount
) -> None:
    signed = await signed_add_record(chain_client, anvil, patient, b"forged", 2)
    mallory = Account.create()
    forged = sign_typed_data(mallory.key, signed.payload)
    assert not td.verify(signed.payload, forged, patient.address)  # caught before sending by the API...
    with pytest.raises(TransactionReverted) as info:  # ...and by the chain if relayed anyway
        await relayer.relay_signed("addRecord", patient.address, signed.message, forged)
    assert info.value.error_name == "InvalidSignature" and info.value.tx_hash is None
    assert "InvalidSignature" in str(info.value)
    # Signed for another hash than the one relayed: also InvalidSignature.
    with pytest.raises(TransactionReverted) as info:
        await relayer.relay_signed(
            "addRecord", patient.address, {**signed.message, "contentHash": sha256(b"other")}, signed.signature
        )
    assert info.value.error_name == "InvalidSignature"
    assert await chain_client.record_count(patient.address) == 0


async def test_replayed_nonce_is_invalid_account_nonce(
    anvil: AnvilNode, chain_client: ChainClient, relayer: Relayer, patient: LocalAccount
) -> None:
    signed = await signed_add_record(chain_client, anvil, patient, b"once", 0)
    await relayer.relay_signed("addRecord", patient.address, signed.message, signed.signature)
    with pytest.raises(TransactionReverted) as info:
        await relayer.relay_signed("addRecord", patient.address, signed.message, signed.signature)
    assert info.value.error_name == "InvalidAccountNonce"
    assert info.value.error_args == {"account": patient.address, "currentNonce": 1}
    assert await chain_client.record_count(patient.address) == 1


async def test_mined_failure_is_reported_with_its_reason(
    anvil: AnvilNode,
    chain_client: ChainClient,
    relayer: Relayer,
    patient: LocalAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transaction that passed estimation but failed once mined (here: the same signature sent
    twice in one block) raises TransactionReverted with the decoded reason and the tx hash."""
    signed = await signed_add_record(chain_client, anvil, patient, b"twice", 0)
    anvil.rpc("evm_setAutomine", [False])
    try:
        first = (await relayer.send(await relayer.prepare_signed("addRecord", patient.address, signed.message, signed.signature))).tx_hash
        second = (await relayer.send(await relayer.prepare_signed("addRecord", patient.address, signed.message, signed.signature))).tx_hash
        anvil.mine()
    finally:
        anvil.rpc("evm_setAutomine", [True])
    assert (await relayer.wait_for_receipt(first, 10))["status"] == 1
    receipt = await relayer.wait_for_receipt(second, 10)
    assert receipt["status"] == 0
    with pytest.raises(TransactionReverted) as info:
        await relayer.require_success(second, receipt, "addRecordBySig")
    assert info.value.tx_hash == second
    assert info.value.receipt is receipt
    assert info.value.error_name == "InvalidAccountNonce"  # from Anvil's debug_traceTransaction
    assert "InvalidAccountNonce" in str(info.value) and second in str(info.value)

    # Without debug_traceTransaction (many hosted nodes) the call is replayed on the parent block,
    # where it would have passed: the failure is still reported, with no name.
    async def no_trace(self: Relayer, tx_hash: str) -> tuple[None, None]:
        return None, None

    monkeypatch.setattr(Relayer, "_trace_revert", no_trace)
    with pytest.raises(TransactionReverted) as info:
        await relayer.require_success(second, receipt, "addRecordBySig")
    assert info.value.error_name is None and "succeeds when replayed" in str(info.value)


async def test_concurrent_sends_all_land(
    anvil: AnvilNode, chain_client: ChainClient, relayer: Relayer, new_account: Callable[[], LocalAccount]
) -> None:
    """Five requests at once: one nonce each, no gaps, no reuse."""
    patients = [new_account() for _ in range(5)]
    start_nonce = await chain_client._w3.eth.get_transaction_count(relayer.address, "pending")
    hashes = await asyncio.gather(*(relayer.send_call(chain_client.factory, "createVault", p.address) for p in patients))
    receipts = await asyncio.gather(*(relayer.wait_for_receipt(h, 10) for h in hashes))
    assert all(r["status"] == 1 for r in receipts)
    nonces = sorted([(await chain_client._w3.eth.get_transaction(h))["nonce"] for h in hashes])
    assert nonces == list(range(start_nonce, start_nonce + 5))
    assert all([await chain_client.vault_exists(p.address) for p in patients])

    # Then signed records for all five at once, through the high-level method.
    async def add(patient: LocalAccount, i: int) -> int:
        signed = await signed_add_record(chain_client, anvil, patient, bytes([i]), i % 3)
        result = await relayer.relay_signed("addRecord", patient.address, signed.message, signed.signature)
        return chain_client.record_id_from_receipt(patient.address, result.receipt)

    assert await asyncio.gather(*(add(p, i) for i, p in enumerate(patients))) == [0] * 5


async def test_concurrent_relayers_share_no_state_but_recover(
    chain_client: ChainClient, relayer_account: DevAccount, new_account: Callable[[], LocalAccount]
) -> None:
    """A second Relayer on the same key (another worker) sends in between: the next send still
    picks a valid nonce, since the node's pending count is consulted every time."""
    first = Relayer(chain_client, relayer_account.private_key)
    second = Relayer(chain_client, relayer_account.private_key)
    await first.create_vault(new_account().address)
    await second.create_vault(new_account().address)
    await first.create_vault(new_account().address)


async def test_registrar_actions(
    chain_client: ChainClient, relayer: Relayer, registrar_relayer: Relayer, new_account: Callable[[], LocalAccount]
) -> None:
    someone = new_account().address
    with pytest.raises(TransactionReverted) as info:  # the relayer holds no REGISTRAR_ROLE
        await relayer.register_doctor(someone)
    assert info.value.error_name == "AccessControlUnauthorizedAccount"
    assert info.value.error_args["account"] == relayer.address
    await registrar_relayer.register_doctor(someone)
    assert await chain_client.is_doctor(someone)
    with pytest.raises(TransactionReverted) as info:
        await registrar_relayer.register_doctor(someone)
    assert info.value.error_name == "DoctorAlreadyRegistered"
    await registrar_relayer.unregister_doctor(someone)
    assert not await chain_client.is_doctor(someone)


async def test_unregistered_doctor_cannot_request(
    anvil: AnvilNode, chain_client: ChainClient, relayer: Relayer, patient: LocalAccount
) -> None:
    stranger = Account.create()
    ctx = await ctx_for(chain_client, anvil, patient.address)
    payload = ctx.payload("requestAccess", doctor=stranger.address, nonce=0)
    with pytest.raises(TransactionReverted) as info:
        await relayer.relay_signed(
            "requestAccess", patient.address, payload["message"], sign_typed_data(stranger.key, payload)
        )
    assert info.value.error_name == "NotRegisteredDoctor"


async def test_key_never_shown(chain_client: ChainClient, relayer_account: DevAccount) -> None:
    relayer = Relayer(chain_client, relayer_account.private_key)
    key_hex = relayer_account.private_key.removeprefix("0x")
    for text in (repr(relayer), str(relayer), f"{relayer!r}"):
        assert key_hex not in text.lower() and relayer.address in text
    with pytest.raises(TypeError):
        pickle.dumps(relayer)
    with pytest.raises(ValueError) as info:
        Relayer(chain_client, "0x1234")
    assert "1234" not in str(info.value)
    with pytest.raises(ValueError):
        Relayer(chain_client, "")
    assert await relayer.balance() > 0


async def test_decode_revert_data() -> None:
    assert decode_revert_data("0xd92e233d").name == "ZeroAddress"  # type: ignore[union-attr]
    word = lambda n: n.to_bytes(32, "big").hex()  # noqa: E731
    error = decode_revert_data("0x08c379a0" + word(32) + word(2) + b"no".hex().ljust(64, "0"))
    assert error is not None and error.name == "Error" and error.args == {"message": "no"}
    panic = decode_revert_data("0x4e487b71" + (0x11).to_bytes(32, "big").hex())
    assert panic is not None and str(panic) == "Panic(code=17)"
    assert decode_revert_data("0x") is None
    assert decode_revert_data(None) is None
    assert decode_revert_data("0xdeadbeef") is None
