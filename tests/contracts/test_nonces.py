"""Cancellable signatures and grant generations (v2).

`invalidateNonce()` consumes the caller's current nonce (patient or doctor), so any action they
signed with it but that was not relayed yet becomes unusable; `invalidateNonceBySig` does the same
for a signer who has no gas (the signed nonce is the one consumed). Every read-grant approval starts
a new generation (`getGrant(doctor)[3]`), which an `ApproveExtension` signature names.
"""

from __future__ import annotations

import pytest

from . import eip712
from .conftest import DAY
from .helpers import head_time, one_event, reverts_with

PATIENT_INDEX, DOCTOR_INDEX, STRANGER_INDEX = 1, 2, 6


@pytest.fixture
def dom(seeded, chain_id):
    return {"chain_id": chain_id, "verifying_contract": seeded.address}


@pytest.fixture(scope="module")
def pkey():
    return eip712.dev_private_key(PATIENT_INDEX)


@pytest.fixture(scope="module")
def dkey():
    return eip712.dev_private_key(DOCTOR_INDEX)


# ------------------------------------------------------------------ invalidateNonce


def test_patient_invalidates_an_unsent_signature(seeded, patient, doctor, relayer, dom, pkey):
    deadline = head_time() + 3600
    unsent = eip712.sign(pkey, eip712.approve_access(doctor.address, DAY, [0], 0, deadline, **dom))
    assert seeded.invalidateNonce.call(sender=patient) == 0  # the return value: the consumed nonce
    receipt = seeded.invalidateNonce(sender=patient)
    assert one_event(receipt, seeded, "NonceInvalidated") == {"account": patient.address, "nonce": 0}
    assert seeded.nonces(patient) == 1
    with reverts_with(seeded.InvalidAccountNonce, account=patient.address, currentNonce=1):
        seeded.approveAccessBySig(doctor, DAY, [0], 0, deadline, unsent, sender=relayer)
    assert not seeded.canRead(doctor, 0)
    # A second call consumes the next one.
    receipt = seeded.invalidateNonce(sender=patient)
    assert one_event(receipt, seeded, "NonceInvalidated")["nonce"] == 1
    assert seeded.nonces(patient) == 2


def test_doctor_invalidates_an_unsent_signature(seeded, patient, doctor, relayer, dom, dkey):
    deadline = head_time() + 3600
    unsent = eip712.sign(dkey, eip712.request_access(doctor.address, 0, deadline, **dom))
    receipt = seeded.invalidateNonce(sender=doctor)
    assert one_event(receipt, seeded, "NonceInvalidated") == {"account": doctor.address, "nonce": 0}
    assert (seeded.nonces(doctor), seeded.nonces(patient)) == (1, 0)  # only the caller's
    with reverts_with(seeded.InvalidAccountNonce, account=doctor.address, currentNonce=1):
        seeded.requestAccessBySig(doctor, 0, deadline, unsent, sender=relayer)
    assert seeded.getGrant(doctor)[2] is False


def test_anyone_may_invalidate_their_own_nonce(seeded, stranger, patient):
    """Nonces are per signer: an address that is neither patient nor doctor only burns its own."""
    seeded.invalidateNonce(sender=stranger)
    assert seeded.nonces(stranger) == 1 and seeded.nonces(patient) == 0


def test_nonces_are_per_vault(factory, project, seeded, patient, patient2, doctor, relayer):
    factory.createVault(patient2, sender=relayer)
    other = project.HealthRecord.at(factory.vaultOf(patient2))
    seeded.invalidateNonce(sender=doctor)
    assert seeded.nonces(doctor) == 1 and other.nonces(doctor) == 0


def test_invalidate_nonce_by_sig(seeded, patient, doctor, relayer, dom, pkey, dkey):
    deadline = head_time() + 3600
    unsent = eip712.sign(pkey, eip712.approve_write(doctor.address, DAY, 0, deadline, **dom))
    cancel = eip712.sign(pkey, eip712.invalidate_nonce(patient.address, 0, deadline, **dom))
    receipt = seeded.invalidateNonceBySig(patient, 0, deadline, cancel, sender=relayer)
    assert one_event(receipt, seeded, "NonceInvalidated") == {"account": patient.address, "nonce": 0}
    with reverts_with(seeded.InvalidAccountNonce, account=patient.address, currentNonce=1):
        seeded.approveWriteBySig(doctor, DAY, 0, deadline, unsent, sender=relayer)
    assert not seeded.canWrite(doctor)

    # A doctor's cancellation, and one signed by somebody else for the doctor.
    forged = eip712.sign(pkey, eip712.invalidate_nonce(doctor.address, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):
        seeded.invalidateNonceBySig(doctor, 0, deadline, forged, sender=relayer)
    late = eip712.sign(dkey, eip712.invalidate_nonce(doctor.address, 1, deadline, **dom))
    with reverts_with(seeded.InvalidAccountNonce, account=doctor.address, currentNonce=0):
        seeded.invalidateNonceBySig(doctor, 1, deadline, late, sender=relayer)
    own = eip712.sign(dkey, eip712.invalidate_nonce(doctor.address, 0, deadline, **dom))
    with reverts_with(seeded.InvalidSignature):  # the account is signed
        seeded.invalidateNonceBySig(patient, 1, deadline, own, sender=relayer)
    seeded.invalidateNonceBySig(doctor, 0, deadline, own, sender=relayer)
    assert seeded.nonces(doctor) == 1


# ------------------------------------------------------------------ generations and ApproveExtension


def test_generation_grows_with_every_approval_only(seeded, patient, doctor, doctor2):
    assert seeded.getGrant(doctor)[3] == 0
    seeded.approveAccess(doctor, DAY, [0], sender=patient)
    assert seeded.getGrant(doctor)[3] == 1
    seeded.requestExtension(60, sender=doctor)
    seeded.approveExtension(doctor, 60, sender=patient)
    seeded.revokeRecords(doctor, [0], sender=patient)
    seeded.revokeAccess(doctor, sender=patient)
    seeded.requestAccess(sender=doctor)
    seeded.denyAccess(doctor, sender=patient)
    assert seeded.getGrant(doctor)[3] == 1  # none of those is an approval
    seeded.approveRecords(doctor, DAY, 0, [1], sender=patient)
    assert seeded.getGrant(doctor)[3] == 2
    assert seeded.getGrant(doctor2)[3] == 0  # per doctor


def test_extension_signature_names_its_grant(seeded, patient, doctor, relayer, dom, pkey):
    seeded.approveAccess(doctor, DAY, [0], sender=patient)
    seeded.requestExtension(500, sender=doctor)
    deadline = head_time() + 3600
    wrong = eip712.sign(pkey, eip712.approve_extension(doctor.address, 500, 7, 0, deadline, **dom))
    with reverts_with(seeded.GrantChanged, current=1, signed=7):
        seeded.approveExtensionBySig(doctor, 500, 7, 0, deadline, wrong, sender=relayer)
    assert seeded.nonces(patient) == 0 and seeded.getGrant(doctor)[1] == 500
    right = eip712.sign(pkey, eip712.approve_extension(doctor.address, 500, 1, 0, deadline, **dom))
    seeded.approveExtensionBySig(doctor, 500, 1, 0, deadline, right, sender=relayer)
    assert seeded.getGrant(doctor)[1] == 0
