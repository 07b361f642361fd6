"""The compiled contracts (ABI, creation bytecode, compiler) shipped inside the package.

Why: production installs only the `healthledger` package, with no Solidity compiler and no ape
build, so the backend reads the JSON that `scripts/export_artifacts.py` copies into
`healthledger/chain/artifacts/`. They are loaded through importlib.resources so this works from an
editable checkout, a wheel or a zip alike, and cached because they never change at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from eth_utils import function_abi_to_4byte_selector

__all__ = [
    "CONTRACT_NAMES",
    "ContractArtifact",
    "ContractName",
    "bill_payments",
    "health_record",
    "health_record_factory",
    "load_artifact",
    "test_usd",
]

ContractName = Literal["HealthRecord", "HealthRecordFactory", "BillPayments", "TestUSD"]
CONTRACT_NAMES: tuple[ContractName, ...] = ("HealthRecord", "HealthRecordFactory", "BillPayments", "TestUSD")


@dataclass(frozen=True)
class ContractArtifact:
    """One contract as compiled: what deployment and every contract call need."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # creation bytecode, 0x-prefixed hex
    compiler: dict[str, Any]

    @property
    def compiler_version(self) -> str:
        """e.g. ``0.8.37+commit.f401782d`` (recorded in deployment files for reproducibility)."""
        return str(self.compiler.get("version", ""))

    @property
    def errors(self) -> dict[bytes, dict[str, Any]]:
        """Custom-error ABI entries by their 4-byte selector, to decode revert data."""
        return {
            function_abi_to_4byte_selector(entry): entry for entry in self.abi if entry.get("type") == "error"
        }

    @property
    def events(self) -> dict[str, dict[str, Any]]:
        """Event ABI entries by name."""
        return {entry["name"]: entry for entry in self.abi if entry.get("type") == "event"}


@cache
def load_artifact(name: ContractName) -> ContractArtifact:
    """Read `artifacts/<name>.json` from the package (cached)."""
    if name not in CONTRACT_NAMES:
        raise ValueError(f"unknown contract {name!r}; expected one of {CONTRACT_NAMES}")
    text = resources.files("healthledger.chain").joinpath("artifacts").joinpath(f"{name}.json").read_text("utf-8")
    data = json.loads(text)
    bytecode = data["bytecode"]
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return ContractArtifact(name=name, abi=data["abi"], bytecode=bytecode, compiler=data.get("compiler", {}))


def health_record() -> ContractArtifact:
    """The per-patient HealthRecord contract (implementation and clones share this ABI)."""
    return load_artifact("HealthRecord")


def health_record_factory() -> ContractArtifact:
    """The HealthRecordFactory (clone factory + doctor registry)."""
    return load_artifact("HealthRecordFactory")


def bill_payments() -> ContractArtifact:
    """BillPayments: bills from doctors and clinics to patients, paid in ETH or a permit token (issue 17)."""
    return load_artifact("BillPayments")


def test_usd() -> ContractArtifact:
    """TestUSD: the dev-chain ERC-20 (EIP-2612 permit, 6 decimals) bills are paid in on chain id 31337."""
    return load_artifact("TestUSD")
