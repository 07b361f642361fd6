// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TestUSD
/// @notice "Test USD" (tUSD): a 6-decimal stablecoin stand-in with EIP-2612 `permit`, for local stacks
///         and tests only. Worthless; the owner mints at will. On a public network use a real token.
contract TestUSD is ERC20Permit, Ownable {
    /// @param initialOwner The account allowed to mint.
    constructor(address initialOwner) ERC20("Test USD", "tUSD") ERC20Permit("Test USD") Ownable(initialOwner) {}

    /// @notice Six decimals, like USDC.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Create `amount` tokens for `to`. Owner only.
    /// @param to The recipient.
    /// @param amount The amount, in units of 10^-6 tUSD.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
