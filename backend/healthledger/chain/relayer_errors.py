"""The relayer's exceptions: a refused or failed call, an unreachable node, a receipt that did not come.

Split from chain/relayer.py (which re-exports them) so that module stays about sending.
"""

from __future__ import annotations

from typing import Any

from web3.types import TxReceipt

from .reverts import DecodedRevert

__all__ = ["RelayerError", "RelayerUnavailable", "TransactionReverted", "TransactionTimeout"]


class RelayerError(RuntimeError):
    """Base of the relayer's errors."""


class TransactionReverted(RelayerError):
    """The call reverts (refused before sending) or the mined transaction failed (status 0).

    `error_name` is the decoded custom error ("InvalidSignature", "InvalidAccountNonce", ...) or
    None when the reason is unknown (e.g. out of gas). `tx_hash` is None when nothing was sent.
    """

    def __init__(
        self,
        action: str,
        revert: DecodedRevert | None,
        *,
        tx_hash: str | None = None,
        receipt: TxReceipt | None = None,
        detail: str | None = None,
    ) -> None:
        self.action = action
        self.revert = revert
        self.error_name: str | None = revert.name if revert else None
        self.error_args: dict[str, Any] = dict(revert.args) if revert else {}
        self.tx_hash = tx_hash
        self.receipt = receipt
        where = f" in {tx_hash}" if tx_hash else " (not sent)"
        reason = str(revert) if revert else (detail or "no reason given")
        super().__init__(f"{action} reverted{where}: {reason}")


class RelayerUnavailable(RelayerError):
    """The node could not be reached (or refused the relayer's transaction for a reason no retry fixes).

    `maybe_sent` is False when the transaction certainly did not reach the node (the connection
    failed), True when it may have (e.g. a timeout after the request was written): then its hash,
    already handed to `before_broadcast`, is what tells later whether it landed.
    """

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class TransactionTimeout(RelayerError):
    """The transaction was sent but no receipt arrived in time; it may still be mined later."""

    def __init__(self, tx_hash: str, timeout: float) -> None:
        self.tx_hash = tx_hash
        self.timeout = timeout
        super().__init__(f"transaction {tx_hash} not mined within {timeout:g} s")
