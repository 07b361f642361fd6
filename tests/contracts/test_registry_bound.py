"""Registry-bound grants (v2).

Every read and write grant remembers the doctor's registration id (`factory.registrationOf`, which
grows with every re-registration). A grant counts only while that registration is current: after an
unregistration `canRead`, `canWrite`, `getWriteGrant` and `getApprovedRecords` report nothing, and
registering the doctor again does not bring the grant back; a grant approved after re-registration
works. Answering a pending request binds the grant to the registration the request was made under.
"""

from __future__ import annotations

import pytest

from .conftest import DAY
from .helpers import reverts_with

NEW_HASH = bytes.fromhex("66" * 32)


@pytest.fixture
def granted(seeded, patient, doctor):
    """The doctor holds a read grant on records 0 and 2 and a write grant, both for a day."""
    seeded.approveAccess(doctor, DAY, [0, 2], sender=patient)
    seeded.approveWrite(doctor, DAY, sender=patient)
    assert seeded.canRead(doctor, 0) and seeded.canWrite(doctor)
    return seeded


def no_access(vault, doctor) -> bool:
    ids, hashes, expires_at = vault.getApprovedRecords(doctor)
    return (
        not any(vault.canRead(doctor, i) for i in range(vault.recordCount()))
        and (list(ids), list(hashes), expires_at) == ([], [], 0)
        and not vault.canWrite(doctor)
        and vault.getWriteGrant(doctor) == 0
    )


def test_registration_ids(factory, deployer, doctor, stranger):
    first = factory.registrationOf(doctor)
    assert first >= 1 and factory.registrationOf(stranger) == 0
    factory.unregisterDoctor(doctor, sender=deployer)
    assert factory.registrationOf(doctor) == 0 and not factory.isDoctor(doctor)
    factory.registerDoctor(doctor, sender=deployer)
    assert factory.registrationOf(doctor) == first + 1 and factory.isDoctor(doctor)


def test_unregistering_ends_read_and_write_grants(granted, factory, deployer, doctor, doctor2, patient):
    expires_at = granted.getGrant(doctor)[0]
    granted.approveAccess(doctor2, DAY, [1], sender=patient)
    factory.unregisterDoctor(doctor, sender=deployer)
    assert no_access(granted, doctor)
    assert granted.getGrant(doctor)[0] == expires_at  # the raw grant is still reported
    assert granted.canRead(doctor2, 1)  # other doctors are unaffected
    assert granted.canRead(patient, 0)
    with reverts_with(granted.NotRegisteredDoctor, account=doctor.address):
        granted.addRecordAsDoctor(0, NEW_HASH, sender=doctor)


def test_re_registering_does_not_revive_grants(granted, factory, deployer, doctor):
    factory.unregisterDoctor(doctor, sender=deployer)
    factory.registerDoctor(doctor, sender=deployer)
    assert no_access(granted, doctor)
    with reverts_with(granted.NoWriteGrant, doctor=doctor.address):
        granted.addRecordAsDoctor(0, NEW_HASH, sender=doctor)
    with reverts_with(granted.NoActiveGrant, doctor=doctor.address):
        granted.requestExtension(60, sender=doctor)


def test_new_grants_after_re_registration_work(granted, factory, deployer, patient, doctor):
    factory.unregisterDoctor(doctor, sender=deployer)
    factory.registerDoctor(doctor, sender=deployer)
    granted.approveRecords(doctor, DAY, 0, [0b010], sender=patient)
    granted.approveWrite(doctor, DAY, sender=patient)
    assert [i for i in range(3) if granted.canRead(doctor, i)] == [1]
    assert granted.canWrite(doctor) and granted.getWriteGrant(doctor) > 0
    granted.addRecordAsDoctor(0, NEW_HASH, sender=doctor)
    assert granted.getRecord(3)[3] == doctor.address


def test_approving_an_unregistered_doctor_without_request_reverts(seeded, factory, deployer, patient, doctor):
    factory.unregisterDoctor(doctor, sender=deployer)
    with reverts_with(seeded.NotRegisteredDoctor, account=doctor.address):
        seeded.approveAccess(doctor, DAY, [0], sender=patient)
    with reverts_with(seeded.NotRegisteredDoctor, account=doctor.address):
        seeded.approveRecords(doctor, DAY, 0, [1], sender=patient)
    with reverts_with(seeded.NotRegisteredDoctor, account=doctor.address):
        seeded.approveWrite(doctor, DAY, sender=patient)


@pytest.mark.parametrize("how", ["approveAccess", "approveRecords"])
def test_answering_a_request_after_unregistration_grants_nothing(seeded, factory, deployer, patient, doctor, how):
    seeded.requestAccess(sender=doctor)
    factory.unregisterDoctor(doctor, sender=deployer)
    if how == "approveAccess":
        seeded.approveAccess(doctor, DAY, [0, 1], sender=patient)  # succeeds (the registry is not asked)...
    else:
        seeded.approveRecords(doctor, DAY, 0, [0b011], sender=patient)
    assert seeded.getGrant(doctor)[0] > 0 and seeded.getGrant(doctor)[2] is False  # ...answers the request...
    assert no_access(seeded, doctor)  # ...and grants nothing,
    factory.registerDoctor(doctor, sender=deployer)
    assert no_access(seeded, doctor)  # not even after re-registration.


def test_request_under_a_new_registration_ends_the_old_grant(granted, factory, deployer, patient, doctor):
    granted.requestExtension(600, sender=doctor)
    factory.unregisterDoctor(doctor, sender=deployer)
    factory.registerDoctor(doctor, sender=deployer)
    granted.requestAccess(sender=doctor)
    assert tuple(granted.getGrant(doctor)) == (0, 0, True, 1, 2)  # the request is under registration 2
    # Answering it under the new registration works.
    granted.approveAccess(doctor, DAY, [2], sender=patient)
    assert [i for i in range(3) if granted.canRead(doctor, i)] == [2]


def test_request_answered_under_the_same_registration_works(seeded, patient, doctor):
    seeded.requestAccess(sender=doctor)
    seeded.approveRecords(doctor, DAY, 0, [0b001], sender=patient)
    assert seeded.canRead(doctor, 0)
