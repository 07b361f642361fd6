"""HealthRecord: adding and reading records, ownership."""

from __future__ import annotations

import pytest
from hexbytes import HexBytes

from .conftest import HASH_A, HASH_B, HASH_C
from .helpers import assert_view_reverts, one_event, reverts_with

PRESCRIPTION, BILL, REPORT = 0, 1, 2


def test_identity(vault, factory, patient):
    assert vault.patient() == patient.address
    assert vault.owner() == patient.address
    assert vault.registry() == factory.address
    assert vault.recordCount() == 0


def test_add_record_all_kinds(vault, chain, patient):
    for expected_id, (kind, content) in enumerate([(PRESCRIPTION, HASH_A), (BILL, HASH_B), (REPORT, HASH_C)]):
        receipt = vault.addRecord(kind, content, sender=patient)
        event = one_event(receipt, vault, "RecordAdded")
        assert event["recordId"] == expected_id
        assert event["kind"] == kind
        assert event["author"] == patient.address
        assert HexBytes(event["contentHash"]) == HexBytes(content)
        assert vault.recordCount() == expected_id + 1

        got_kind, got_hash, timestamp, author = vault.getRecord(expected_id)
        assert got_kind == kind
        assert HexBytes(got_hash) == HexBytes(content)
        assert timestamp == chain.blocks[receipt.block_number].timestamp
        assert author == patient.address


@pytest.mark.parametrize(
    ("method", "kind"), [("addPrescription", PRESCRIPTION), ("addBill", BILL), ("addReport", REPORT)]
)
def test_add_typed_record(vault, patient, method, kind):
    receipt = getattr(vault, method)(HASH_B, sender=patient)
    event = one_event(receipt, vault, "RecordAdded")
    assert (event["recordId"], event["kind"], event["author"]) == (0, kind, patient.address)
    assert vault.getRecord(0)[0] == kind
    assert HexBytes(vault.getRecord(0)[1]) == HexBytes(HASH_B)


@pytest.mark.parametrize("method", ["addPrescription", "addBill", "addReport"])
def test_typed_add_reverts(vault, patient, doctor, stranger, method):
    fn = getattr(vault, method)
    with reverts_with(vault.NotPatient, caller=stranger.address):
        fn(HASH_A, sender=stranger)
    with reverts_with(vault.NotPatient, caller=doctor.address):
        fn(HASH_A, sender=doctor)
    with reverts_with(vault.EmptyContentHash):
        fn(b"\x00" * 32, sender=patient)
    assert vault.recordCount() == 0


def test_add_record_reverts(vault, patient, relayer):
    with reverts_with(vault.NotPatient, caller=relayer.address):
        vault.addRecord(REPORT, HASH_A, sender=relayer)
    with reverts_with(vault.InvalidRecordKind, kind=3):
        vault.addRecord(3, HASH_A, sender=patient)
    with reverts_with(vault.InvalidRecordKind, kind=255):
        vault.addRecord(255, HASH_A, sender=patient)
    with reverts_with(vault.EmptyContentHash):
        vault.addRecord(REPORT, b"\x00" * 32, sender=patient)
    assert vault.recordCount() == 0


def test_same_hash_twice_gets_two_ids(vault, patient):
    vault.addReport(HASH_A, sender=patient)
    vault.addReport(HASH_A, sender=patient)
    assert vault.recordCount() == 2
    assert HexBytes(vault.getRecord(0)[1]) == HexBytes(vault.getRecord(1)[1]) == HexBytes(HASH_A)


def test_get_record_unknown_id(seeded):
    assert_view_reverts(seeded, "getRecord", (3,), "UnknownRecord", recordId=3)
    assert_view_reverts(seeded, "getRecord", (2**256 - 1,), "UnknownRecord", recordId=2**256 - 1)
    assert seeded.getRecord(2)[0] == REPORT


def test_patient_reads_everything_others_nothing(seeded, patient, doctor, stranger):
    for record_id in range(3):
        assert seeded.canRead(patient, record_id)
        assert not seeded.canRead(doctor, record_id)
        assert not seeded.canRead(stranger, record_id)
    # Nobody, not even the patient, can read a record that does not exist.
    assert not seeded.canRead(patient, 3)
    assert not seeded.canRead(patient, 2**256 - 1)


def test_views_of_unknown_doctor(seeded, doctor):
    ids, hashes, expires_at = seeded.getApprovedRecords(doctor)
    assert (list(ids), list(hashes), expires_at) == ([], [], 0)
    assert tuple(seeded.getGrant(doctor))[:3] == (0, 0, False)
