"""The ABI and bytecode shipped in the backend package match a fresh compile of contracts/."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from export_artifacts import ARTIFACTS_DIR, BUILD_MANIFEST, CONTRACTS, artifact_from_build  # noqa: E402


def test_backend_artifacts_are_fresh(project) -> None:
    # Touching the contract types makes ape compile; its manifest is then current.
    assert all(getattr(project, name).contract_type for name in CONTRACTS)
    manifest = json.loads(BUILD_MANIFEST.read_text())
    for name in CONTRACTS:
        shipped = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
        fresh = artifact_from_build(manifest, name)
        assert shipped["abi"] == fresh["abi"], f"{name} ABI changed: run `python scripts/export_artifacts.py`"
        assert shipped["bytecode"] == fresh["bytecode"], f"{name} bytecode changed: run `python scripts/export_artifacts.py`"
