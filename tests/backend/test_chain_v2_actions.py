"""The v2 signed actions through the table (chain/actions.py), relayed to a real Anvil.

approveRecords (ids -> bitmap), write grants, doctor-authored records, nonce invalidation, and the
registry-bound grants, at the relayer/chain-client level.
"""

from __future__ import annotations

from hashlib import sha256 as _sha256

import pytest
from eth_account import Account

from healthledger.chain.actions import record_bitmap
from healthledger.chain.client import ChainClient
from healthledger.chain.relayer import Relayer, TransactionReverted

from .fixtures.chain import DoctorAndPatient, RecordAdder, sign_and_relay

pytestmark = pytest.mark.asyncio


def sha256(data: bytes) -> str:
    return "0x" + _sha256(data).hexdigest()


async def test_approve_records_bitmap_spanning_words(
    chain_client: ChainClient, relayer: Relayer, add_record: RecordAdder, doctor_and_patient: DoctorAndPatient
) -> None:
    """Ids travel as (startWord, words); a selection spanning two words reaches the contract as such."""
    patient, doctor, relay = doctor_and_patient.patient, doctor_and_patient.doctor, doctor_and_patient.relay
    await add_record(patient, sha256(b"first"))
    await relay(doctor, "requestAccess", nonce=0)
    ids = [0]
    start, words = record_bitmap(ids)
    nonce = await chain_client.nonce_of(patient.address, patient.address)
    await relay(patient, "approveRecords", duration=3600, startWord=start, words=words, nonce=nonce)
    assert (await chain_client.get_approved_records(patient.address, doctor.address)).record_ids == (0,)

    # Two more records, then a selection whose bitmap starts at word 0 and spans into word 1 is refused
    # for the id past the record count (the contract's UnknownRecord, with the lowest bad id).
    await add_record(patient, sha256(b"second"))
    start, words = record_bitmap([1, 300])
    assert (start, len(words)) == (0, 2)
    with pytest.raises(TransactionReverted) as info:
        await relay(patient, "approveRecords", duration=60, startWord=start, words=words, nonce=nonce + 2)
    assert info.value.error_name == "UnknownRecord" and info.value.error_args == {"recordId": 300}


async def test_write_grant_doctor_record_and_registry(
    chain_client: ChainClient, relayer: Relayer, registrar_relayer: Relayer, add_record: RecordAdder,
    doctor_and_patient: DoctorAndPatient,
) -> None:
    patient, doctor, relay = doctor_and_patient.patient, doctor_and_patient.doctor, doctor_and_patient.relay
    await add_record(patient, sha256(b"own"))
    assert await chain_client.get_write_grant(patient.address, doctor.address) == 0

    # Without a write grant the doctor's signed record is refused before anything is sent.
    message = {"kind": "prescription", "contentHash": sha256(b"rx"), "nonce": 0, "deadline": doctor_and_patient.deadline}
    with pytest.raises(TransactionReverted) as info:
        await sign_and_relay(chain_client, relayer, "addRecordAsDoctor", patient.address, doctor.key,
                             doctor=doctor.address, **message)
    assert info.value.error_name == "NoWriteGrant"

    approved = await relay(patient, "approveWrite", duration=3600, nonce=1)
    expires = await chain_client.get_write_grant(patient.address, doctor.address)
    block_time = (await chain_client._w3.eth.get_block(approved.block_number))["timestamp"]
    assert expires == block_time + 3600
    assert await chain_client.write_grants_many([(patient.address, doctor.address)]) == [expires]

    # The doctor's record: the author is the doctor, in getRecord and in RecordAdded.
    added = await sign_and_relay(chain_client, relayer, "addRecordAsDoctor", patient.address, doctor.key,
                                 doctor=doctor.address, **message)
    (event,) = [e for e in chain_client.events_from_receipt(added.receipt) if e.name == "RecordAdded"]
    assert event.args["author"] == doctor.address and event.args["recordId"] == 1
    record = await chain_client.get_record(patient.address, 1)
    assert record is not None and record.author == doctor.address and record.kind_name == "prescription"
    records = await chain_client.get_records_batch(patient.address)
    assert [r.author for r in records] == [patient.address, doctor.address]

    # The doctor's WriteApproved is found across vaults and its emitter is a real vault.
    emitters = await chain_client.emitters_of("WriteApproved", doctor.address)
    assert await chain_client.patients_of_vaults(emitters) == {
        await chain_client.vault_address(patient.address): patient.address
    }

    # Unregistered: the grant is dead; registered again: it stays dead (registry-bound).
    await registrar_relayer.unregister_doctor(doctor.address)
    assert await chain_client.get_write_grant(patient.address, doctor.address) == 0
    await registrar_relayer.register_doctor(doctor.address)
    assert await chain_client.get_write_grant(patient.address, doctor.address) == 0

    # A new grant for the new registration works; revoking ends it; revoking again is refused.
    await relay(patient, "approveWrite", duration=600, nonce=2)
    assert await chain_client.get_write_grant(patient.address, doctor.address) > 0
    await relay(patient, "revokeWrite", nonce=3)
    assert await chain_client.get_write_grant(patient.address, doctor.address) == 0
    with pytest.raises(TransactionReverted) as info:
        await relay(patient, "revokeWrite", nonce=4)
    assert info.value.error_name == "NoWriteGrant"


async def test_invalidate_nonce_makes_a_prepared_signature_unusable(
    chain_client: ChainClient, relayer: Relayer, add_record: RecordAdder, doctor_and_patient: DoctorAndPatient
) -> None:
    patient, doctor, relay = doctor_and_patient.patient, doctor_and_patient.doctor, doctor_and_patient.relay
    await add_record(patient, sha256(b"x"))
    # Doctor: invalidates its nonce 0 by signature; a requestAccess signed with nonce 0 is then refused.
    await sign_and_relay(chain_client, relayer, "invalidateNonce", patient.address, doctor.key,
                         account=doctor.address, nonce=0, deadline=doctor_and_patient.deadline)
    assert await chain_client.nonce_of(patient.address, doctor.address) == 1
    with pytest.raises(TransactionReverted) as info:
        await relay(doctor, "requestAccess", nonce=0)
    assert info.value.error_name == "InvalidAccountNonce"
    # Patient: the same, for its own next nonce.
    nonce = await chain_client.nonce_of(patient.address, patient.address)
    await sign_and_relay(chain_client, relayer, "invalidateNonce", patient.address, patient.key,
                         account=patient.address, nonce=nonce, deadline=doctor_and_patient.deadline)
    with pytest.raises(TransactionReverted) as info:
        await relay(patient, "approveWrite", duration=60, nonce=nonce)
    assert info.value.error_name == "InvalidAccountNonce"
    # Someone else's signature for the patient's account is refused.
    stranger = Account.create()
    with pytest.raises(TransactionReverted) as info:
        await sign_and_relay(chain_client, relayer, "invalidateNonce", patient.address, stranger.key,
                             account=patient.address, nonce=nonce + 1, deadline=doctor_and_patient.deadline)
    assert info.value.error_name == "InvalidSignature"
    names = [e.name for e in await chain_client.get_events(patient.address, names=["NonceInvalidated"])]
    assert names == ["NonceInvalidated", "NonceInvalidated"]
