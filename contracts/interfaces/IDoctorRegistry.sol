// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IDoctorRegistry
/// @notice The part of the factory that patient vaults consult: whether an address is a
///         registered healthcare provider, and which registration it is in.
interface IDoctorRegistry {
    /// @notice True when `account` is currently a registered doctor.
    /// @param account The address to check.
    /// @return registered Whether the account is a registered doctor.
    function isDoctor(address account) external view returns (bool registered);

    /// @notice The id of `account`'s current registration, or 0 when it is not registered.
    /// @dev Ids start at 1 and grow by one every time the same account is registered again. A vault
    ///      stores the id with every grant and honours the grant only while it is still the current
    ///      one, so unregistering a doctor ends their grants everywhere and registering them again
    ///      does not bring those grants back.
    /// @param account The address to check.
    /// @return registration The current registration id (0 = not registered).
    function registrationOf(address account) external view returns (uint32 registration);
}
