// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title PayeeMock
/// @notice TEST ONLY. A contract payee for {BillPayments} tests: with no hook set it refuses ETH
///         without a reason; with a hook it calls `target` with the hook's calldata when ETH arrives
///         (to try re-entering) and bubbles up that call's revert.
contract PayeeMock {
    address public immutable target;
    bytes public hook;

    constructor(address target_) {
        target = target_;
    }

    /// @notice Set the calldata sent to `target` on receiving ETH (empty: refuse ETH).
    function setHook(bytes calldata data) external {
        hook = data;
    }

    receive() external payable {
        bytes memory data = hook;
        if (data.length == 0) revert();
        (bool ok, bytes memory returned) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(returned, 32), mload(returned))
            }
        }
    }
}
