"""The HealthRecord implementation behind the clones has no patient and refuses every use."""

from __future__ import annotations

import pytest

from . import eip712
from .conftest import DAY, HASH_A
from .helpers import assert_view_reverts, head_time, reverts_with

ANY_SIG = b"\x01" * 65


@pytest.fixture
def impl_sig(implementation, chain_id):
    """Signs typed data for the implementation's own domain (a signature that would be valid there)."""

    def sign(key_index, payload_builder, *args):
        deadline = head_time() + 3600
        dom = {"chain_id": chain_id, "verifying_contract": implementation.address}
        payload = payload_builder(*args, 0, deadline, **dom)
        return deadline, eip712.sign(eip712.dev_private_key(key_index), payload)

    return sign


def test_implementation_has_no_patient(implementation, factory):
    assert_view_reverts(implementation, "patient", (), "ImplementationNotUsable")
    assert_view_reverts(implementation, "owner", (), "ImplementationNotUsable")
    assert implementation.registry() == factory.address
    assert implementation.recordCount() == 0


def test_patient_functions_refuse(implementation, deployer, doctor, stranger):
    for caller in (deployer, stranger):
        with reverts_with(implementation.ImplementationNotUsable):
            implementation.addRecord(0, HASH_A, sender=caller)
        with reverts_with(implementation.ImplementationNotUsable):
            implementation.addPrescription(HASH_A, sender=caller)
        with reverts_with(implementation.ImplementationNotUsable):
            implementation.addBill(HASH_A, sender=caller)
        with reverts_with(implementation.ImplementationNotUsable):
            implementation.addReport(HASH_A, sender=caller)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveAccess(doctor, DAY, [0], sender=deployer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.denyAccess(doctor, sender=deployer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.revokeAccess(doctor, sender=deployer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.revokeRecords(doctor, [0], sender=deployer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveExtension(doctor, 60, sender=deployer)
    # v2
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveRecords(doctor, DAY, 0, [1], sender=deployer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveWrite(doctor, DAY, sender=deployer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.revokeWrite(doctor, sender=deployer)
    assert implementation.recordCount() == 0


def test_doctor_functions_refuse(implementation, doctor):
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.requestAccess(sender=doctor)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.requestExtension(60, sender=doctor)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.addRecordAsDoctor(0, HASH_A, sender=doctor)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.invalidateNonce(sender=doctor)
    assert tuple(implementation.getGrant(doctor)) == (0, 0, False, 0, 0)
    assert implementation.nonces(doctor) == 0


def test_signed_functions_refuse(implementation, impl_sig, doctor, relayer):
    # Patient actions: there is no patient to have signed.
    deadline = head_time() + 3600
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.addRecordBySig(0, HASH_A, 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveAccessBySig(doctor, DAY, [0], 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.denyAccessBySig(doctor, 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.revokeAccessBySig(doctor, 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.revokeRecordsBySig(doctor, [0], 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveExtensionBySig(doctor, 60, 0, 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveRecordsBySig(doctor, DAY, 0, [1], 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.approveWriteBySig(doctor, DAY, 0, deadline, ANY_SIG, sender=relayer)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.revokeWriteBySig(doctor, 0, deadline, ANY_SIG, sender=relayer)
    # Doctor actions: even a signature valid for the implementation's domain is refused.
    deadline, sig = impl_sig(2, eip712.request_access, doctor.address)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.requestAccessBySig(doctor, 0, deadline, sig, sender=relayer)
    deadline, sig = impl_sig(2, eip712.request_extension, doctor.address, 60)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.requestExtensionBySig(doctor, 60, 0, deadline, sig, sender=relayer)
    deadline, sig = impl_sig(2, eip712.add_record_as_doctor, doctor.address, 0, HASH_A)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.addRecordAsDoctorBySig(doctor, 0, HASH_A, 0, deadline, sig, sender=relayer)
    deadline, sig = impl_sig(2, eip712.invalidate_nonce, doctor.address)
    with reverts_with(implementation.ImplementationNotUsable):
        implementation.invalidateNonceBySig(doctor, 0, deadline, sig, sender=relayer)
    assert implementation.nonces(doctor) == 0


def test_implementation_views_are_empty(implementation, doctor):
    assert not implementation.canRead(doctor, 0)
    assert not implementation.canWrite(doctor) and implementation.getWriteGrant(doctor) == 0
    ids, hashes, expires_at = implementation.getApprovedRecords(doctor)
    assert (list(ids), list(hashes), expires_at) == ([], [], 0)
    assert_view_reverts(implementation, "getRecord", (0,), "UnknownRecord", recordId=0)
