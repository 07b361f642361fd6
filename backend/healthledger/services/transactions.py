"""How deep a transaction is: the count the web app shows as "confirming (n of m)".

Why the server answers this rather than the browser asking its wallet: the wallet may be on another
RPC node (or none: registering a doctor is signed by the server), and "confirmed" is the server's
own rule (CONFIRMATIONS blocks on top of the transaction's block, services/anchoring.py), so the
count must come from the same node and the same setting the server decides with.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..container import Services


@dataclass(frozen=True)
class Confirmations:
    tx_hash: str
    # None while the transaction is unknown to the node or still in its pool.
    block_number: int | None
    # Blocks seen including the transaction's own block (0 until it is mined).
    seen: int
    # Blocks needed before the server counts it as confirmed: its block and CONFIRMATIONS more.
    needed: int


async def confirmations_of(services: Services, tx_hash: str) -> Confirmations:
    """The transaction's depth now, against the server's CONFIRMATIONS setting."""
    needed = services.settings.confirmations + 1
    receipt = await services.chain.receipt_or_none(tx_hash)
    if receipt is None or receipt.get("blockNumber") is None:
        return Confirmations(tx_hash=tx_hash, block_number=None, seen=0, needed=needed)
    block_number = int(receipt["blockNumber"])
    head = await services.chain.block_number()
    # A head behind the receipt (another node of a load balancer) still counts the block itself.
    seen = max(head - block_number + 1, 1)
    return Confirmations(tx_hash=tx_hash, block_number=block_number, seen=seen, needed=needed)
