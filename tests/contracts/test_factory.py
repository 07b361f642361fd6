"""HealthRecordFactory: per-patient clones (CREATE2 + immutable arg) and the doctor registry."""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from .helpers import (
    addr,
    decode_revert,
    head_time,
    next_block_at,
    one_event,
    reverts_with,
    warp_to,
)

ZERO = "0x0000000000000000000000000000000000000000"
DEFAULT_ADMIN_ROLE = b"\x00" * 32
REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
ADMIN = DEFAULT_ADMIN_ROLE


def clone_runtime_code(implementation: str, patient: str) -> bytes:
    """The clone's code: the EIP-1167 minimal proxy to `implementation`, then the patient's address
    (OpenZeppelin Clones' immutable argument, which the proxy never executes)."""
    return bytes.fromhex(f"363d3d373d3d3d363d73{implementation[2:]}5af43d82803e903d91602b57fd5bf3{patient[2:]}")


def clone_init_code(runtime_code: bytes) -> bytes:
    """A 10-byte constructor that returns `runtime_code` as the contract's code:
    PUSH2 <length> RETURNDATASIZE DUP2 PUSH1 0x0a RETURNDATASIZE CODECOPY RETURN."""
    return bytes.fromhex(f"61{len(runtime_code):04x}3d81600a3d39f3") + runtime_code


def create2_address(deployer: str, salt: bytes, init_code: bytes) -> str:
    digest = keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + keccak(init_code))
    return to_checksum_address(digest[12:])


DAY = 24 * 3600
TWO_DAYS = 2 * DAY

# ------------------------------------------------------------------ deployment


def test_session_factory_deployer_holds_admin_and_registrar_roles(factory, deployer, stranger):
    assert HexBytes(factory.REGISTRAR_ROLE()) == HexBytes(REGISTRAR_ROLE)
    assert HexBytes(factory.DEFAULT_ADMIN_ROLE()) == HexBytes(DEFAULT_ADMIN_ROLE)
    assert factory.hasRole(DEFAULT_ADMIN_ROLE, deployer)
    assert factory.hasRole(REGISTRAR_ROLE, deployer)
    assert not factory.hasRole(REGISTRAR_ROLE, stranger)
    assert not factory.hasRole(DEFAULT_ADMIN_ROLE, stranger)
    assert HexBytes(factory.getRoleAdmin(REGISTRAR_ROLE)) == HexBytes(DEFAULT_ADMIN_ROLE)
    assert HexBytes(factory.getRoleAdmin(DEFAULT_ADMIN_ROLE)) == HexBytes(DEFAULT_ADMIN_ROLE)


def test_implementation_is_deployed_by_factory_and_uses_it_as_registry(factory, implementation, chain):
    assert len(chain.provider.get_code(factory.implementation())) > 0
    assert implementation.registry() == factory.address


def test_supports_interface(factory):
    assert factory.supportsInterface(bytes.fromhex("01ffc9a7"))  # ERC-165
    assert factory.supportsInterface(bytes.fromhex("7965db0b"))  # IAccessControl
    assert not factory.supportsInterface(bytes.fromhex("ffffffff"))
    assert not factory.supportsInterface(bytes.fromhex("12345678"))


# ------------------------------------------------------------------ createVault


def test_predicted_address_matches_create2_off_chain(factory, patient, patient2):
    salt = int(patient.address, 16).to_bytes(32, "big")
    init_code = clone_init_code(clone_runtime_code(factory.implementation(), patient.address))
    expected = create2_address(factory.address, salt, init_code)
    assert factory.predictVaultAddress(patient) == expected
    assert factory.predictVaultAddress(patient2) != expected


def test_create_vault_by_relayer_patient_owns_it(factory, project, chain, patient, relayer):
    predicted = factory.predictVaultAddress(patient)
    assert factory.vaultOf(patient) == ZERO
    assert len(chain.provider.get_code(predicted)) == 0
    assert factory.createVault.call(patient, sender=relayer) == predicted  # the return value

    receipt = factory.createVault(patient, sender=relayer)

    event = one_event(receipt, factory, "VaultCreated")
    assert event["patient"] == patient.address
    assert event["vault"] == predicted
    assert factory.vaultOf(patient) == predicted

    vault = project.HealthRecord.at(predicted)
    assert vault.patient() == patient.address
    assert vault.owner() == patient.address
    assert vault.patient() != relayer.address
    assert vault.registry() == factory.address
    assert vault.recordCount() == 0

    # The clone is EIP-1167 code delegating to the implementation, with the patient appended.
    code = HexBytes(chain.provider.get_code(predicted))
    assert code == HexBytes(clone_runtime_code(factory.implementation(), patient.address))
    assert code[-20:] == HexBytes(patient.address)


def test_patient_can_create_own_vault(factory, project, patient2):
    receipt = factory.createVault(patient2, sender=patient2)
    vault = project.HealthRecord.at(factory.predictVaultAddress(patient2))
    assert one_event(receipt, factory, "VaultCreated")["vault"] == vault.address
    assert vault.patient() == patient2.address


def test_second_create_vault_reverts(factory, vault, patient, patient2, relayer):
    with reverts_with(factory.VaultAlreadyExists, patient=patient.address, vault=vault.address):
        factory.createVault(patient, sender=relayer)
    with reverts_with(factory.VaultAlreadyExists, patient=patient.address, vault=vault.address):
        factory.createVault(patient, sender=patient)
    # A different patient is unaffected.
    factory.createVault(patient2, sender=relayer)
    assert factory.vaultOf(patient2) == factory.predictVaultAddress(patient2)
    assert factory.vaultOf(patient2) != vault.address


def test_create_vault_rejects_zero_address(factory, relayer):
    with reverts_with(factory.ZeroAddress):
        factory.createVault(ZERO, sender=relayer)


def test_clones_are_independent(factory, project, vault, patient, patient2, relayer):
    factory.createVault(patient2, sender=relayer)
    other = project.HealthRecord.at(factory.vaultOf(patient2))
    vault.addReport(b"\x01" * 32, sender=patient)
    assert vault.recordCount() == 1
    assert other.recordCount() == 0
    with reverts_with(other.NotPatient, caller=patient.address):
        other.addReport(b"\x01" * 32, sender=patient)


# ------------------------------------------------------------------ doctor registry


def test_register_doctor(factory, deployer, stranger):
    assert not factory.isDoctor(stranger)
    receipt = factory.registerDoctor(stranger, sender=deployer)
    event = one_event(receipt, factory, "DoctorRegistered")
    assert event == {"doctor": stranger.address, "registrar": deployer.address}
    assert factory.isDoctor(stranger)


def test_register_doctor_reverts(factory, deployer, doctor, stranger, patient):
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=patient.address, neededRole=REGISTRAR_ROLE):
        factory.registerDoctor(stranger, sender=patient)
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=doctor.address):
        factory.registerDoctor(stranger, sender=doctor)  # doctors cannot register doctors
    with reverts_with(factory.ZeroAddress):
        factory.registerDoctor(ZERO, sender=deployer)
    with reverts_with(factory.DoctorAlreadyRegistered, doctor=doctor.address):
        factory.registerDoctor(doctor, sender=deployer)
    assert not factory.isDoctor(stranger)


def test_unregister_doctor(factory, deployer, doctor):
    assert factory.isDoctor(doctor)
    receipt = factory.unregisterDoctor(doctor, sender=deployer)
    event = one_event(receipt, factory, "DoctorUnregistered")
    assert event == {"doctor": doctor.address, "registrar": deployer.address}
    assert not factory.isDoctor(doctor)
    # and can be registered again
    factory.registerDoctor(doctor, sender=deployer)
    assert factory.isDoctor(doctor)


def test_unregister_doctor_reverts(factory, deployer, doctor, stranger):
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=REGISTRAR_ROLE):
        factory.unregisterDoctor(doctor, sender=stranger)
    with reverts_with(factory.DoctorNotRegistered, doctor=stranger.address):
        factory.unregisterDoctor(stranger, sender=deployer)
    assert factory.isDoctor(doctor)


def test_admin_grants_and_revokes_registrar_role(factory, deployer, relayer, stranger):
    receipt = factory.grantRole(REGISTRAR_ROLE, relayer, sender=deployer)
    event = one_event(receipt, factory, "RoleGranted")
    assert addr(event["account"]) == relayer.address and addr(event["sender"]) == deployer.address
    assert factory.hasRole(REGISTRAR_ROLE, relayer)
    factory.registerDoctor(stranger, sender=relayer)
    assert factory.isDoctor(stranger)

    receipt = factory.revokeRole(REGISTRAR_ROLE, relayer, sender=deployer)
    assert addr(one_event(receipt, factory, "RoleRevoked")["account"]) == relayer.address
    assert not factory.hasRole(REGISTRAR_ROLE, relayer)
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=relayer.address):
        factory.unregisterDoctor(stranger, sender=relayer)


def test_only_admin_manages_roles(factory, deployer, doctor, relayer, stranger):
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=ADMIN):
        factory.grantRole(REGISTRAR_ROLE, stranger, sender=stranger)
    # A registrar is not an admin.
    factory.grantRole(REGISTRAR_ROLE, relayer, sender=deployer)
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=relayer.address, neededRole=ADMIN):
        factory.grantRole(REGISTRAR_ROLE, stranger, sender=relayer)
    with reverts_with(factory.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=ADMIN):
        factory.revokeRole(REGISTRAR_ROLE, deployer, sender=stranger)
    assert not factory.hasRole(REGISTRAR_ROLE, stranger)
    assert factory.hasRole(REGISTRAR_ROLE, deployer)


def test_renounce_role(factory, deployer, relayer):
    factory.grantRole(REGISTRAR_ROLE, relayer, sender=deployer)
    with reverts_with(factory.AccessControlBadConfirmation):
        factory.renounceRole(REGISTRAR_ROLE, deployer, sender=relayer)  # only for oneself
    receipt = factory.renounceRole(REGISTRAR_ROLE, relayer, sender=relayer)
    assert addr(one_event(receipt, factory, "RoleRevoked")["account"]) == relayer.address
    assert not factory.hasRole(REGISTRAR_ROLE, relayer)


def test_unregistered_doctor_cannot_request_or_be_granted(factory, seeded, deployer, doctor, patient):
    factory.unregisterDoctor(doctor, sender=deployer)
    with reverts_with(seeded.NotRegisteredDoctor, account=doctor.address):
        seeded.requestAccess(sender=doctor)
    with reverts_with(seeded.NotRegisteredDoctor, account=doctor.address):
        seeded.approveAccess(doctor, 3600, [0], sender=patient)


def test_vault_of_and_predict_are_views(factory, patient, stranger):
    # Pure reads: no revert for any address, zero before creation.
    assert factory.vaultOf(stranger) == ZERO
    assert factory.predictVaultAddress(stranger) != ZERO
    assert factory.predictVaultAddress(ZERO) != ZERO


# ------------------------------------------------------------------ registration ids


def test_registration_of_grows_with_every_registration(factory, deployer, stranger):
    assert factory.registrationOf(stranger) == 0
    factory.registerDoctor(stranger, sender=deployer)
    assert factory.registrationOf(stranger) == 1
    factory.unregisterDoctor(stranger, sender=deployer)
    assert factory.registrationOf(stranger) == 0  # 0 while unregistered
    factory.registerDoctor(stranger, sender=deployer)
    assert factory.registrationOf(stranger) == 2
    factory.unregisterDoctor(stranger, sender=deployer)
    factory.registerDoctor(stranger, sender=deployer)
    assert factory.registrationOf(stranger) == 3 and factory.isDoctor(stranger)


# ------------------------------------------------------------------ AccessControlDefaultAdminRules


@pytest.fixture
def ruled(project, deployer, relayer):
    """A factory as deployed on a public network: admin `deployer`, registrar `relayer`, 2-day delay."""
    return deployer.deploy(project.HealthRecordFactory, TWO_DAYS, deployer, relayer)


def test_constructor_sets_admin_registrar_and_delay(ruled, deployer, relayer):
    assert ruled.defaultAdmin() == deployer.address
    assert ruled.owner() == deployer.address  # ERC-5313
    assert ruled.defaultAdminDelay() == TWO_DAYS
    assert ruled.defaultAdminDelayIncreaseWait() == 5 * DAY  # OpenZeppelin's default
    assert ruled.hasRole(DEFAULT_ADMIN_ROLE, deployer) and not ruled.hasRole(DEFAULT_ADMIN_ROLE, relayer)
    assert ruled.hasRole(REGISTRAR_ROLE, relayer) and not ruled.hasRole(REGISTRAR_ROLE, deployer)
    assert tuple(ruled.pendingDefaultAdmin()) == (ZERO, 0)
    assert tuple(ruled.pendingDefaultAdminDelay()) == (0, 0)
    assert ruled.supportsInterface(bytes.fromhex("31498786"))  # IAccessControlDefaultAdminRules


def test_constructor_reverts(project, deployer, relayer):
    """ape cannot decode a constructor's custom error (no contract address yet): decode the data here."""
    container = project.HealthRecordFactory
    for args, error, inputs in (
        ((TWO_DAYS, ZERO, relayer), "AccessControlInvalidDefaultAdmin", {"defaultAdmin": ZERO}),
        ((TWO_DAYS, deployer, ZERO), "ZeroAddress", {}),
    ):
        with ape.reverts() as info:
            deployer.deploy(container, *args)
        data = getattr(info.value, "revert_message", None) or str(info.value)
        assert decode_revert(container, HexBytes(data)) == (error, inputs)


def test_separate_registrar(ruled, deployer, relayer, doctor):
    receipt = ruled.registerDoctor(doctor, sender=relayer)
    assert one_event(receipt, ruled, "DoctorRegistered") == {"doctor": doctor.address, "registrar": relayer.address}
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=deployer.address, neededRole=REGISTRAR_ROLE):
        ruled.unregisterDoctor(doctor, sender=deployer)  # the admin is not a registrar...
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=relayer.address, neededRole=ADMIN):
        ruled.grantRole(REGISTRAR_ROLE, doctor, sender=relayer)  # ...nor the registrar an admin
    # The admin removes a (say, leaked) registrar at once: no delay on other roles.
    ruled.revokeRole(REGISTRAR_ROLE, relayer, sender=deployer)
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=relayer.address):
        ruled.unregisterDoctor(doctor, sender=relayer)


def test_admin_role_cannot_be_granted_or_revoked_directly(ruled, deployer, stranger):
    with reverts_with(ruled.AccessControlEnforcedDefaultAdminRules):
        ruled.grantRole(DEFAULT_ADMIN_ROLE, stranger, sender=deployer)
    with reverts_with(ruled.AccessControlEnforcedDefaultAdminRules):
        ruled.revokeRole(DEFAULT_ADMIN_ROLE, deployer, sender=deployer)
    assert ruled.defaultAdmin() == deployer.address and not ruled.hasRole(DEFAULT_ADMIN_ROLE, stranger)


def test_two_step_admin_transfer_with_delay(ruled, deployer, relayer, stranger):
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=ADMIN):
        ruled.beginDefaultAdminTransfer(stranger, sender=stranger)
    start = head_time() + 10
    next_block_at(start)
    receipt = ruled.beginDefaultAdminTransfer(stranger, sender=deployer)
    schedule = start + TWO_DAYS
    event = one_event(receipt, ruled, "DefaultAdminTransferScheduled")
    assert (addr(event["newAdmin"]), event["acceptSchedule"]) == (stranger.address, schedule)
    assert tuple(ruled.pendingDefaultAdmin()) == (stranger.address, schedule)

    with reverts_with(ruled.AccessControlInvalidDefaultAdmin, defaultAdmin=relayer.address):
        ruled.acceptDefaultAdminTransfer(sender=relayer)  # only the proposed admin accepts
    next_block_at(schedule)
    with reverts_with(ruled.AccessControlEnforcedDefaultAdminDelay, schedule=schedule):
        ruled.acceptDefaultAdminTransfer(sender=stranger)  # too early
    assert ruled.defaultAdmin() == deployer.address

    next_block_at(schedule + 1)
    receipt = ruled.acceptDefaultAdminTransfer(sender=stranger)
    assert addr(one_event(receipt, ruled, "RoleRevoked")["account"]) == deployer.address
    assert addr(one_event(receipt, ruled, "RoleGranted")["account"]) == stranger.address
    assert ruled.defaultAdmin() == stranger.address
    assert not ruled.hasRole(DEFAULT_ADMIN_ROLE, deployer) and ruled.hasRole(DEFAULT_ADMIN_ROLE, stranger)
    assert tuple(ruled.pendingDefaultAdmin()) == (ZERO, 0)
    # The new admin manages roles; the old one no longer can.
    ruled.grantRole(REGISTRAR_ROLE, deployer, sender=stranger)
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=deployer.address, neededRole=ADMIN):
        ruled.revokeRole(REGISTRAR_ROLE, relayer, sender=deployer)


def test_cancel_admin_transfer(ruled, deployer, stranger):
    ruled.beginDefaultAdminTransfer(stranger, sender=deployer)
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=ADMIN):
        ruled.cancelDefaultAdminTransfer(sender=stranger)
    receipt = ruled.cancelDefaultAdminTransfer(sender=deployer)
    one_event(receipt, ruled, "DefaultAdminTransferCanceled")
    assert tuple(ruled.pendingDefaultAdmin()) == (ZERO, 0)
    next_block_at(head_time() + TWO_DAYS + 10)
    with reverts_with(ruled.AccessControlInvalidDefaultAdmin, defaultAdmin=stranger.address):
        ruled.acceptDefaultAdminTransfer(sender=stranger)
    assert ruled.defaultAdmin() == deployer.address


def test_renouncing_admin_needs_the_delay_too(ruled, deployer):
    with reverts_with(ruled.AccessControlEnforcedDefaultAdminDelay, schedule=0):
        ruled.renounceRole(DEFAULT_ADMIN_ROLE, deployer, sender=deployer)
    start = head_time() + 10
    next_block_at(start)
    ruled.beginDefaultAdminTransfer(ZERO, sender=deployer)
    next_block_at(start + TWO_DAYS + 1)
    ruled.renounceRole(DEFAULT_ADMIN_ROLE, deployer, sender=deployer)
    assert ruled.defaultAdmin() == ZERO


def test_change_and_rollback_admin_delay(ruled, deployer, stranger):
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=ADMIN):
        ruled.changeDefaultAdminDelay(DAY, sender=stranger)
    start = head_time() + 10
    next_block_at(start)
    # Lowering from 2 days to 1 waits the difference, so a transfer is never faster than the old delay.
    receipt = ruled.changeDefaultAdminDelay(DAY, sender=deployer)
    event = one_event(receipt, ruled, "DefaultAdminDelayChangeScheduled")
    assert (event["newDelay"], event["effectSchedule"]) == (DAY, start + DAY)
    assert tuple(ruled.pendingDefaultAdminDelay()) == (DAY, start + DAY)
    assert ruled.defaultAdminDelay() == TWO_DAYS
    receipt = ruled.rollbackDefaultAdminDelay(sender=deployer)
    one_event(receipt, ruled, "DefaultAdminDelayChangeCanceled")
    assert tuple(ruled.pendingDefaultAdminDelay()) == (0, 0)
    with reverts_with(ruled.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=ADMIN):
        ruled.rollbackDefaultAdminDelay(sender=stranger)

    start = head_time() + 10
    next_block_at(start)
    ruled.changeDefaultAdminDelay(DAY, sender=deployer)
    warp_to(start + DAY - 1)
    assert ruled.defaultAdminDelay() == TWO_DAYS
    warp_to(start + DAY + 1)
    assert ruled.defaultAdminDelay() == DAY
