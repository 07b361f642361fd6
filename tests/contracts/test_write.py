"""Write grants and doctor-authored records (v2).

A patient lets a registered doctor add records for a while (`approveWrite`, `revokeWrite`, or their
`...BySig` variants); the doctor then adds records directly (`addRecordAsDoctor`) or through a relayer
(`addRecordAsDoctorBySig`, signed by the doctor). The record's author is the doctor. Write and read
grants are independent. The signature mechanics every `...BySig` shares (replay, deadline, forgery)
are covered per action in test_signatures.py; this file covers the rules.
"""

from __future__ import annotations

import pytest
from hexbytes import HexBytes

from . import eip712
from .conftest import DAY, HASH_A, HASH_B
from .helpers import head_time, next_block_at, one_event, reverts_with, warp_to

UINT64_MAX = 2**64 - 1
PRESCRIPTION, BILL, REPORT = 0, 1, 2
NEW_HASH = bytes.fromhex("55" * 32)
DOCTOR_INDEX, PATIENT_INDEX = 2, 1


def approve_write_at(vault, patient, doctor, duration, at=None):
    """approveWrite mined at block time `at` (default head + 10); returns (receipt, expiresAt)."""
    at = head_time() + 10 if at is None else at
    next_block_at(at)
    receipt = vault.approveWrite(doctor, duration, sender=patient)
    return receipt, at + duration


@pytest.fixture
def dom(seeded, chain_id):
    return {"chain_id": chain_id, "verifying_contract": seeded.address}


# ------------------------------------------------------------------ approveWrite / canWrite / getWriteGrant


def test_approve_write(seeded, patient, doctor, doctor2):
    assert not seeded.canWrite(doctor) and seeded.getWriteGrant(doctor) == 0
    receipt, expires_at = approve_write_at(seeded, patient, doctor, DAY)
    assert one_event(receipt, seeded, "WriteApproved") == {"doctor": doctor.address, "expiresAt": expires_at}
    assert seeded.canWrite(doctor)
    assert seeded.getWriteGrant(doctor) == expires_at
    # Only that doctor; and a write grant is not a read grant.
    assert not seeded.canWrite(doctor2) and seeded.getWriteGrant(doctor2) == 0
    assert not any(seeded.canRead(doctor, i) for i in range(3))
    assert tuple(seeded.getGrant(doctor)) == (0, 0, False, 0, 0)


def test_approve_write_replaces_the_grant(seeded, patient, doctor):
    approve_write_at(seeded, patient, doctor, DAY)
    _, expires_at = approve_write_at(seeded, patient, doctor, 600)
    assert seeded.getWriteGrant(doctor) == expires_at  # the shorter one replaced the longer one


def test_approve_write_reverts(seeded, patient, doctor, stranger):
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.approveWrite(doctor, DAY, sender=doctor)
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.approveWrite(stranger, DAY, sender=patient)
    with reverts_with(seeded.ZeroDuration):
        seeded.approveWrite(doctor, 0, sender=patient)
    with reverts_with(seeded.DurationTooLong, duration=UINT64_MAX):
        seeded.approveWrite(doctor, UINT64_MAX, sender=patient)
    assert not seeded.canWrite(doctor) and not seeded.canWrite(stranger)


def test_write_grant_ends_exactly_at_expiry(seeded, patient, doctor):
    _, expires_at = approve_write_at(seeded, patient, doctor, 1000)
    warp_to(expires_at - 1)
    assert seeded.canWrite(doctor) and seeded.getWriteGrant(doctor) == expires_at
    warp_to(expires_at)
    assert not seeded.canWrite(doctor) and seeded.getWriteGrant(doctor) == 0


def test_read_grant_does_not_give_write(seeded, patient, doctor):
    seeded.approveAccess(doctor, DAY, [0, 1, 2], sender=patient)
    assert not seeded.canWrite(doctor)
    with reverts_with(seeded.NoWriteGrant, doctor=doctor.address):
        seeded.addRecordAsDoctor(REPORT, NEW_HASH, sender=doctor)


# ------------------------------------------------------------------ revokeWrite


def test_revoke_write(seeded, patient, doctor, doctor2):
    approve_write_at(seeded, patient, doctor, DAY)
    _, other = approve_write_at(seeded, patient, doctor2, DAY)
    seeded.addRecordAsDoctor(REPORT, NEW_HASH, sender=doctor)
    receipt = seeded.revokeWrite(doctor, sender=patient)
    assert one_event(receipt, seeded, "WriteRevoked") == {"doctor": doctor.address}
    assert not seeded.canWrite(doctor) and seeded.getWriteGrant(doctor) == 0
    assert seeded.getWriteGrant(doctor2) == other  # the other doctor keeps theirs
    assert seeded.recordCount() == 4 and seeded.getRecord(3)[3] == doctor.address  # records stay


def test_revoke_write_reverts(seeded, patient, doctor, doctor2):
    with reverts_with(seeded.NoWriteGrant, doctor=doctor2.address):
        seeded.revokeWrite(doctor2, sender=patient)  # never granted
    _, expires_at = approve_write_at(seeded, patient, doctor, 1000)
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.revokeWrite(doctor, sender=doctor)
    next_block_at(expires_at)
    with reverts_with(seeded.NoWriteGrant, doctor=doctor.address):
        seeded.revokeWrite(doctor, sender=patient)  # expired
    approve_write_at(seeded, patient, doctor, 1000)
    seeded.revokeWrite(doctor, sender=patient)
    with reverts_with(seeded.NoWriteGrant, doctor=doctor.address):
        seeded.revokeWrite(doctor, sender=patient)  # already revoked


# ------------------------------------------------------------------ addRecordAsDoctor


def test_add_record_as_doctor(seeded, chain, patient, doctor):
    approve_write_at(seeded, patient, doctor, DAY)
    assert seeded.addRecordAsDoctor.call(BILL, NEW_HASH, sender=doctor) == 3  # the return value
    receipt = seeded.addRecordAsDoctor(BILL, NEW_HASH, sender=doctor)
    event = one_event(receipt, seeded, "RecordAdded")
    assert (event["recordId"], event["kind"], event["author"]) == (3, BILL, doctor.address)
    assert HexBytes(event["contentHash"]) == HexBytes(NEW_HASH)
    kind, content_hash, timestamp, author = seeded.getRecord(3)
    assert (kind, HexBytes(content_hash), author) == (BILL, HexBytes(NEW_HASH), doctor.address)
    assert timestamp == chain.blocks[receipt.block_number].timestamp
    assert seeded.recordCount() == 4
    # The patient reads it; the doctor, who holds no read grant, does not.
    assert seeded.canRead(patient, 3) and not seeded.canRead(doctor, 3)
    # Several records under one grant; the grant is not used up.
    seeded.addRecordAsDoctor(PRESCRIPTION, HASH_A, sender=doctor)
    assert seeded.recordCount() == 5 and seeded.canWrite(doctor)


def test_add_record_as_doctor_reverts(seeded, factory, deployer, patient, doctor, doctor2, stranger):
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.addRecordAsDoctor(REPORT, NEW_HASH, sender=stranger)
    with reverts_with(seeded.NotRegisteredDoctor, account=patient.address):
        seeded.addRecordAsDoctor(REPORT, NEW_HASH, sender=patient)  # the patient uses addRecord
    with reverts_with(seeded.NoWriteGrant, doctor=doctor2.address):
        seeded.addRecordAsDoctor(REPORT, NEW_HASH, sender=doctor2)  # never granted
    approve_write_at(seeded, patient, doctor, DAY)
    with reverts_with(seeded.InvalidRecordKind, kind=3):
        seeded.addRecordAsDoctor(3, NEW_HASH, sender=doctor)
    with reverts_with(seeded.EmptyContentHash):
        seeded.addRecordAsDoctor(REPORT, b"\x00" * 32, sender=doctor)
    seeded.revokeWrite(doctor, sender=patient)
    with reverts_with(seeded.NoWriteGrant, doctor=doctor.address):
        seeded.addRecordAsDoctor(REPORT, NEW_HASH, sender=doctor)  # revoked
    assert seeded.recordCount() == 3


def test_add_record_as_doctor_ends_at_expiry(seeded, patient, doctor):
    _, expires_at = approve_write_at(seeded, patient, doctor, 1000)
    next_block_at(expires_at - 1)
    seeded.addRecordAsDoctor(REPORT, NEW_HASH, sender=doctor)  # last second
    next_block_at(expires_at)
    with reverts_with(seeded.NoWriteGrant, doctor=doctor.address):
        seeded.addRecordAsDoctor(REPORT, HASH_B, sender=doctor)
    assert seeded.recordCount() == 4


# ------------------------------------------------------------------ signed variants: rules


def test_add_record_as_doctor_by_sig_rules(seeded, patient, doctor, doctor2, relayer, dom):
    dkey = eip712.dev_private_key(DOCTOR_INDEX)
    deadline = head_time() + 3600
    sig = eip712.sign(dkey, eip712.add_record_as_doctor(doctor.address, REPORT, NEW_HASH, 0, deadline, **dom))
    with reverts_with(seeded.NoWriteGrant, doctor=doctor.address):
        seeded.addRecordAsDoctorBySig(doctor, REPORT, NEW_HASH, 0, deadline, sig, sender=relayer)
    assert seeded.nonces(doctor) == 0  # a failed action consumes nothing
    approve_write_at(seeded, patient, doctor, DAY)
    # Tampered arguments, another doctor, or the patient's key: all InvalidSignature.
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordAsDoctorBySig(doctor, BILL, NEW_HASH, 0, deadline, sig, sender=relayer)
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordAsDoctorBySig(doctor, REPORT, HASH_A, 0, deadline, sig, sender=relayer)
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordAsDoctorBySig(doctor2, REPORT, NEW_HASH, 0, deadline, sig, sender=relayer)
    by_patient = eip712.sign(
        eip712.dev_private_key(PATIENT_INDEX),
        eip712.add_record_as_doctor(doctor.address, REPORT, NEW_HASH, 0, deadline, **dom),
    )
    with reverts_with(seeded.InvalidSignature):
        seeded.addRecordAsDoctorBySig(doctor, REPORT, NEW_HASH, 0, deadline, by_patient, sender=relayer)
    bad_kind = eip712.sign(dkey, eip712.add_record_as_doctor(doctor.address, 3, NEW_HASH, 0, deadline, **dom))
    with reverts_with(seeded.InvalidRecordKind, kind=3):
        seeded.addRecordAsDoctorBySig(doctor, 3, NEW_HASH, 0, deadline, bad_kind, sender=relayer)
    receipt = seeded.addRecordAsDoctorBySig(doctor, REPORT, NEW_HASH, 0, deadline, sig, sender=relayer)
    assert one_event(receipt, seeded, "RecordAdded")["author"] == doctor.address
    assert seeded.nonces(doctor) == 1 and seeded.nonces(patient) == 0


def test_write_by_sig_rules(seeded, patient, doctor, stranger, relayer, dom):
    pkey = eip712.dev_private_key(PATIENT_INDEX)
    deadline = head_time() + 3600
    sig = eip712.sign(pkey, eip712.approve_write(doctor.address, DAY, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):
        seeded.approveWriteBySig(doctor, DAY + 1, 0, deadline, sig, sender=relayer)  # other duration
    unregistered = eip712.sign(pkey, eip712.approve_write(stranger.address, DAY, 0, deadline, **dom))
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.approveWriteBySig(stranger, DAY, 0, deadline, unregistered, sender=relayer)
    # A doctor cannot sign their own write grant.
    by_doctor = eip712.sign(
        eip712.dev_private_key(DOCTOR_INDEX), eip712.approve_write(doctor.address, DAY, 0, deadline, **dom)
    )
    with reverts_with(seeded.InvalidSignature):
        seeded.approveWriteBySig(doctor, DAY, 0, deadline, by_doctor, sender=relayer)
    revoke = eip712.sign(pkey, eip712.revoke_write(doctor.address, 0, deadline, **dom))
    with reverts_with(seeded.NoWriteGrant, doctor=doctor.address):
        seeded.revokeWriteBySig(doctor, 0, deadline, revoke, sender=relayer)
    assert seeded.nonces(patient) == 0
    seeded.approveWriteBySig(doctor, DAY, 0, deadline, sig, sender=relayer)
    assert seeded.canWrite(doctor)
    revoke = eip712.sign(pkey, eip712.revoke_write(doctor.address, 1, deadline, **dom))
    seeded.revokeWriteBySig(doctor, 1, deadline, revoke, sender=relayer)
    assert not seeded.canWrite(doctor)
