"""The relayer's values: a prepared call, a sent transaction and its versions, a mined result.

Split from chain/relayer.py (which re-exports them) so that module stays about sending; the shared
queue (services/relay_worker.py) rebuilds a SentTransaction from a job document on takeover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hexbytes import HexBytes
from web3.types import TxReceipt

__all__ = ["SentTransaction", "TxResult"]


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    receipt: TxReceipt = field(repr=False)


@dataclass(frozen=True)
class _PreparedCall:
    action: str
    to: str
    data: str
    gas: int


@dataclass
class SentTransaction:
    """One relayed call and every signed version of it (re-sends and fee replacements), newest last."""

    call: _PreparedCall
    nonce: int
    fees: dict[str, int]
    hashes: list[str] = field(default_factory=list)
    last_sent: float = 0.0  # time.monotonic() of the newest broadcast
    lost: bool = False  # the node forgot it while its nonce went to another transaction

    @property
    def action(self) -> str:
        return self.call.action

    @property
    def tx_hash(self) -> str:
        """The newest version's hash."""
        return self.hashes[-1]


def _bytes(value: str | bytes, what: str, length: int | None = None) -> bytes:
    raw = bytes(HexBytes(value)) if isinstance(value, str) else bytes(value)
    if length is not None and len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def _hash_hex(tx_hash: Any) -> str:
    return "0x" + bytes(HexBytes(tx_hash)).hex()
