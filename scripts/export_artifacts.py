"""Copy the compiled contracts' ABI and bytecode from ape's build into the backend package.

Why: the backend and its deploy code run without ape or a Solidity compiler (production installs
only the `healthledger` package), so the artifacts ship inside it. `python scripts/export_artifacts.py` refreshes them
and `tests/contracts/test_artifacts.py` fails when they no longer match a fresh compile.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_MANIFEST = ROOT / ".build" / "__local__.json"
ARTIFACTS_DIR = ROOT / "backend" / "healthledger" / "chain" / "artifacts"
CONTRACTS = ("HealthRecord", "HealthRecordFactory", "BillPayments", "TestUSD")


def artifact_from_build(manifest: dict, name: str) -> dict:
    """The part of ape's contract type the backend needs: ABI, creation bytecode, compiler."""
    contract_type = manifest["contractTypes"][name]
    compilers = [c for c in manifest.get("compilers", []) if name in c.get("contractTypes", [])]
    compiler = compilers[0] if compilers else {}
    return {
        "contractName": name,
        "abi": contract_type["abi"],
        "bytecode": contract_type["deploymentBytecode"]["bytecode"],
        "compiler": {
            "name": compiler.get("name", "solidity"),
            "version": compiler.get("version", ""),
            "settings": {
                key: value
                for key, value in compiler.get("settings", {}).items()
                if key != "outputSelection"
            },
        },
    }


def render(artifact: dict) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main() -> int:
    if not BUILD_MANIFEST.exists():
        print("no ape build found: run `ape compile` first", file=sys.stderr)
        return 1
    manifest = json.loads(BUILD_MANIFEST.read_text())
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    for name in CONTRACTS:
        path = ARTIFACTS_DIR / f"{name}.json"
        path.write_text(render(artifact_from_build(manifest, name)))
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
