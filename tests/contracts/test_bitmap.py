"""Bitmap approvals (v2): `approveRecords(doctor, duration, startWord, words)`.

Bit `i` of `words[j]` selects record `(startWord + j) * 256 + i`. An approval replaces the doctor's
read grant (like `approveAccess`), answers a pending request, and emits the words rather than an id
list, so its cost does not grow with the number of records selected.
"""

from __future__ import annotations

import pytest
from hexbytes import HexBytes

from . import eip712
from .conftest import DAY, HASH_A, HASH_C, N_MANY
from .helpers import head_time, next_block_at, one_event, reverts_with

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
bitmap = eip712.bitmap


def approve_records_at(vault, patient, doctor, duration, start_word, words, at=None):
    at = head_time() + 10 if at is None else at
    next_block_at(at)
    receipt = vault.approveRecords(doctor, duration, start_word, words, sender=patient)
    return receipt, at + duration


def readable(vault, reader, ids):
    return [i for i in ids if vault.canRead(reader, i)]


def approved_ids(vault, doctor):
    return list(vault.getApprovedRecords(doctor)[0])


# ------------------------------------------------------------------ success paths


def test_approve_records_one_word(seeded, patient, doctor, doctor2):
    assert seeded.getGrant(doctor)[3] == 0
    receipt, expires_at = approve_records_at(seeded, patient, doctor, DAY, 0, [0b101])
    event = one_event(receipt, seeded, "RecordsApproved")
    assert event == {"doctor": doctor.address, "expiresAt": expires_at, "startWord": 0, "words": [0b101]}
    assert readable(seeded, doctor, range(4)) == [0, 2]
    ids, hashes, got_expiry = seeded.getApprovedRecords(doctor)
    assert (list(ids), [HexBytes(h) for h in hashes], got_expiry) == (
        [0, 2],
        [HexBytes(HASH_A), HexBytes(HASH_C)],
        expires_at,
    )
    assert tuple(seeded.getGrant(doctor)) == (expires_at, 0, False, 1, 1)  # a new generation, registration 1
    assert readable(seeded, doctor2, range(3)) == []


def test_approve_records_answers_a_pending_request(seeded, patient, doctor):
    seeded.requestAccess(sender=doctor)
    _, expires_at = approve_records_at(seeded, patient, doctor, DAY, 0, [0b010])
    assert tuple(seeded.getGrant(doctor)) == (expires_at, 0, False, 1, 1)
    assert readable(seeded, doctor, range(3)) == [1]


def test_multi_word(many, patient2, doctor):
    selected = [0, 1, 255, 256, 299]
    words = bitmap(selected)
    assert len(words) == 2
    receipt, expires_at = approve_records_at(many, patient2, doctor, DAY, 0, words)
    assert list(one_event(receipt, many, "RecordsApproved")["words"]) == words
    assert approved_ids(many, doctor) == selected
    assert readable(many, doctor, [*selected, 2, 254, 257, 298, N_MANY]) == selected
    assert many.getApprovedRecords(doctor)[2] == expires_at


def test_start_word_above_zero(many, patient2, doctor):
    receipt, _ = approve_records_at(many, patient2, doctor, DAY, 1, [1 | 1 << 43])
    event = one_event(receipt, many, "RecordsApproved")
    assert (event["startWord"], list(event["words"])) == (1, [1 | 1 << 43])
    assert approved_ids(many, doctor) == [256, 299]
    assert not many.canRead(doctor, 0) and not many.canRead(doctor, 43)


def test_zero_words_are_skipped(many, seeded, patient, patient2, doctor):
    # A leading zero word, and zero words beyond the last record: both allowed.
    receipt, _ = approve_records_at(many, patient2, doctor, DAY, 0, [0, 1 << 3, 0, 0])
    assert list(one_event(receipt, many, "RecordsApproved")["words"]) == [0, 1 << 3, 0, 0]
    assert approved_ids(many, doctor) == [259]
    approve_records_at(seeded, patient, doctor, DAY, 0, [0b100, 0, 0])
    assert approved_ids(seeded, doctor) == [2]


def test_every_record_and_a_full_word(many, patient2, doctor):
    approve_records_at(many, patient2, doctor, DAY, 0, bitmap(list(range(N_MANY))))
    assert approved_ids(many, doctor) == list(range(N_MANY))
    approve_records_at(many, patient2, doctor, DAY, 0, [UINT256_MAX])  # all of word 0
    assert approved_ids(many, doctor) == list(range(256))


def test_replaces_a_grant(seeded, patient, doctor):
    seeded.approveAccess(doctor, DAY, [0, 1], sender=patient)
    seeded.requestExtension(600, sender=doctor)
    _, expires_at = approve_records_at(seeded, patient, doctor, 3600, 0, [0b100])
    assert approved_ids(seeded, doctor) == [2]  # the old records are gone
    assert tuple(seeded.getGrant(doctor)) == (expires_at, 0, False, 2, 1)  # extension request dropped
    # And a list approval replaces a bitmap one the same way.
    seeded.approveAccess(doctor, DAY, [1], sender=patient)
    assert approved_ids(seeded, doctor) == [1]
    approve_records_at(seeded, patient, doctor, DAY, 0, [0b001])
    assert approved_ids(seeded, doctor) == [0]
    assert seeded.getGrant(doctor)[3] == 4


def test_revoke_records_after_bitmap_approval(seeded, patient, doctor):
    approve_records_at(seeded, patient, doctor, DAY, 0, [0b111])
    seeded.revokeRecords(doctor, [1], sender=patient)
    assert approved_ids(seeded, doctor) == [0, 2]
    seeded.revokeAccess(doctor, sender=patient)
    assert approved_ids(seeded, doctor) == []


# ------------------------------------------------------------------ revert paths


def test_bit_at_record_count(seeded, many, patient, patient2, doctor):
    with reverts_with(seeded.UnknownRecord, recordId=3):
        seeded.approveRecords(doctor, DAY, 0, [0b1111], sender=patient)
    # The lowest bad id is reported, whatever else is set.
    with reverts_with(seeded.UnknownRecord, recordId=4):
        seeded.approveRecords(doctor, DAY, 0, [1 | 1 << 4 | 1 << 200], sender=patient)
    with reverts_with(many.UnknownRecord, recordId=N_MANY):
        many.approveRecords(doctor, DAY, 0, bitmap([0, N_MANY]), sender=patient2)
    with reverts_with(many.UnknownRecord, recordId=N_MANY + 1):
        many.approveRecords(doctor, DAY, 1, [1 << (N_MANY + 1 - 256)], sender=patient2)
    assert approved_ids(seeded, doctor) == [] and approved_ids(many, doctor) == []


def test_bit_in_a_later_word(seeded, patient, doctor):
    with reverts_with(seeded.UnknownRecord, recordId=2 * 256 + 7):
        seeded.approveRecords(doctor, DAY, 0, [1, 0, 1 << 7], sender=patient)
    with reverts_with(seeded.UnknownRecord, recordId=256):
        seeded.approveRecords(doctor, DAY, 1, [1], sender=patient)
    assert seeded.getGrant(doctor)[3] == 0


def test_huge_start_word(seeded, patient, doctor):
    with reverts_with(seeded.UnknownRecord, recordId=(2**200 << 8) + 3):
        seeded.approveRecords(doctor, DAY, 2**200, [1 << 3], sender=patient)
    # At the top of the range the reported id wraps, but the call still reverts.
    for start_word, words in ((UINT256_MAX, [1]), (UINT256_MAX, [0, 1]), (2**248, [1])):
        with reverts_with(seeded.UnknownRecord):
            seeded.approveRecords(doctor, DAY, start_word, words, sender=patient)
    assert approved_ids(seeded, doctor) == []


def test_no_bit_set(seeded, patient, doctor):
    for words in ([], [0], [0, 0, 0]):
        with reverts_with(seeded.NoRecordsSelected):
            seeded.approveRecords(doctor, DAY, 0, words, sender=patient)
    with reverts_with(seeded.NoRecordsSelected):
        seeded.approveRecords(doctor, DAY, 2**200, [0], sender=patient)  # zero words are never checked


def test_other_reverts(seeded, patient, doctor, stranger):
    with reverts_with(seeded.ZeroDuration):
        seeded.approveRecords(doctor, 0, 0, [1], sender=patient)
    with reverts_with(seeded.DurationTooLong, duration=UINT64_MAX):
        seeded.approveRecords(doctor, UINT64_MAX, 0, [1], sender=patient)
    with reverts_with(seeded.NotPatient, caller=doctor.address):
        seeded.approveRecords(doctor, DAY, 0, [1], sender=doctor)
    with reverts_with(seeded.NotPatient, caller=stranger.address):
        seeded.approveRecords(doctor, DAY, 0, [1], sender=stranger)
    with reverts_with(seeded.NotRegisteredDoctor, account=stranger.address):
        seeded.approveRecords(stranger, DAY, 0, [1], sender=patient)
    assert tuple(seeded.getGrant(doctor)) == (0, 0, False, 0, 0)


def test_failed_approval_keeps_the_old_grant(seeded, patient, doctor):
    _, expires_at = approve_records_at(seeded, patient, doctor, DAY, 0, [0b011])
    with reverts_with(seeded.UnknownRecord, recordId=3):
        seeded.approveRecords(doctor, 60, 0, [0b1100], sender=patient)
    assert approved_ids(seeded, doctor) == [0, 1]
    assert tuple(seeded.getGrant(doctor)) == (expires_at, 0, False, 1, 1)


# ------------------------------------------------------------------ signed variant: rules


@pytest.fixture
def dom(seeded, chain_id):
    return {"chain_id": chain_id, "verifying_contract": seeded.address}


def test_approve_records_by_sig_binds_every_field(seeded, patient, doctor, doctor2, relayer, dom):
    key = eip712.dev_private_key(1)
    deadline = head_time() + 3600
    sig = eip712.sign(key, eip712.approve_records(doctor.address, DAY, 0, [0b011], 0, deadline, **dom))
    for args in (
        (doctor2, DAY, 0, [0b011]),
        (doctor, DAY + 1, 0, [0b011]),
        (doctor, DAY, 1, [0b011]),
        (doctor, DAY, 0, [0b111]),
        (doctor, DAY, 0, [0b011, 0]),  # an extra zero word changes the hash too
    ):
        with reverts_with(seeded.InvalidSignature):
            seeded.approveRecordsBySig(*args, 0, deadline, sig, sender=relayer)
    bad = eip712.sign(key, eip712.approve_records(doctor.address, DAY, 0, [0b1000], 0, deadline, **dom))
    with reverts_with(seeded.UnknownRecord, recordId=3):
        seeded.approveRecordsBySig(doctor, DAY, 0, [0b1000], 0, deadline, bad, sender=relayer)
    assert seeded.nonces(patient) == 0
    receipt = seeded.approveRecordsBySig(doctor, DAY, 0, [0b011], 0, deadline, sig, sender=relayer)
    assert list(one_event(receipt, seeded, "RecordsApproved")["words"]) == [0b011]
    assert approved_ids(seeded, doctor) == [0, 1]
