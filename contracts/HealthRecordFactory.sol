// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {HealthRecord} from "./HealthRecord.sol";
import {IDoctorRegistry} from "./interfaces/IDoctorRegistry.sol";

/// @title HealthRecordFactory
/// @notice Deploys one {HealthRecord} per patient (the patient's vault) and keeps the registry of doctors.
/// @dev Each patient's vault is an EIP-1167 clone carrying the patient's address as its immutable
///      argument, deployed with CREATE2 under a salt derived from that address: its address is known
///      before it exists, and whoever pays for `createVault` the patient is always its owner. The
///      factory stores nothing per patient: a vault exists exactly when code sits at the predicted address.
///
///      Roles: one default admin, handed over in two steps with a delay (OpenZeppelin's
///      {AccessControlDefaultAdminRules}), grants and revokes the registrar role; registrars keep the
///      doctor registry. Admin and registrar are separate accounts in production: a leaked registrar
///      key can be removed by the admin, and a leaked admin key cannot take over before the delay.
///
///      v2 is a new factory: vaults made by a v1 factory keep working against it and are not migrated.
contract HealthRecordFactory is AccessControlDefaultAdminRules, IDoctorRegistry {
    /// @notice Role allowed to register and unregister doctors.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice The HealthRecord implementation every clone delegates to.
    address public immutable implementation;

    /// @dev One slot per doctor: whether they are registered now, and the id of their latest registration.
    struct Registration {
        uint32 id;
        bool active;
    }

    mapping(address account => Registration) private _doctors;

    /// @notice A patient's vault was deployed.
    event VaultCreated(address indexed patient, address vault);
    /// @notice `registrar` registered `doctor`.
    event DoctorRegistered(address indexed doctor, address indexed registrar);
    /// @notice `registrar` removed `doctor` from the registry.
    event DoctorUnregistered(address indexed doctor, address indexed registrar);

    error ZeroAddress();
    error VaultAlreadyExists(address patient, address vault);
    error DoctorAlreadyRegistered(address doctor);
    error DoctorNotRegistered(address doctor);

    /// @dev Deploys the implementation (which takes this factory as its registry).
    /// @param initialAdminDelay Seconds a new default admin must wait between being proposed and
    ///        accepting (also the wait before a delay change takes effect); e.g. 2 days on a public network.
    /// @param initialAdmin The default admin: grants and revokes the registrar role.
    /// @param registrar The first registrar (may equal `initialAdmin` on a development chain).
    constructor(uint48 initialAdminDelay, address initialAdmin, address registrar)
        AccessControlDefaultAdminRules(initialAdminDelay, initialAdmin)
    {
        if (registrar == address(0)) revert ZeroAddress();
        implementation = address(new HealthRecord());
        _grantRole(REGISTRAR_ROLE, registrar);
    }

    // ------------------------------------------------------------------ patient vaults

    /// @notice Deploy `patient`'s vault. Anyone may call it (a relayer pays the gas); the
    ///         patient is always the owner.
    /// @param patient The patient who will own the new vault.
    /// @return vault The new vault's address (equal to `predictVaultAddress(patient)`).
    function createVault(address patient) external returns (address vault) {
        if (patient == address(0)) revert ZeroAddress();
        vault = predictVaultAddress(patient);
        if (vault.code.length != 0) revert VaultAlreadyExists(patient, vault);
        Clones.cloneDeterministicWithImmutableArgs(implementation, abi.encodePacked(patient), _salt(patient));
        emit VaultCreated(patient, vault);
    }

    /// @notice The address `patient`'s vault has, or will have once created.
    /// @param patient The patient.
    /// @return The deterministic clone address.
    function predictVaultAddress(address patient) public view returns (address) {
        return Clones.predictDeterministicAddressWithImmutableArgs(
            implementation, abi.encodePacked(patient), _salt(patient)
        );
    }

    /// @notice `patient`'s vault, or the zero address if it was not created yet.
    /// @param patient The patient.
    /// @return vault The vault's address or zero.
    function vaultOf(address patient) external view returns (address vault) {
        vault = predictVaultAddress(patient);
        if (vault.code.length == 0) vault = address(0);
    }

    // ------------------------------------------------------------------ doctor registry

    /// @notice Register `doctor` as a healthcare provider.
    /// @param doctor The doctor's address.
    function registerDoctor(address doctor) external onlyRole(REGISTRAR_ROLE) {
        if (doctor == address(0)) revert ZeroAddress();
        Registration storage registration = _doctors[doctor];
        if (registration.active) revert DoctorAlreadyRegistered(doctor);
        registration.id += 1;
        registration.active = true;
        emit DoctorRegistered(doctor, msg.sender);
    }

    /// @notice Remove `doctor` from the registry: every grant they hold in every vault stops working
    ///         at once, and registering them again does not restore those grants.
    /// @param doctor The doctor's address.
    function unregisterDoctor(address doctor) external onlyRole(REGISTRAR_ROLE) {
        if (!_doctors[doctor].active) revert DoctorNotRegistered(doctor);
        _doctors[doctor].active = false;
        emit DoctorUnregistered(doctor, msg.sender);
    }

    /// @inheritdoc IDoctorRegistry
    function isDoctor(address account) external view returns (bool registered) {
        return _doctors[account].active;
    }

    /// @inheritdoc IDoctorRegistry
    function registrationOf(address account) external view returns (uint32 registration) {
        Registration memory current = _doctors[account];
        return current.active ? current.id : 0;
    }

    function _salt(address patient) private pure returns (bytes32) {
        return bytes32(uint256(uint160(patient)));
    }
}
