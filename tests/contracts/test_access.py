"""HealthRecord access control: requests, grants, expiry, revocation, extensions.

Times are explicit: `next_block_at(t)` makes the next transaction's block time exactly `t`, and
`warp_to(t)` mines an empty block at `t` so that view calls (evaluated at the latest block) see `t`.
"""

from __future__ import annotations

import ape
from hexbytes import HexBytes

from .conftest import DAY, HASH_A, HASH_B, HASH_C, N_MANY
from .helpers import head_time, next_block_at, one_event, reverts_with, warp_to

UINT64_MAX = 2**64 - 1
HASHES = [HASH_A, HASH_B, HASH_C]


def approve_at(vault, patient, doctor, duration, ids, at=None):
    """approveAccess mined at block time `at` (default: head + 10). Returns (receipt, expiresAt)."""
    at = head_time() + 10 if at is None else at
    next_block_at(at)
    receipt = vault.approveAccess(doctor, duration, ids, sender=patient)
    assert ape.chain.blocks[receipt.block_number].timestamp == at
    return receipt, at + duration


def readable(vault, reader, n):
    return [i for i in range(n) if vault.canRead(reader, i)]


def approved(vault, doctor):
    ids, hashes, expires_at = vault.getApprovedRecords(doctor)
    return list(ids), [HexBytes(h) for h in hashes], expires_at


# ------------------------------------------------------------------ requestAccess / denyAccess


def test_request_access(seeded, doctor, doctor2):
    receipt = seeded.requestAccess(sender=doctor)
    assert one_event(receipt, seeded, "AccessRequested") == {"doctor": doctor.address}
    assert tuple(seeded.getGrant(doctor))[:3] == (0, 0, True)
    assert tuple(seeded.getGrant(doctor2))[:3] == (0, 0, False)
    # Asking again is harmless, and a request alone grants nothing.
    seeded.requestAccess(sender=doctor)
    assert tuple(seeded.getGrant(doctor))[:3] == (0, 0, True)
    assert readable(seeded, doctor, 3) == []


def test_request_access_requires_registered_doctor(seeded, stranger, patient):
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.requestAccess(sender=stranger)
    with reverts_with(seeded.NotRegisteredDoctor, account=patient.address):
        seeded.requestAccess(sender=patient)
    assert tuple(seeded.getGrant(stranger))[:3] == (0, 0, False)


def test_deny_access(seeded, patient, doctor):
    seeded.requestAccess(sender=doctor)
    receipt = seeded.denyAccess(doctor, sender=patient)
    assert one_event(receipt, seeded, "AccessDenied") == {"doctor": doctor.address}
    assert tuple(seeded.getGrant(doctor))[:3] == (0, 0, False)
    with reverts_with(seeded.NoPendingRequest, doctor=doctor.address):
        seeded.denyAccess(doctor, sender=patient)


def test_deny_access_reverts(seeded, patient, doctor, doctor2):
    with reverts_with(seeded.NoPendingRequest, doctor=doctor2.address):
        seeded.denyAccess(doctor2, sender=patient)
    seeded.requestAccess(sender=doctor)
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.denyAccess(doctor, sender=doctor)
    assert seeded.getGrant(doctor)[2] is True


def test_deny_leaves_existing_grant(seeded, patient, doctor):
    _, expires_at = approve_at(seeded, patient, doctor, DAY, [0, 1])
    seeded.requestAccess(sender=doctor)  # asks again (e.g. for more records)
    seeded.denyAccess(doctor, sender=patient)
    assert tuple(seeded.getGrant(doctor))[:3] == (expires_at, 0, False)
    assert readable(seeded, doctor, 3) == [0, 1]


# ------------------------------------------------------------------ approveAccess


def test_approve_access_after_request(seeded, patient, doctor, doctor2):
    seeded.requestAccess(sender=doctor)
    receipt, expires_at = approve_at(seeded, patient, doctor, DAY, [0, 2])
    event = one_event(receipt, seeded, "AccessApproved")
    assert event["doctor"] == doctor.address
    assert event["expiresAt"] == expires_at
    assert list(event["recordIds"]) == [0, 2]

    assert tuple(seeded.getGrant(doctor))[:3] == (expires_at, 0, False)  # request answered
    assert readable(seeded, doctor, 3) == [0, 2]
    assert approved(seeded, doctor) == ([0, 2], [HexBytes(HASH_A), HexBytes(HASH_C)], expires_at)
    # Nobody else gains anything.
    assert readable(seeded, doctor2, 3) == []
    assert approved(seeded, doctor2) == ([], [], 0)
    assert not seeded.canRead(doctor, 3)


def test_approve_without_request(seeded, patient, doctor2):
    _, expires_at = approve_at(seeded, patient, doctor2, 3600, [1])
    assert readable(seeded, doctor2, 3) == [1]
    assert tuple(seeded.getGrant(doctor2))[:3] == (expires_at, 0, False)


def test_approve_duplicates_and_unsorted_ids(seeded, patient, doctor):
    receipt, expires_at = approve_at(seeded, patient, doctor, DAY, [2, 0, 2, 0])
    assert list(one_event(receipt, seeded, "AccessApproved")["recordIds"]) == [2, 0, 2, 0]
    assert readable(seeded, doctor, 3) == [0, 2]
    assert approved(seeded, doctor) == ([0, 2], [HexBytes(HASH_A), HexBytes(HASH_C)], expires_at)


def test_approve_access_reverts(seeded, patient, doctor, stranger):
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.approveAccess(doctor, DAY, [0], sender=doctor)
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.approveAccess(stranger, DAY, [0], sender=patient)
    with reverts_with(seeded.ZeroDuration):
        seeded.approveAccess(doctor, 0, [0], sender=patient)
    with reverts_with(seeded.NoRecordsSelected):
        seeded.approveAccess(doctor, DAY, [], sender=patient)
    with reverts_with(seeded.UnknownRecord, recordId=3):
        seeded.approveAccess(doctor, DAY, [0, 3], sender=patient)
    with reverts_with(seeded.DurationTooLong, duration=UINT64_MAX):
        seeded.approveAccess(doctor, UINT64_MAX, [0], sender=patient)
    assert tuple(seeded.getGrant(doctor))[:3] == (0, 0, False)
    assert readable(seeded, doctor, 3) == []


def test_new_approval_replaces_the_grant(seeded, patient, doctor):
    approve_at(seeded, patient, doctor, DAY, [0, 1])
    receipt, expires_at = approve_at(seeded, patient, doctor, 3600, [2])
    assert one_event(receipt, seeded, "AccessApproved")["expiresAt"] == expires_at
    assert readable(seeded, doctor, 3) == [2]
    assert approved(seeded, doctor)[0] == [2]
    assert seeded.getGrant(doctor)[0] == expires_at  # the shorter expiry replaced the longer one


def test_approval_clears_pending_request_and_extension(seeded, patient, doctor):
    approve_at(seeded, patient, doctor, DAY, [0])
    seeded.requestExtension(3600, sender=doctor)
    seeded.requestAccess(sender=doctor)
    assert tuple(seeded.getGrant(doctor))[1:3] == (3600, True)
    _, expires_at = approve_at(seeded, patient, doctor, 2 * DAY, [0, 1])
    assert tuple(seeded.getGrant(doctor))[:3] == (expires_at, 0, False)
    with reverts_with(seeded.NoPendingExtension, doctor=doctor.address):
        seeded.approveExtension(doctor, 3600, sender=patient)


# ------------------------------------------------------------------ expiry


def test_access_ends_exactly_at_expiry(seeded, patient, doctor):
    _, expires_at = approve_at(seeded, patient, doctor, 1000, [0, 1])
    warp_to(expires_at - 1)
    assert readable(seeded, doctor, 3) == [0, 1]
    assert approved(seeded, doctor)[0] == [0, 1]
    warp_to(expires_at)
    assert readable(seeded, doctor, 3) == []
    assert approved(seeded, doctor) == ([], [], 0)
    # getGrant still reports when the grant ended; the patient still reads everything.
    assert tuple(seeded.getGrant(doctor))[:3] == (expires_at, 0, False)
    assert readable(seeded, patient, 3) == [0, 1, 2]


def test_expired_grant_cannot_be_changed(seeded, patient, doctor):
    _, expires_at = approve_at(seeded, patient, doctor, 1000, [0, 1])
    next_block_at(expires_at)
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.revokeAccess(doctor, sender=patient)
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.revokeRecords(doctor, [0], sender=patient)
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.requestExtension(100, sender=doctor)
    # A new approval starts a fresh grant.
    _, new_expiry = approve_at(seeded, patient, doctor, 500, [2])
    assert readable(seeded, doctor, 3) == [2]
    assert seeded.getGrant(doctor)[0] == new_expiry


# ------------------------------------------------------------------ revokeAccess / revokeRecords


def test_revoke_access(seeded, patient, doctor, doctor2):
    approve_at(seeded, patient, doctor, DAY, [0, 1, 2])
    _, other_expiry = approve_at(seeded, patient, doctor2, DAY, [1])
    seeded.requestExtension(3600, sender=doctor)
    receipt = seeded.revokeAccess(doctor, sender=patient)
    assert one_event(receipt, seeded, "AccessRevoked") == {"doctor": doctor.address}
    assert readable(seeded, doctor, 3) == []
    assert approved(seeded, doctor) == ([], [], 0)
    assert tuple(seeded.getGrant(doctor))[:3] == (0, 0, False)  # pending extension dropped too
    # The other doctor keeps their grant.
    assert readable(seeded, doctor2, 3) == [1]
    assert seeded.getGrant(doctor2)[0] == other_expiry


def test_revoke_access_reverts(seeded, patient, doctor, doctor2):
    with reverts_with(seeded.NoActiveGrant, doctor=doctor2.address):
        seeded.revokeAccess(doctor2, sender=patient)  # never granted
    approve_at(seeded, patient, doctor, DAY, [0])
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.revokeAccess(doctor, sender=doctor)
    seeded.revokeAccess(doctor, sender=patient)
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.revokeAccess(doctor, sender=patient)  # already revoked
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.revokeRecords(doctor, [0], sender=patient)
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.requestExtension(60, sender=doctor)


def test_regrant_after_revoke_does_not_resurrect_old_records(seeded, patient, doctor):
    approve_at(seeded, patient, doctor, DAY, [0, 1, 2])
    seeded.revokeAccess(doctor, sender=patient)
    _, expires_at = approve_at(seeded, patient, doctor, DAY, [1])
    assert readable(seeded, doctor, 3) == [1]
    assert approved(seeded, doctor) == ([1], [HexBytes(HASH_B)], expires_at)


def test_revoke_records(seeded, patient, doctor):
    _, expires_at = approve_at(seeded, patient, doctor, DAY, [0, 1, 2])
    receipt = seeded.revokeRecords(doctor, [1], sender=patient)
    event = one_event(receipt, seeded, "RecordsRevoked")
    assert event["doctor"] == doctor.address and list(event["recordIds"]) == [1]
    assert readable(seeded, doctor, 3) == [0, 2]
    assert approved(seeded, doctor) == ([0, 2], [HexBytes(HASH_A), HexBytes(HASH_C)], expires_at)
    assert seeded.getGrant(doctor)[0] == expires_at  # expiry unchanged

    # Withdrawing an id that is not shared (or twice) is harmless; withdrawing all leaves an empty grant.
    seeded.revokeRecords(doctor, [1, 1, 0, 2], sender=patient)
    assert readable(seeded, doctor, 3) == []
    assert approved(seeded, doctor) == ([], [], expires_at)


def test_revoke_records_reverts(seeded, patient, doctor, doctor2):
    with reverts_with(seeded.NoActiveGrant, doctor=doctor2.address):
        seeded.revokeRecords(doctor2, [0], sender=patient)
    approve_at(seeded, patient, doctor, DAY, [0, 1])
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.revokeRecords(doctor, [0], sender=doctor)
    with reverts_with(seeded.NoRecordsSelected):
        seeded.revokeRecords(doctor, [], sender=patient)
    with reverts_with(seeded.UnknownRecord, recordId=7):
        seeded.revokeRecords(doctor, [0, 7], sender=patient)
    assert readable(seeded, doctor, 3) == [0, 1]


def test_regrant_after_partial_revoke(seeded, patient, doctor):
    approve_at(seeded, patient, doctor, DAY, [0, 1])
    seeded.revokeRecords(doctor, [0], sender=patient)
    approve_at(seeded, patient, doctor, DAY, [0, 2])
    assert readable(seeded, doctor, 3) == [0, 2]


# ------------------------------------------------------------------ extensions


def test_request_extension(seeded, patient, doctor):
    _, expires_at = approve_at(seeded, patient, doctor, DAY, [0])
    receipt = seeded.requestExtension(3600, sender=doctor)
    assert one_event(receipt, seeded, "ExtensionRequested") == {"doctor": doctor.address, "extra": 3600}
    assert tuple(seeded.getGrant(doctor))[:3] == (expires_at, 3600, False)
    seeded.requestExtension(7200, sender=doctor)  # a new request replaces the pending one
    assert tuple(seeded.getGrant(doctor))[:3] == (expires_at, 7200, False)


def test_request_extension_reverts(seeded, factory, deployer, patient, doctor, doctor2, stranger):
    with reverts_with(seeded.NoActiveGrant, doctor=doctor2.address):
        seeded.requestExtension(3600, sender=doctor2)  # never granted
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.requestExtension(3600, sender=stranger)
    approve_at(seeded, patient, doctor, DAY, [0])
    with reverts_with(seeded.ZeroDuration):
        seeded.requestExtension(0, sender=doctor)
    factory.unregisterDoctor(doctor, sender=deployer)
    with reverts_with(seeded.NotRegisteredDoctor, account=doctor.address):
        seeded.requestExtension(3600, sender=doctor)
    assert seeded.getGrant(doctor)[1] == 0


def test_approve_extension(seeded, patient, doctor):
    _, expires_at = approve_at(seeded, patient, doctor, 1000, [0, 2])
    seeded.requestExtension(500, sender=doctor)
    receipt = seeded.approveExtension(doctor, 500, sender=patient)
    assert one_event(receipt, seeded, "ExtensionApproved") == {"doctor": doctor.address, "expiresAt": expires_at + 500}
    assert tuple(seeded.getGrant(doctor))[:3] == (expires_at + 500, 0, False)

    warp_to(expires_at)  # the original expiry has passed
    assert readable(seeded, doctor, 3) == [0, 2]
    assert approved(seeded, doctor)[2] == expires_at + 500
    warp_to(expires_at + 499)
    assert readable(seeded, doctor, 3) == [0, 2]
    warp_to(expires_at + 500)
    assert readable(seeded, doctor, 3) == []


def test_approve_extension_reverts(seeded, factory, deployer, patient, doctor, doctor2):
    with reverts_with(seeded.NoPendingExtension, doctor=doctor2.address):
        seeded.approveExtension(doctor2, 100, sender=patient)
    _, expires_at = approve_at(seeded, patient, doctor, 1000, [0])
    with reverts_with(seeded.NoPendingExtension, doctor=doctor.address):
        seeded.approveExtension(doctor, 100, sender=patient)
    seeded.requestExtension(100, sender=doctor)
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.approveExtension(doctor, 100, sender=doctor)
    with reverts_with(seeded.ZeroDuration):
        seeded.approveExtension(doctor, 0, sender=patient)
    with reverts_with(seeded.ExtensionMismatch, pending=100, signed=99):
        seeded.approveExtension(doctor, 99, sender=patient)
    seeded.approveExtension(doctor, 100, sender=patient)
    with reverts_with(seeded.NoPendingExtension, doctor=doctor.address):
        seeded.approveExtension(doctor, 100, sender=patient)  # already used
    # An unregistered doctor gets no more time.
    seeded.requestExtension(100, sender=doctor)
    factory.unregisterDoctor(doctor, sender=deployer)
    with reverts_with(seeded.NotRegisteredDoctor, account=doctor.address):
        seeded.approveExtension(doctor, 100, sender=patient)
    assert seeded.getGrant(doctor)[0] == expires_at + 100


def test_doctor_cannot_front_run_extension_approval(seeded, patient, doctor):
    """The patient approves the amount they saw; a larger request slipped in before fails."""
    _, expires_at = approve_at(seeded, patient, doctor, 1000, [0])
    seeded.requestExtension(3600, sender=doctor)
    seeded.requestExtension(10 * 365 * DAY, sender=doctor)  # swapped before the patient's tx lands
    with reverts_with(seeded.ExtensionMismatch, pending=10 * 365 * DAY, signed=3600):
        seeded.approveExtension(doctor, 3600, sender=patient)
    assert seeded.getGrant(doctor)[0] == expires_at


def test_extension_cannot_revive_an_expired_grant(seeded, patient, doctor):
    _, expires_at = approve_at(seeded, patient, doctor, 1000, [0])
    seeded.requestExtension(500, sender=doctor)
    next_block_at(expires_at)
    with reverts_with(seeded.NoActiveGrant, doctor=doctor.address):
        seeded.approveExtension(doctor, 500, sender=patient)
    warp_to(expires_at + 1)
    assert readable(seeded, doctor, 3) == []


def test_extension_overflow(seeded, patient, doctor):
    duration = UINT64_MAX - (head_time() + 10)  # expires at exactly 2**64 - 1
    _, expires_at = approve_at(seeded, patient, doctor, duration, [0])
    assert expires_at == UINT64_MAX
    seeded.requestExtension(1, sender=doctor)
    with reverts_with(seeded.DurationTooLong, duration=1):
        seeded.approveExtension(doctor, 1, sender=patient)


# ------------------------------------------------------------------ bitmap words (ids >= 256)

def test_grants_across_bitmap_words(many, patient2, doctor):
    ids = [299, 0, 256, 255, 257, 256]
    receipt, expires_at = approve_at(many, patient2, doctor, DAY, ids)
    assert list(one_event(receipt, many, "AccessApproved")["recordIds"]) == ids
    expected = [0, 255, 256, 257, 299]
    for i in (*expected, 1, 254, 258, 298):
        assert many.canRead(doctor, i) == (i in expected), i
    got_ids, got_hashes, got_expiry = many.getApprovedRecords(doctor)
    assert list(got_ids) == expected
    assert [HexBytes(h) for h in got_hashes] == [HexBytes((i + 1).to_bytes(32, "big")) for i in expected]
    assert got_expiry == expires_at

    many.revokeRecords(doctor, [256, 0], sender=patient2)
    assert list(many.getApprovedRecords(doctor)[0]) == [255, 257, 299]
    assert not many.canRead(doctor, 256) and not many.canRead(doctor, 0) and many.canRead(doctor, 257)
    with reverts_with(many.UnknownRecord, recordId=N_MANY):
        many.approveAccess(doctor, DAY, [N_MANY], sender=patient2)


def test_grant_of_every_record(many, patient2, doctor):
    approve_at(many, patient2, doctor, DAY, list(range(N_MANY)))
    assert list(many.getApprovedRecords(doctor)[0]) == list(range(N_MANY))
    assert many.canRead(doctor, N_MANY - 1) and not many.canRead(doctor, N_MANY)
