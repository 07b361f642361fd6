"""Guard: every external function, event and custom error of the contracts is exercised somewhere
in these tests (a new function without tests fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# ABI members inherited from OpenZeppelin that no call path of these contracts can reach.
UNREACHABLE = {
    "HealthRecord": {
        "error InvalidShortString",  # EIP712 ShortStrings: name/version are short constants
        "error StringTooLong",
        "event EIP712DomainChanged",  # the domain never changes
    },
    "HealthRecordFactory": {
        "error CloneArgumentsTooLong",  # the argument is always 20 bytes
        "error Create2EmptyBytecode",
        "error FailedDeployment",  # createVault checks for existing code first (VaultAlreadyExists)
        "error InsufficientBalance",  # no value is ever sent
        "event RoleAdminChanged",  # role admins are never changed
        # AccessControlDefaultAdminRules casts block.timestamp + delay to uint48: unreachable before year 8.9 million
        "error SafeCastOverflowedUintDowncast",
    },
    "BillPayments": {
        "error InvalidShortString",  # EIP712 ShortStrings: name/version are short constants
        "error StringTooLong",
        "event EIP712DomainChanged",  # the domain never changes
        "error InsufficientBalance",  # Address.sendValue forwards exactly the msg.value just received
        "error CloneArgumentsTooLong",  # the vault address is predicted from a 20-byte argument
    },
}


def _sources() -> str:
    return "\n".join(p.read_text() for p in sorted(HERE.glob("*.py")) if p.name != Path(__file__).name)


@pytest.mark.parametrize("contract_name", ["HealthRecord", "HealthRecordFactory", "BillPayments"])
def test_every_abi_member_is_exercised(project, contract_name):
    sources = _sources()
    contract_type = getattr(project, contract_name).contract_type
    missing = []
    for abi in contract_type.abi:
        if f"{abi.type} {getattr(abi, 'name', '')}" in UNREACHABLE[contract_name]:
            continue
        if abi.type == "function":
            # called as `.name(` or sent raw as `"name"`
            if not re.search(rf'\.{abi.name}\(|"{abi.name}"', sources):
                missing.append(f"function {abi.name}")
        elif abi.type == "event":
            if not re.search(rf'"{abi.name}"', sources):
                missing.append(f"event {abi.name}")
        elif abi.type == "error":
            if not re.search(rf'\.{abi.name}\b|"{abi.name}"', sources):
                missing.append(f"error {abi.name}")
    assert not missing, f"{contract_name}: not exercised by any test: {missing}"
