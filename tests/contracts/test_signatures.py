"""EIP-712 `...BySig` variants: every action signed by the right party and submitted by a relayer.

Signatures are made off chain with eth-account from Anvil's dev keys (tests/contracts/eip712.py).
The contract checks the deadline first, then consumes the signer's nonce (OZ Nonces), then verifies
the signature: so a replay fails with InvalidAccountNonce, a late one with SignatureExpired, and
every other forgery (wrong key, chain, contract or arguments) with InvalidSignature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes

from . import eip712
from .conftest import DAY, HASH_B
from .helpers import head_time, next_block_at, one_event, reverts_with, warp_to

PATIENT_INDEX, DOCTOR_INDEX, STRANGER_INDEX, PATIENT2_INDEX = 1, 2, 6, 5
NEW_HASH = bytes.fromhex("44" * 32)
PATIENT_ADDRESS = Account.from_key(eip712.dev_private_key(PATIENT_INDEX)).address


@pytest.fixture(scope="session")
def keys():
    return {i: eip712.dev_private_key(i) for i in (PATIENT_INDEX, DOCTOR_INDEX, 3, STRANGER_INDEX, PATIENT2_INDEX)}


def test_dev_keys_match_ape_accounts(accounts, keys):
    for index, key in keys.items():
        assert Account.from_key(key).address == accounts[index].address


@dataclass(frozen=True)
class Action:
    """One `...BySig` function: who signs, how to prepare, what to sign, how to submit, what it did."""

    name: str
    signer: str  # "patient" | "doctor"
    prepare: Callable[[Any, Any, Any], None]  # (record, patient, doctor)
    build: Callable[..., dict]  # (doctor, nonce, deadline, **domain) -> typed data
    submit: Callable[..., Any]  # (record, doctor, nonce, deadline, signature, sender) -> receipt
    event: str
    check: Callable[[Any, Any, Any], None]  # (record, doctor, receipt)


def _grant(vault, patient, doctor):
    vault.approveAccess(doctor, DAY, [0, 1, 2], sender=patient)


def _check_add(vault, doctor, receipt):
    event = one_event(receipt, vault, "RecordAdded")
    assert (event["recordId"], event["kind"]) == (3, 2)
    assert event["author"] == vault.patient()  # the patient, not the relayer
    assert HexBytes(vault.getRecord(3)[1]) == HexBytes(NEW_HASH)


def _check_approve(vault, doctor, receipt):
    assert [i for i in range(3) if vault.canRead(doctor, i)] == [0, 2]


def _check_revoke_records(vault, doctor, receipt):
    assert [i for i in range(3) if vault.canRead(doctor, i)] == [0, 2]


def _check_denied(vault, doctor, receipt):
    assert tuple(vault.getGrant(doctor))[:3] == (0, 0, False)


def _check_revoked(vault, doctor, receipt):
    assert not any(vault.canRead(doctor, i) for i in range(3))
    assert vault.getGrant(doctor)[0] == 0


def _check_extended(vault, doctor, receipt):
    expires_at, pending, *_ = vault.getGrant(doctor)
    assert pending == 0
    assert one_event(receipt, vault, "ExtensionApproved")["expiresAt"] == expires_at


def _check_requested(vault, doctor, receipt):
    assert vault.getGrant(doctor)[2] is True


def _check_extension_requested(vault, doctor, receipt):
    assert vault.getGrant(doctor)[1] == 900


def _check_records_approved(vault, doctor, receipt):
    event = one_event(receipt, vault, "RecordsApproved")
    assert (event["startWord"], list(event["words"])) == (0, [0b101])
    assert [i for i in range(3) if vault.canRead(doctor, i)] == [0, 2]


def _check_write_approved(vault, doctor, receipt):
    assert vault.canWrite(doctor)
    assert vault.getWriteGrant(doctor) == one_event(receipt, vault, "WriteApproved")["expiresAt"]


def _check_write_revoked(vault, doctor, receipt):
    assert not vault.canWrite(doctor)
    assert vault.getWriteGrant(doctor) == 0


def _check_added_by_doctor(vault, doctor, receipt):
    event = one_event(receipt, vault, "RecordAdded")
    assert (event["recordId"], event["kind"], event["author"]) == (3, 1, doctor.address)  # the doctor, not the relayer
    assert vault.getRecord(3)[3] == doctor.address


def _check_invalidated(account: str):
    def check(vault, doctor, receipt):
        expected = doctor.address if account == "doctor" else vault.patient()
        event = one_event(receipt, vault, "NonceInvalidated")
        assert event["account"] == expected
        assert vault.nonces(expected) == event["nonce"] + 1

    return check


def _approve_write(vault, patient, doctor):
    vault.approveWrite(doctor, DAY, sender=patient)


ACTIONS = [
    Action(
        "addRecordBySig",
        "patient",
        lambda r, p, d: None,
        lambda doctor, nonce, deadline, **dom: eip712.add_record(2, NEW_HASH, nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.addRecordBySig(2, NEW_HASH, nonce, deadline, sig, sender=sender),
        "RecordAdded",
        _check_add,
    ),
    Action(
        "approveAccessBySig",
        "patient",
        lambda r, p, d: None,
        lambda doctor, nonce, deadline, **dom: eip712.approve_access(doctor, DAY, [0, 2], nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.approveAccessBySig(
            doctor, DAY, [0, 2], nonce, deadline, sig, sender=sender
        ),
        "AccessApproved",
        _check_approve,
    ),
    Action(
        "denyAccessBySig",
        "patient",
        lambda r, p, d: r.requestAccess(sender=d),
        eip712.deny_access,
        lambda r, doctor, nonce, deadline, sig, sender: r.denyAccessBySig(doctor, nonce, deadline, sig, sender=sender),
        "AccessDenied",
        _check_denied,
    ),
    Action(
        "revokeAccessBySig",
        "patient",
        _grant,
        eip712.revoke_access,
        lambda r, doctor, nonce, deadline, sig, sender: r.revokeAccessBySig(doctor, nonce, deadline, sig, sender=sender),
        "AccessRevoked",
        _check_revoked,
    ),
    Action(
        "revokeRecordsBySig",
        "patient",
        _grant,
        lambda doctor, nonce, deadline, **dom: eip712.revoke_records(doctor, [1], nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.revokeRecordsBySig(doctor, [1], nonce, deadline, sig, sender=sender),
        "RecordsRevoked",
        _check_revoke_records,
    ),
    Action(
        "approveExtensionBySig",
        "patient",
        lambda r, p, d: (_grant(r, p, d), r.requestExtension(500, sender=d)),
        # generation 1: the grant made by `_grant`, the vault's first
        lambda doctor, nonce, deadline, **dom: eip712.approve_extension(doctor, 500, 1, nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.approveExtensionBySig(
            doctor, 500, 1, nonce, deadline, sig, sender=sender
        ),
        "ExtensionApproved",
        _check_extended,
    ),
    Action(
        "requestAccessBySig",
        "doctor",
        lambda r, p, d: None,
        eip712.request_access,
        lambda r, doctor, nonce, deadline, sig, sender: r.requestAccessBySig(doctor, nonce, deadline, sig, sender=sender),
        "AccessRequested",
        _check_requested,
    ),
    Action(
        "requestExtensionBySig",
        "doctor",
        _grant,
        lambda doctor, nonce, deadline, **dom: eip712.request_extension(doctor, 900, nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.requestExtensionBySig(
            doctor, 900, nonce, deadline, sig, sender=sender
        ),
        "ExtensionRequested",
        _check_extension_requested,
    ),
    # v2
    Action(
        "approveRecordsBySig",
        "patient",
        lambda r, p, d: None,
        lambda doctor, nonce, deadline, **dom: eip712.approve_records(doctor, DAY, 0, [0b101], nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.approveRecordsBySig(
            doctor, DAY, 0, [0b101], nonce, deadline, sig, sender=sender
        ),
        "RecordsApproved",
        _check_records_approved,
    ),
    Action(
        "approveWriteBySig",
        "patient",
        lambda r, p, d: None,
        lambda doctor, nonce, deadline, **dom: eip712.approve_write(doctor, DAY, nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.approveWriteBySig(doctor, DAY, nonce, deadline, sig, sender=sender),
        "WriteApproved",
        _check_write_approved,
    ),
    Action(
        "revokeWriteBySig",
        "patient",
        _approve_write,
        eip712.revoke_write,
        lambda r, doctor, nonce, deadline, sig, sender: r.revokeWriteBySig(doctor, nonce, deadline, sig, sender=sender),
        "WriteRevoked",
        _check_write_revoked,
    ),
    Action(
        "addRecordAsDoctorBySig",
        "doctor",
        _approve_write,
        lambda doctor, nonce, deadline, **dom: eip712.add_record_as_doctor(doctor, 1, NEW_HASH, nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.addRecordAsDoctorBySig(
            doctor, 1, NEW_HASH, nonce, deadline, sig, sender=sender
        ),
        "RecordAdded",
        _check_added_by_doctor,
    ),
    Action(
        "invalidateNonceBySig[patient]",
        "patient",
        lambda r, p, d: None,
        lambda doctor, nonce, deadline, **dom: eip712.invalidate_nonce(PATIENT_ADDRESS, nonce, deadline, **dom),
        lambda r, doctor, nonce, deadline, sig, sender: r.invalidateNonceBySig(
            PATIENT_ADDRESS, nonce, deadline, sig, sender=sender
        ),
        "NonceInvalidated",
        _check_invalidated("patient"),
    ),
    Action(
        "invalidateNonceBySig[doctor]",
        "doctor",
        lambda r, p, d: None,
        eip712.invalidate_nonce,
        lambda r, doctor, nonce, deadline, sig, sender: r.invalidateNonceBySig(doctor, nonce, deadline, sig, sender=sender),
        "NonceInvalidated",
        _check_invalidated("doctor"),
    ),
]


@pytest.fixture(params=ACTIONS, ids=[a.name for a in ACTIONS])
def action(request):
    return request.param


@pytest.fixture
def ctx(action, seeded, patient, doctor, keys, chain_id):
    """Prepared state plus the signer's account, key and current nonce for `action`."""
    action.prepare(seeded, patient, doctor)
    signer = patient if action.signer == "patient" else doctor
    key = keys[PATIENT_INDEX if action.signer == "patient" else DOCTOR_INDEX]
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    return {"vault": seeded, "signer": signer, "key": key, "nonce": seeded.nonces(signer), "dom": dom}


def _sign(action, ctx, doctor, *, key=None, nonce=None, deadline=None, **dom_overrides):
    nonce = ctx["nonce"] if nonce is None else nonce
    deadline = head_time() + 3600 if deadline is None else deadline
    dom = {**ctx["dom"], **dom_overrides}
    payload = action.build(doctor.address, nonce, deadline, **dom)
    return nonce, deadline, eip712.sign(key or ctx["key"], payload)


# ------------------------------------------------------------------ per action


def test_valid_signature_relayed_once(action, ctx, doctor, relayer):
    vault, signer = ctx["vault"], ctx["signer"]
    # A nonce from the future is refused and consumes nothing.
    nonce, deadline, early = _sign(action, ctx, doctor, nonce=ctx["nonce"] + 1)
    with reverts_with(vault.InvalidAccountNonce, account=signer.address, currentNonce=ctx["nonce"]):
        action.submit(vault, doctor.address, nonce, deadline, early, relayer)

    nonce, deadline, sig = _sign(action, ctx, doctor)
    receipt = action.submit(vault, doctor.address, nonce, deadline, sig, relayer)
    assert receipt.sender == relayer.address
    one_event(receipt, vault, action.event)
    action.check(vault, doctor, receipt)
    assert vault.nonces(signer) == nonce + 1

    # Replaying the same signature fails on the nonce.
    with reverts_with(vault.InvalidAccountNonce, account=signer.address, currentNonce=nonce + 1):
        action.submit(vault, doctor.address, nonce, deadline, sig, relayer)
    assert vault.nonces(signer) == nonce + 1


def test_expired_deadline(action, ctx, doctor, relayer):
    vault, signer = ctx["vault"], ctx["signer"]
    nonce, late, late_sig = _sign(action, ctx, doctor, deadline=head_time() + 100)
    next_block_at(late + 1)
    with reverts_with(vault.SignatureExpired, deadline=late):
        action.submit(vault, doctor.address, nonce, late, late_sig, relayer)
    assert vault.nonces(signer) == nonce  # nothing consumed

    # The deadline itself is still in time.
    nonce, deadline, sig = _sign(action, ctx, doctor, deadline=late + 50)
    next_block_at(deadline)
    receipt = action.submit(vault, doctor.address, nonce, deadline, sig, relayer)
    one_event(receipt, vault, action.event)
    assert vault.nonces(signer) == nonce + 1


def test_forged_signatures(action, ctx, doctor, relayer, keys, factory):
    """Wrong key; right key but another chain (Sepolia's id); right key but another contract."""
    vault, signer = ctx["vault"], ctx["signer"]
    forgeries = {
        "wrong signer": _sign(action, ctx, doctor, key=keys[STRANGER_INDEX]),
        "wrong chain id": _sign(action, ctx, doctor, chain_id=11155111),
        "wrong verifying contract": _sign(action, ctx, doctor, verifying_contract=factory.implementation()),
    }
    for what, (nonce, deadline, sig) in forgeries.items():
        with reverts_with(vault.InvalidSignature):
            action.submit(vault, doctor.address, nonce, deadline, sig, relayer)
        assert vault.nonces(signer) == nonce, what


@pytest.mark.parametrize("action", [ACTIONS[0], ACTIONS[6]], ids=["patient", "doctor"])
def test_garbage_signature(action, ctx, doctor, relayer):
    vault = ctx["vault"]
    nonce, deadline, sig = _sign(action, ctx, doctor)
    chain_id_1 = _sign(action, ctx, doctor, chain_id=1)[2]
    for bad in (b"", sig[:64], b"\x00" * 65, sig[:64] + b"\x1d", chain_id_1):
        with reverts_with(vault.InvalidSignature):
            action.submit(vault, doctor.address, nonce, deadline, bad, relayer)
    # the real signature still works afterwards
    action.submit(vault, doctor.address, nonce, deadline, sig, relayer)
    assert vault.nonces(ctx["signer"]) == nonce + 1


# ------------------------------------------------------------------ tampering with signed arguments


def test_tampered_arguments_are_rejected(seeded, patient, doctor, doctor2, relayer, keys, chain_id):
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    key = keys[PATIENT_INDEX]
    deadline = head_time() + 3600

    sig = eip712.sign(key, eip712.add_record(2, NEW_HASH, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordBySig(2, HASH_B, 0, deadline, sig, sender=relayer)  # other hash
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordBySig(1, NEW_HASH, 0, deadline, sig, sender=relayer)  # other kind
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordBySig(2, NEW_HASH, 0, deadline + 1, sig, sender=relayer)  # other deadline

    sig = eip712.sign(key, eip712.approve_access(doctor.address, DAY, [0], 0, deadline, **dom))
    for doc, duration, ids in ((doctor2, DAY, [0]), (doctor, DAY + 1, [0]), (doctor, DAY, [0, 1]), (doctor, DAY, [1])):
        with reverts_with(seeded.InvalidSignature):
            seeded.approveAccessBySig(doc, duration, ids, 0, deadline, sig, sender=relayer)
    seeded.approveAccessBySig(doctor, DAY, [0], 0, deadline, sig, sender=relayer)

    sig = eip712.sign(key, eip712.revoke_records(doctor.address, [0], 1, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):
        seeded.revokeRecordsBySig(doctor, [0, 1], 1, deadline, sig, sender=relayer)

    # A doctor's request signature names the doctor; it cannot be replayed for another doctor.
    dsig = eip712.sign(keys[DOCTOR_INDEX], eip712.request_access(doctor.address, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):
        seeded.requestAccessBySig(doctor2, 0, deadline, dsig, sender=relayer)
    dsig = eip712.sign(keys[DOCTOR_INDEX], eip712.request_extension(doctor.address, 60, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):
        seeded.requestExtensionBySig(doctor, 61, 0, deadline, dsig, sender=relayer)
    assert seeded.nonces(patient) == 1 and seeded.nonces(doctor) == 0


def test_patient_cannot_sign_for_a_doctor(seeded, patient, doctor, relayer, keys, chain_id):
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    deadline = head_time() + 3600
    sig = eip712.sign(keys[PATIENT_INDEX], eip712.request_access(doctor.address, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):
        seeded.requestAccessBySig(doctor, 0, deadline, sig, sender=relayer)


def test_signature_for_one_patients_clone_fails_on_another(
    factory, project, seeded, patient, patient2, relayer, keys, chain_id
):
    factory.createVault(patient2, sender=relayer)
    other = project.HealthRecord.at(factory.vaultOf(patient2))
    deadline = head_time() + 3600
    sig = eip712.sign(
        keys[PATIENT_INDEX],
        eip712.add_record(0, NEW_HASH, 0, deadline, chain_id=chain_id, verifying_contract=other.address),
    )
    # Signed by the wrong patient for `other`, and bound to `other` for `seeded`.
    with reverts_with(other.InvalidSignature):
        other.addRecordBySig(0, NEW_HASH, 0, deadline, sig, sender=relayer)
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordBySig(0, NEW_HASH, 0, deadline, sig, sender=relayer)


# ------------------------------------------------------------------ nonces and business rules


def test_nonces_are_per_signer_and_shared_across_actions(seeded, patient, doctor, relayer, keys, chain_id):
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    deadline = head_time() + 3600
    pkey, dkey = keys[PATIENT_INDEX], keys[DOCTOR_INDEX]
    assert (seeded.nonces(patient), seeded.nonces(doctor)) == (0, 0)

    request = eip712.sign(dkey, eip712.request_access(doctor.address, 0, deadline, **dom))
    seeded.requestAccessBySig(doctor, 0, deadline, request, sender=relayer)
    assert (seeded.nonces(patient), seeded.nonces(doctor)) == (0, 1)

    add = eip712.sign(pkey, eip712.add_record(0, NEW_HASH, 0, deadline, **dom))
    seeded.addRecordBySig(0, NEW_HASH, 0, deadline, add, sender=relayer)
    # The next patient action must use nonce 1, whatever its type.
    stale = eip712.sign(pkey, eip712.approve_access(doctor.address, DAY, [0], 0, deadline, **dom))
    with reverts_with(seeded.InvalidAccountNonce, account=patient.address, currentNonce=1):
        seeded.approveAccessBySig(doctor, DAY, [0], 0, deadline, stale, sender=relayer)
    fresh = eip712.sign(pkey, eip712.approve_access(doctor.address, DAY, [0], 1, deadline, **dom))
    seeded.approveAccessBySig(doctor, DAY, [0], 1, deadline, fresh, sender=relayer)
    assert seeded.canRead(doctor, 0)
    assert (seeded.nonces(patient), seeded.nonces(doctor)) == (2, 1)


def test_business_rules_still_apply_and_keep_the_nonce(seeded, patient, doctor, stranger, relayer, keys, chain_id):
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    deadline = head_time() + 3600
    pkey = keys[PATIENT_INDEX]
    sig = eip712.sign(pkey, eip712.approve_access(stranger.address, DAY, [0], 0, deadline, **dom))
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.approveAccessBySig(stranger, DAY, [0], 0, deadline, sig, sender=relayer)
    sig = eip712.sign(pkey, eip712.add_record(3, NEW_HASH, 0, deadline, **dom))
    with reverts_with(seeded.InvalidRecordKind, kind=3):
        seeded.addRecordBySig(3, NEW_HASH, 0, deadline, sig, sender=relayer)
    sig = eip712.sign(pkey, eip712.revoke_access(doctor.address, 0, deadline, **dom))
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.revokeAccessBySig(doctor, 0, deadline, sig, sender=relayer)
    sig = eip712.sign(pkey, eip712.deny_access(doctor.address, 0, deadline, **dom))
    with reverts_with(seeded.NoPendingRequest, doctor=doctor.address):
        seeded.denyAccessBySig(doctor, 0, deadline, sig, sender=relayer)
    sig = eip712.sign(keys[STRANGER_INDEX], eip712.request_access(stranger.address, 0, deadline, **dom))
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.requestAccessBySig(stranger, 0, deadline, sig, sender=relayer)
    assert seeded.nonces(patient) == 0 and seeded.nonces(stranger) == 0


def test_approve_extension_by_sig_binds_the_amount(seeded, patient, doctor, relayer, keys, chain_id):
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    deadline = head_time() + 3600
    pkey = keys[PATIENT_INDEX]
    seeded.approveAccess(doctor, DAY, [0], sender=patient)
    expires_at = seeded.getGrant(doctor)[0]
    generation = seeded.getGrant(doctor)[3]
    assert generation == 1
    seeded.requestExtension(500, sender=doctor)
    signed_for_500 = eip712.sign(pkey, eip712.approve_extension(doctor.address, 500, generation, 0, deadline, **dom))
    seeded.requestExtension(50_000, sender=doctor)  # the doctor changes the request after the patient signed
    with reverts_with(seeded.ExtensionMismatch, pending=50_000, signed=500):
        seeded.approveExtensionBySig(doctor, 500, generation, 0, deadline, signed_for_500, sender=relayer)
    zero = eip712.sign(pkey, eip712.approve_extension(doctor.address, 0, generation, 0, deadline, **dom))
    with reverts_with(seeded.ZeroDuration):
        seeded.approveExtensionBySig(doctor, 0, generation, 0, deadline, zero, sender=relayer)
    signed = eip712.sign(pkey, eip712.approve_extension(doctor.address, 50_000, generation, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):  # the generation is signed
        seeded.approveExtensionBySig(doctor, 50_000, generation + 1, 0, deadline, signed, sender=relayer)
    receipt = seeded.approveExtensionBySig(doctor, 50_000, generation, 0, deadline, signed, sender=relayer)
    assert one_event(receipt, seeded, "ExtensionApproved")["expiresAt"] == expires_at + 50_000


def test_request_extension_by_sig_needs_live_grant(seeded, patient, doctor, relayer, keys, chain_id):
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    seeded.approveAccess(doctor, 100, [0], sender=patient)
    expires_at = seeded.getGrant(doctor)[0]
    warp_to(expires_at)
    deadline = head_time() + 3600
    sig = eip712.sign(keys[DOCTOR_INDEX], eip712.request_extension(doctor.address, 60, 0, deadline, **dom))
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.requestExtensionBySig(doctor, 60, 0, deadline, sig, sender=relayer)


# ------------------------------------------------------------------ domain and type hashes


def test_type_hashes_match(seeded):
    for primary_type, constant_name in eip712.TYPEHASH_CONSTANTS.items():
        constant = getattr(seeded, constant_name)()
        assert HexBytes(constant) == HexBytes(eip712.type_hash(primary_type)), eip712.encode_type(primary_type)
    assert set(eip712.TYPEHASH_CONSTANTS) == set(eip712.TYPES)


def test_domain_is_bound_to_the_clone_and_chain(seeded, implementation, chain_id):
    fields, name, version, chain, verifying, salt, extensions = seeded.eip712Domain()
    assert HexBytes(fields) == HexBytes("0x0f")
    assert (name, version, chain, verifying) == ("HealthRecord", "1", chain_id, seeded.address)
    assert HexBytes(salt) == HexBytes(b"\x00" * 32) and list(extensions) == []

    def separator(address):
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                    keccak(text="HealthRecord"),
                    keccak(text="1"),
                    chain_id,
                    address,
                ],
            )
        )

    assert HexBytes(seeded.DOMAIN_SEPARATOR()) == HexBytes(separator(seeded.address))
    assert HexBytes(implementation.DOMAIN_SEPARATOR()) == HexBytes(separator(implementation.address))
    assert implementation.eip712Domain()[4] == implementation.address


# ------------------------------------------------------------------ ERC-1271 contract wallets


def test_contract_wallet_patient(project, factory, deployer, relayer, keys, chain_id, doctor):
    """A smart-contract wallet can own a vault; its owner key signs, ERC-1271 validates."""
    owner_key = keys[STRANGER_INDEX]
    wallet = deployer.deploy(project.ERC1271WalletMock, Account.from_key(owner_key).address)
    factory.createVault(wallet, sender=relayer)
    vault = project.HealthRecord.at(factory.vaultOf(wallet))
    assert vault.patient() == wallet.address
    dom = {"chain_id": chain_id, "verifying_contract": vault.address}
    deadline = head_time() + 3600

    sig = eip712.sign(owner_key, eip712.add_record(1, NEW_HASH, 0, deadline, **dom))
    receipt = vault.addRecordBySig(1, NEW_HASH, 0, deadline, sig, sender=relayer)
    assert one_event(receipt, vault, "RecordAdded")["author"] == wallet.address
    assert vault.nonces(wallet) == 1

    # The wallet rejects a signature by any other key.
    bad = eip712.sign(keys[PATIENT_INDEX], eip712.approve_access(doctor.address, DAY, [0], 1, deadline, **dom))
    with reverts_with(vault.InvalidSignature):
        vault.approveAccessBySig(doctor, DAY, [0], 1, deadline, bad, sender=relayer)
    good = eip712.sign(owner_key, eip712.approve_access(doctor.address, DAY, [0], 1, deadline, **dom))
    vault.approveAccessBySig(doctor, DAY, [0], 1, deadline, good, sender=relayer)
    assert vault.canRead(doctor, 0)
