"""Fees for the relayer's transactions and the nodes' refusals of them: replacement bumps, fresh
fees that must not undercut a pending version, and what a refusal's wording means.

Split from chain/relayer.py, which uses them when it broadcasts or rescues a transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

from web3.exceptions import Web3RPCError

# Nodes accept a replacement (same nonce) only if both fees rise by at least 10 %; 12.5 % leaves room.
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8


def node_refusal(exc: Web3RPCError) -> str | None:
    """What a node's refusal of a raw transaction means, from its message (nodes word them alike)."""
    text = str(getattr(exc, "message", "") or exc).lower()
    if "already known" in text or "known transaction" in text or "already imported" in text:
        return "known"
    if "nonce too low" in text or "nonce has already been used" in text or "invalid nonce" in text:
        return "nonce_used"
    if "underpriced" in text or "base fee" in text or "fee too low" in text or "fee cap" in text:
        return "fee_too_low"
    if "insufficient funds" in text:
        return "insufficient funds"
    return None


def at_least(fees: Mapping[str, int], fresh: Mapping[str, int]) -> dict[str, int]:
    """Fees no lower than `fees` nor than `fresh` (fresh wins when the kinds differ)."""
    if set(fees) != set(fresh):
        return dict(fresh)
    return {key: max(int(fees[key]), int(fresh[key])) for key in fresh}


def bumped_fees(fees: Mapping[str, int], fresh: Mapping[str, int]) -> dict[str, int]:
    """Fees for a replacement: every fee +12.5 % (what nodes require, with room), or `fresh` if higher."""
    raised = {key: int(value) * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR + 1 for key, value in fees.items()}
    bumped = at_least(raised, fresh)
    if "maxFeePerGas" in bumped and bumped["maxFeePerGas"] < bumped.get("maxPriorityFeePerGas", 0):
        bumped["maxFeePerGas"] = bumped["maxPriorityFeePerGas"]
    return bumped
