"""Regression tests for the four low-severity findings of the v1 audit (issue 12).

Each test reproduces one finding's attack or gap and states it in its docstring; each fails on the v1
contracts (commit 5c11828) and passes on v2.
"""

from __future__ import annotations

from . import eip712
from .conftest import DAY
from .helpers import head_time, next_block_at, reverts_with, warp_to

PATIENT_INDEX = 1
TWO_DAYS = 2 * DAY
DEFAULT_ADMIN_ROLE = b"\x00" * 32


def test_audit_1_unrelayed_approval_cannot_restore_access_after_revoke_and_invalidate(
    seeded, patient, doctor, relayer, chain_id
):
    """v1 finding: a signed `ApproveAccess` that was never relayed stays valid until its deadline even
    after the patient revokes directly, and anyone holding it can restore the doctor's access (v1 had
    no way to cancel a signature short of spending its nonce on some other action).

    v2: after the direct revoke the patient calls `invalidateNonce()`; the held signature (here both
    an `ApproveAccess` and an `ApproveRecords` made for that nonce) then reverts and access stays off.
    """
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    key = eip712.dev_private_key(PATIENT_INDEX)
    deadline = head_time() + 30 * DAY
    seeded.approveAccess(doctor, DAY, [0, 1, 2], sender=patient)
    # The patient signs a renewal for the app to relay, then changes their mind before it is sent.
    held_access = eip712.sign(key, eip712.approve_access(doctor.address, 30 * DAY, [0, 1, 2], 0, deadline, **dom))
    held_records = eip712.sign(key, eip712.approve_records(doctor.address, 30 * DAY, 0, [0b111], 0, deadline, **dom))
    seeded.revokeAccess(doctor, sender=patient)
    seeded.invalidateNonce(sender=patient)  # "cancel anything I signed but was not sent"

    with reverts_with(seeded.InvalidAccountNonce, account=patient.address, currentNonce=1):
        seeded.approveAccessBySig(doctor, 30 * DAY, [0, 1, 2], 0, deadline, held_access, sender=relayer)
    with reverts_with(seeded.InvalidAccountNonce, account=patient.address, currentNonce=1):
        seeded.approveRecordsBySig(doctor, 30 * DAY, 0, [0b111], 0, deadline, held_records, sender=relayer)
    assert not any(seeded.canRead(doctor, i) for i in range(3))
    assert list(seeded.getApprovedRecords(doctor)[0]) == []


def test_audit_2_unused_extension_signature_cannot_extend_a_later_grant(seeded, patient, doctor, relayer, chain_id):
    """v1 finding: an unused `ApproveExtension` signature can extend a later, different grant: it named
    only the doctor and the amount, so once the patient had revoked and granted again, a doctor who
    re-requested the same amount could have the old signature relayed onto the new grant.

    v2: the signature names the grant's generation; relayed onto a later grant it reverts with
    `GrantChanged` and the new grant's expiry is unchanged.
    """
    dom = {"chain_id": chain_id, "verifying_contract": seeded.address}
    key = eip712.dev_private_key(PATIENT_INDEX)
    deadline = head_time() + 30 * DAY
    seeded.approveAccess(doctor, DAY, [0, 1, 2], sender=patient)
    old_generation = seeded.getGrant(doctor)[3]
    seeded.requestExtension(10 * DAY, sender=doctor)
    unused = eip712.sign(key, eip712.approve_extension(doctor.address, 10 * DAY, old_generation, 0, deadline, **dom))
    # The patient never sends it; they revoke, and later give a short, narrower grant.
    seeded.revokeAccess(doctor, sender=patient)
    seeded.approveAccess(doctor, 3600, [0], sender=patient)
    expires_at, _, _, generation, _ = seeded.getGrant(doctor)
    assert generation == old_generation + 1
    seeded.requestExtension(10 * DAY, sender=doctor)  # the doctor asks for the same amount again

    with reverts_with(seeded.GrantChanged, current=generation, signed=old_generation):
        seeded.approveExtensionBySig(doctor, 10 * DAY, old_generation, 0, deadline, unused, sender=relayer)
    assert seeded.getGrant(doctor)[0] == expires_at
    warp_to(expires_at)
    assert not seeded.canRead(doctor, 0)


def test_audit_3_unregistered_doctor_loses_reads_and_re_registering_does_not_revive(
    seeded, factory, deployer, patient, doctor
):
    """v1 finding: `canRead` ignored the registry, so an unregistered doctor kept on-chain reads until
    the grant expired, and re-registering the doctor revived grants approved before.

    v2: `canRead` (and `getApprovedRecords`) is false once the registrar unregisters the doctor, and
    stays false after re-registration.
    """
    seeded.approveAccess(doctor, DAY, [0, 1, 2], sender=patient)
    assert seeded.canRead(doctor, 0)
    factory.unregisterDoctor(doctor, sender=deployer)
    assert not any(seeded.canRead(doctor, i) for i in range(3))
    assert list(seeded.getApprovedRecords(doctor)[0]) == []
    factory.registerDoctor(doctor, sender=deployer)
    assert not any(seeded.canRead(doctor, i) for i in range(3))
    assert list(seeded.getApprovedRecords(doctor)[0]) == []


def test_audit_4_admin_and_registrar_are_separate_and_admin_transfer_waits(
    project, deployer, relayer, stranger, doctor
):
    """v1 finding: one key (the deployer) held both the admin and the registrar role, and the admin
    role could be handed over (or taken by a leaked key) immediately with `grantRole`.

    v2: the factory takes an admin, a separate registrar and an admin delay
    (`AccessControlDefaultAdminRules`); the admin role cannot be granted directly, and a transfer
    takes effect only when the new admin accepts after the delay.
    """
    factory = deployer.deploy(project.HealthRecordFactory, TWO_DAYS, deployer, relayer)
    registrar_role = factory.REGISTRAR_ROLE()
    assert factory.defaultAdmin() == deployer.address and factory.defaultAdminDelay() == TWO_DAYS
    assert factory.hasRole(registrar_role, relayer) and not factory.hasRole(registrar_role, deployer)
    assert not factory.hasRole(DEFAULT_ADMIN_ROLE, relayer)
    factory.registerDoctor(doctor, sender=relayer)
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=deployer.address):
        factory.registerDoctor(stranger, sender=deployer)  # the admin is not a registrar

    with reverts_with(factory.AccessControlEnforcedDefaultAdminRules):
        factory.grantRole(DEFAULT_ADMIN_ROLE, stranger, sender=deployer)  # no one-step hand-over
    start = head_time() + 10
    next_block_at(start)
    factory.beginDefaultAdminTransfer(stranger, sender=deployer)
    next_block_at(start + TWO_DAYS)  # the schedule is the last moment it is still too early
    with reverts_with(factory.AccessControlEnforcedDefaultAdminDelay, schedule=start + TWO_DAYS):
        factory.acceptDefaultAdminTransfer(sender=stranger)
    assert factory.defaultAdmin() == deployer.address
    next_block_at(start + TWO_DAYS + 1)
    factory.acceptDefaultAdminTransfer(sender=stranger)
    assert factory.defaultAdmin() == stranger.address
    assert not factory.hasRole(DEFAULT_ADMIN_ROLE, deployer)
