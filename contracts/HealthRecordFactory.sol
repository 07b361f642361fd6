// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {HealthRecord} from "./HealthRecord.sol";
import {IDoctorRegistry} from "./interfaces/IDoctorRegistry.sol";

/// @title HealthRecordFactory
/// @notice Deploys one {HealthRecord} per patient (the patient's vault) and keeps the registry of doctors.
/// @dev Each patient's vault is an EIP-1167 clone carrying the patient's address as its immutable
///      argument, deployed with CREATE2 under a salt derived from that address: its address is known
///      before it exists, and whoever pays for `createVault` the patient is always its owner. The
///      factory stores nothing per patient: a vault exists exactly when code sits at the predicted address.
contract HealthRecordFactory is AccessControl, IDoctorRegistry {
    /// @notice Role allowed to register and unregister doctors.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice The HealthRecord implementation every clone delegates to.
    address public immutable implementation;

    mapping(address account => bool) private _doctors;

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

    /// @dev Deploys the implementation (which takes this factory as its registry) and gives the
    ///      deployer the admin and registrar roles.
    constructor() {
        implementation = address(new HealthRecord());
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(REGISTRAR_ROLE, msg.sender);
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
        if (_doctors[doctor]) revert DoctorAlreadyRegistered(doctor);
        _doctors[doctor] = true;
        emit DoctorRegistered(doctor, msg.sender);
    }

    /// @notice Remove `doctor` from the registry; they can no longer request or be granted access.
    /// @param doctor The doctor's address.
    function unregisterDoctor(address doctor) external onlyRole(REGISTRAR_ROLE) {
        if (!_doctors[doctor]) revert DoctorNotRegistered(doctor);
        _doctors[doctor] = false;
        emit DoctorUnregistered(doctor, msg.sender);
    }

    /// @inheritdoc IDoctorRegistry
    function isDoctor(address account) external view returns (bool registered) {
        return _doctors[account];
    }

    function _salt(address patient) private pure returns (bytes32) {
        return bytes32(uint256(uint160(patient)));
    }
}
