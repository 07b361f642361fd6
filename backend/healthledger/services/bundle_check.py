"""Checking a verification bundle (services/bundle.py) against the chain, with only an RPC URL.

No database, no IPFS, no deployment file: what `healthledger verify-bundle` runs wherever the
patient hands the bundle. The checks, in order, each with the reason a failure gets:
1. the node's chain id is the bundle's (`wrong_chain`);
2. the vault holds a record with that id (`unknown_record`), and its hash is the bundle's
   `contentHash` (`another_record`: the bundle names a record that is not this file's);
3. SHA-256(salt ‖ file) is that hash (`content_mismatch`: the file or its salt was changed; the
   hash cannot tell which);
4. the transaction is mined, succeeded, and emitted RecordAdded for that record id with that hash
   from that vault (`transaction_mismatch`).
A bundle that cannot be read is `malformed_bundle`. A node that does not answer is not a verdict:
`ChainUnavailable` propagates (the CLI exits 2).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from ..chain.anchors import AnchorReader
from ..chain.rpc import ChainError, ChainUnavailable
from ..crypto import content_commitment, parse_salt

__all__ = [
    "Bundle",
    "BundleVerdict",
    "ChainError",
    "ChainUnavailable",
    "MalformedBundle",
    "check_bundle",
    "load_bundle",
    "parse_bundle",
]

_HASH_RE = re.compile(r"0x[0-9a-fA-F]{64}")


@dataclass
class BundleVerdict:
    """The outcome: `verified`, or the first failed check's `reason` and a sentence saying what failed."""

    verified: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"verified": self.verified, "reason": self.reason, "message": self.message, **self.details}


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle (version 1)."""

    file: bytes
    salt: bytes | None
    content_hash: str
    chain_id: int
    contract: str
    record_id: int
    tx_hash: str


class MalformedBundle(ValueError):
    """The bundle is not a readable version-1 verification bundle."""


def parse_bundle(data: dict[str, Any]) -> Bundle:
    """The bundle's fields, checked for shape (not for truth); MalformedBundle otherwise."""
    if not isinstance(data, dict) or data.get("version") != 1:
        raise MalformedBundle("not a version-1 HealthLedger verification bundle")
    try:
        file = base64.b64decode(str(data["file"]), validate=True)
        salt = None if data.get("salt") is None else parse_salt(str(data["salt"]))
        content_hash = str(data["contentHash"]).lower()
        chain_id, record_id = data["chainId"], data["recordId"]
        contract, tx_hash = str(data["contract"]), str(data["txHash"])
    except (KeyError, binascii.Error, ValueError) as exc:
        raise MalformedBundle(f"the bundle is malformed: {exc}") from None
    if not _HASH_RE.fullmatch(content_hash) or not _HASH_RE.fullmatch(tx_hash):
        raise MalformedBundle("contentHash and txHash must be 0x + 64 hex characters")
    if not is_address(contract):
        raise MalformedBundle("contract is not an address")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (chain_id, record_id)):
        raise MalformedBundle("chainId and recordId must be non-negative integers")
    return Bundle(file, salt, content_hash, chain_id, to_checksum_address(contract), record_id, tx_hash.lower())


def load_bundle(path: Path) -> dict[str, Any]:
    """The bundle file's JSON; MalformedBundle when it is not JSON (OSError when it cannot be read)."""
    try:
        return json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedBundle(f"the bundle is not JSON: {exc}") from None


async def check_bundle(data: dict[str, Any], rpc_url: str, *, timeout_seconds: float = 10.0) -> BundleVerdict:
    """Check a bundle's JSON against the chain behind `rpc_url` (ChainUnavailable if it does not answer)."""
    try:
        bundle = parse_bundle(data)
    except MalformedBundle as exc:
        return BundleVerdict(False, "malformed_bundle", str(exc))
    reader = AnchorReader(rpc_url, timeout_seconds=timeout_seconds)
    try:
        return await _check(bundle, reader)
    finally:
        await reader.aclose()


async def _check(bundle: Bundle, reader: AnchorReader) -> BundleVerdict:
    details: dict[str, Any] = {"contract": bundle.contract, "recordId": bundle.record_id, "chainId": bundle.chain_id}
    chain_id = await reader.chain_id()
    if chain_id != bundle.chain_id:
        return BundleVerdict(
            False, "wrong_chain", f"the node is on chain {chain_id}, the bundle's record is on chain {bundle.chain_id}", details
        )
    onchain = await reader.get_record(bundle.contract, bundle.record_id)
    if onchain is None:
        return BundleVerdict(
            False, "unknown_record", f"{bundle.contract} holds no record {bundle.record_id} on this chain", details
        )
    details["chainHash"] = onchain.content_hash
    if onchain.content_hash != bundle.content_hash:
        return BundleVerdict(
            False,
            "another_record",
            f"record {bundle.record_id} on chain holds {onchain.content_hash}, not the bundle's {bundle.content_hash}: "
            "the bundle names another record",
            details,
        )
    computed = content_commitment(bundle.salt, bundle.file)
    details["computedHash"] = computed
    if computed != onchain.content_hash:
        return BundleVerdict(
            False,
            "content_mismatch",
            f"SHA-256(salt ‖ file) is {computed}, the chain holds {onchain.content_hash}: the file or its salt was changed",
            details,
        )
    events = await reader.records_added(bundle.tx_hash)
    if not events or not any(
        e.contract == bundle.contract and e.record_id == bundle.record_id and e.content_hash == computed for e in events
    ):
        return BundleVerdict(
            False,
            "transaction_mismatch",
            f"transaction {bundle.tx_hash} did not add record {bundle.record_id} to {bundle.contract}",
            details,
        )
    details["author"] = onchain.author
    return BundleVerdict(
        True,
        None,
        f"record {bundle.record_id} of {bundle.contract} on chain {chain_id} anchors this file "
        f"(SHA-256(salt ‖ file) = {computed}), added by transaction {bundle.tx_hash}",
        details,
    )
