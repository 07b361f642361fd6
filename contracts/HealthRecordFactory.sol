// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {HealthRecord} from "./HealthRecord.sol";
import {IDoctorRegistry} from "./interfaces/IDoctorRegistry.sol";

/// @title HealthRecordFactory
/// @notice Deploys one {HealthRecord} per patient and keeps the registry of doctors.
/// @dev Each patient's contract is an EIP-1167 clone carrying the patient's address as its immutable
///      argument, deployed with CREATE2 under a salt derived from that address: its address is known
///      before it exists, and whoever pays for `createRecord` the patient is always its owner. The
///      factory stores nothing per patient: a record exists exactly when code sits at the predicted address.
contract HealthRecordFactory is AccessControl, IDoctorRegistry {
    /// @notice Role allowed to register and unregister doctors.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice The HealthRecord implementation every clone delegates to.
    address public immutable implementation;

    mapping(address account => bool) private _doctors;

    /// @notice A patient's record contract was deployed.
    event PatientRecordCreated(address indexed patient, address record);
    /// @notice `registrar` registered `doctor`.
    event DoctorRegistered(address indexed doctor, address indexed registrar);
    /// @notice `registrar` removed `doctor` from the registry.
    event DoctorUnregistered(address indexed doctor, address indexed registrar);

    error ZeroAddress();
    error RecordAlreadyExists(address patient, address record);
    error DoctorAlreadyRegistered(address doctor);
    error DoctorNotRegistered(address doctor);

    /// @dev Deploys the implementation (which takes this factory as its registry) and gives the
    ///      deployer the admin and registrar roles.
    constructor() {
        implementation = address(new HealthRecord());
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(REGISTRAR_ROLE, msg.sender);
    }

    // ------------------------------------------------------------------ patient records

    /// @notice Deploy `patient`'s record contract. Anyone may call it (a relayer pays the gas); the
    ///         patient is always the owner.
    /// @param patient The patient who will own the new contract.
    /// @return record The new contract's address (equal to `predictRecordAddress(patient)`).
    function createRecord(address patient) external returns (address record) {
        if (patient == address(0)) revert ZeroAddress();
        record = predictRecordAddress(patient);
        if (record.code.length != 0) revert RecordAlreadyExists(patient, record);
        Clones.cloneDeterministicWithImmutableArgs(implementation, abi.encodePacked(patient), _salt(patient));
        emit PatientRecordCreated(patient, record);
    }

    /// @notice The address `patient`'s record contract has, or will have once created.
    /// @param patient The patient.
    /// @return The deterministic clone address.
    function predictRecordAddress(address patient) public view returns (address) {
        return Clones.predictDeterministicAddressWithImmutableArgs(
            implementation, abi.encodePacked(patient), _salt(patient)
        );
    }

    /// @notice `patient`'s record contract, or the zero address if it was not created yet.
    /// @param patient The patient.
    /// @return record The record contract's address or zero.
    function recordOf(address patient) external view returns (address record) {
        record = predictRecordAddress(patient);
        if (record.code.length == 0) record = address(0);
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
