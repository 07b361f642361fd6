// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IDoctorRegistry
/// @notice The part of the factory that patient vaults consult: whether an address is a
///         registered healthcare provider.
interface IDoctorRegistry {
    /// @notice True when `account` is currently a registered doctor.
    /// @param account The address to check.
    /// @return registered Whether the account is a registered doctor.
    function isDoctor(address account) external view returns (bool registered);
}
