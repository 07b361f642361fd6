"""The relayer: the one account that pays gas and submits signed patient/doctor actions.

Why it exists: patients and doctors sign EIP-712 messages in their wallets (free, no ETH needed);
this account wraps each signature in a transaction to the patient's clone. The contract checks the
signature and nonce itself, so the relayer is trusted only to pay and forward, never to decide.
Every signed action goes through `relay_signed` (or `prepare_signed` + `send`), whose call follows
the action's declaration in chain/actions.py; revert decoding lives in chain/reverts.py.

How it sends, and why:
- every call is first estimated (`eth_estimateGas`): a call that would revert is refused *before*
  anything is broadcast, with the contract's custom error decoded from the ABI
  (`TransactionReverted.error_name`, e.g. "InvalidSignature", "InvalidAccountNonce");
- the nonce follows the chain, not this process's memory: under one asyncio.Lock, each send reads
  the node's pending count and takes the lowest nonce at or above it that no transaction of ours
  still known to the node holds. A node that forgot our transactions (a reorg, a rollback of a dev
  chain, a dropped transaction) therefore never leaves a gap that stalls every later send, and a
  node whose pending count lags behind a send we just made never gets a nonce twice;
- transactions are signed locally (the node never sees the key) and their hash is known before
  they are broadcast: `before_broadcast(tx_hash)` lets the caller save it first, so no crash can
  leave a mined transaction nobody knows about;
- waiting is active: a transaction not mined after `resend_after` seconds is re-sent if the node
  forgot it, replaced with a higher fee (same nonce, +12.5 % or the current fee, whichever is more)
  if it is stuck, and re-sent with a new nonce if its nonce was used by something else; a receipt
  for any of its versions ends the wait;
- failures to reach the node while sending are `RelayerUnavailable` (`maybe_sent` tells whether
  the transaction may have reached it), never a bare transport error.

The private key comes from settings (a SecretStr) and is never logged; `repr()` shows the address only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from aiohttp import ClientConnectorError, ClientError
from eth_account import Account
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from ..metrics import record_transaction
from .actions import SignedAction, action as find_action
from .client import ChainClient
from .fees import at_least as _at_least, bumped_fees as _bumped, node_refusal as _node_refusal
from .relayer_errors import RelayerError, RelayerUnavailable, TransactionReverted, TransactionTimeout
from .relayer_types import SentTransaction, TxResult, _bytes, _hash_hex, _PreparedCall
from .reverts import DecodedRevert, RevertDiagnostics, decode_revert_data
from .reverts import revert_data_from_exception as _revert_data_from_exception

log = logging.getLogger(__name__)

__all__ = [
    "DecodedRevert",
    "Relayer",
    "RelayerError",
    "RelayerUnavailable",
    "SentTransaction",
    "TransactionReverted",
    "TransactionTimeout",
    "TxResult",
    "decode_revert_data",
]

DEFAULT_GAS_MARGIN = 1.25  # estimates are exact on a quiet chain; state can move before inclusion
DEFAULT_TX_TIMEOUT_SECONDS = 120.0
DEFAULT_PRIORITY_FEE_WEI = 1_000_000_000  # 1 gwei, when the node cannot suggest one
DEFAULT_RESEND_AFTER_SECONDS = 30.0
# Receipt polling is adaptive: the first look comes after RECEIPT_POLL_FIRST_SECONDS (an automining
# or fast chain answers within milliseconds), each later wait is RECEIPT_POLL_GROWTH times longer, up
# to RECEIPT_POLL_MAX_SECONDS (about a block on a slow chain: polling faster than blocks come only
# costs RPC calls). A fixed 100 ms sleep used to add up to 100 ms to every upload.
RECEIPT_POLL_FIRST_SECONDS = 0.02
RECEIPT_POLL_GROWTH = 1.5
RECEIPT_POLL_MAX_SECONDS = 1.0
# Attempts to broadcast one version of a transaction when the node answers a fixable error.
BROADCAST_ATTEMPTS = 3
# Transactions remembered while nobody waits for their receipt, at most (older ones are forgotten).
MAX_IN_FLIGHT = 256

BeforeBroadcast = Callable[[str], Awaitable[None]]
# Told each version (the transaction at its current nonce and fees) and its hash before its broadcast;
# raising stops the broadcast (the shared queue saves the version and checks its lease there).
VersionHook = Callable[["SentTransaction", str], Awaitable[None]]


def receipt_poll_delays(
    first: float = RECEIPT_POLL_FIRST_SECONDS,
    growth: float = RECEIPT_POLL_GROWTH,
    ceiling: float = RECEIPT_POLL_MAX_SECONDS,
) -> Iterator[float]:
    """The waits between receipt polls: `first`, then each `growth` times the last, never above `ceiling`."""
    delay = first
    while True:
        yield delay
        delay = min(delay * growth, ceiling)


# ----------------------------------------------------------------------------- relayer


class Relayer(RevertDiagnostics):
    """Signs and sends transactions from the relayer account (see the module docstring)."""

    __slots__ = ("chain", "gas_margin", "resend_after", "_account", "_lock", "_in_flight")

    def __init__(
        self,
        chain: ChainClient,
        private_key: str,
        *,
        gas_margin: float = DEFAULT_GAS_MARGIN,
        resend_after: float = DEFAULT_RESEND_AFTER_SECONDS,
    ) -> None:
        if not private_key:
            raise ValueError("the relayer private key is empty")
        try:
            account = Account.from_key(private_key)
        except Exception:
            # `from None`: the original error could echo the key.
            raise ValueError("the relayer private key is not a valid secp256k1 private key") from None
        self.chain = chain
        self.gas_margin = gas_margin
        self.resend_after = resend_after
        self._account = account
        self._lock = asyncio.Lock()
        # Transactions sent and not yet seen mined, by nonce: the only memory the nonce choice uses.
        self._in_flight: dict[int, SentTransaction] = {}

    @property
    def address(self) -> str:
        return self._account.address

    def __repr__(self) -> str:
        return f"Relayer(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never let the key travel through pickle
        raise TypeError("a Relayer cannot be pickled")

    async def balance(self) -> int:
        """The relayer's balance in wei."""
        return await self.chain.balance_of(self.address)

    # -- generic sending ------------------------------------------------------------------------

    async def _prepare(self, contract: AsyncContract, fn_name: str, args: Sequence[Any]) -> _PreparedCall:
        """Encode and estimate; a call that would revert raises TransactionReverted here, unsent."""
        return await self._estimate(
            _PreparedCall(action=fn_name, to=contract.address, data=contract.encode_abi(fn_name, args=list(args)), gas=0)
        )

    async def _estimate(self, call: _PreparedCall) -> _PreparedCall:
        request = {"from": self.address, "to": call.to, "data": call.data}
        try:
            estimate = await self.chain.web3_for_relayer.eth.estimate_gas(request)  # type: ignore[arg-type]
        except ContractLogicError as exc:  # ContractCustomError, ContractPanicError, plain reverts
            revert = decode_revert_data(_revert_data_from_exception(exc))
            raise TransactionReverted(call.action, revert, detail=str(exc.message or exc)) from None
        except Web3RPCError as exc:
            data_hex = _revert_data_from_exception(exc)
            if data_hex is None:
                raise
            raise TransactionReverted(call.action, decode_revert_data(data_hex), detail=str(exc)) from None
        gas = int(estimate * self.gas_margin) + 10_000
        return _PreparedCall(action=call.action, to=call.to, data=call.data, gas=gas)

    async def current_fees(self) -> dict[str, int]:
        """EIP-1559 fees for the next block (2 x its base fee + tip: headroom for a few full blocks), else legacy.

        The base fee is read from the pending block where the node offers one (it is the next
        block's), else from the latest.
        """
        w3 = self.chain.web3_for_relayer

        async def next_block() -> Any:
            try:
                return await w3.eth.get_block("pending")
            except (Web3RPCError, ValueError):
                return await w3.eth.get_block("latest")

        async def tip() -> int:
            try:
                return int(await w3.eth.max_priority_fee)
            except Exception:  # not every node implements eth_maxPriorityFeePerGas
                return DEFAULT_PRIORITY_FEE_WEI

        # Both reads at once (one round trip's wait instead of two); the tip is unused on legacy chains.
        block, priority = await asyncio.gather(next_block(), tip())
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(await w3.eth.gas_price)}
        return {"maxPriorityFeePerGas": priority, "maxFeePerGas": 2 * int(base_fee) + priority}

    async def _known_to_node(self, sent: SentTransaction) -> bool:
        """Whether the node still has any version of `sent` (in its pool or mined)."""
        for tx_hash in sent.hashes:
            try:
                await self.chain.web3_for_relayer.eth.get_transaction(HexBytes(tx_hash))
            except TransactionNotFound:
                continue
            return True
        return False

    async def _allocate_nonce(self) -> int:
        """The lowest nonce at or above the node's pending count not held by a live transaction of ours.

        Called under the lock. Our in-flight transactions the node no longer knows are marked
        lost: their waiters send them again (see `_rescue`).
        """
        pending = int(await self.chain.web3_for_relayer.eth.get_transaction_count(self.address, "pending"))
        held: set[int] = set()
        for nonce, sent in sorted(self._in_flight.items()):
            if nonce < pending or sent.lost:
                continue
            if await self._known_to_node(sent):
                held.add(nonce)  # the node's count lags behind our send, or it sits behind a gap
            else:
                sent.lost = True
                log.warning(
                    "relayer transaction forgotten by the node", extra={"action": sent.action, "nonce": nonce}
                )
        nonce = pending
        while nonce in held:
            nonce += 1
        if len(self._in_flight) > MAX_IN_FLIGHT:
            # Sent and never waited on (a caller that gave up): long mined or replaced by now.
            for stale in [n for n in self._in_flight if n < pending - MAX_IN_FLIGHT // 2]:
                del self._in_flight[stale]
        return nonce

    async def send(
        self,
        call: _PreparedCall,
        *,
        before_broadcast: BeforeBroadcast | None = None,
        version_hook: VersionHook | None = None,
        fees: dict[str, int] | None = None,
    ) -> SentTransaction:
        """Sign and broadcast an estimated call with a fresh nonce; `before_broadcast(hash)` runs first.

        `fees` (from `current_fees`, read while the call was estimated) saves a round trip; else read now.
        """
        if fees is None:
            fees = await self.current_fees()
        async with self._lock:
            nonce = await self._allocate_nonce()
            sent = SentTransaction(call=call, nonce=nonce, fees=fees)
            await self._broadcast(sent, before_broadcast, version_hook)
        return sent

    def adopt(self, call: _PreparedCall, nonce: int, fees: dict[str, int], hashes: Sequence[str]) -> SentTransaction:
        """Take over a transaction another process sent (the shared queue's previous lease holder):
        it counts as in flight for the nonce choice, and `wait` re-sends or replaces it like our own."""
        sent = SentTransaction(call=call, nonce=nonce, fees=dict(fees), hashes=list(hashes), last_sent=time.monotonic())
        self._in_flight[nonce] = sent
        return sent

    def forget_in_flight(self) -> None:
        """Drop every in-flight transaction from memory (this process lost the queue's lease: the
        next holder owns them now)."""
        self._in_flight.clear()

    async def estimate(self, call: _PreparedCall) -> _PreparedCall:
        """`call` with its gas estimated now; TransactionReverted (decoded) if it would revert."""
        return await self._estimate(call)

    @staticmethod
    def unestimated(action: str, to: str, data: str, gas: int = 0) -> _PreparedCall:
        """A queued job's call (`gas` 0: to `estimate` before sending)."""
        return _PreparedCall(action=action, to=to_checksum_address(to), data=data, gas=gas)

    async def encode_signed(
        self, action: SignedAction | str, patient: str, message: Mapping[str, Any], signature: str | bytes
    ) -> _PreparedCall:
        """`action`'s `...BySig` call on `patient`'s vault, encoded but not estimated (it may only
        become valid once the signer's earlier actions are mined)."""
        entry = action if isinstance(action, SignedAction) else find_action(action)
        contract = await self.chain.vault_contract(patient)
        data = contract.encode_abi(entry.function, args=list(entry.call_args(message, _bytes(signature, "signature"))))
        return _PreparedCall(action=entry.function, to=contract.address, data=data, gas=0)

    def encode_factory(self, fn_name: str, *args: Any) -> _PreparedCall:
        """A call of the factory (createVault, registerDoctor...), encoded but not estimated."""
        factory = self.chain.factory
        return _PreparedCall(action=fn_name, to=factory.address, data=factory.encode_abi(fn_name, args=list(args)), gas=0)

    async def _broadcast(
        self, sent: SentTransaction, before_broadcast: BeforeBroadcast | None, version_hook: VersionHook | None = None
    ) -> None:
        """Sign `sent` at its nonce and fees, hand the hash to the caller, then broadcast (under the lock).

        Node answers a retry can fix are handled here: a nonce already used (a new nonce), a fee
        below the base fee or a replacement the node finds too cheap (higher fees), a transaction
        the node already has (nothing to do).
        """
        chain_id = await self.chain.chain_id()  # cached after the first call
        for attempt in range(BROADCAST_ATTEMPTS):
            signed = self._account.sign_transaction(self._transaction(sent, chain_id))
            tx_hash = _hash_hex(signed.hash)
            if tx_hash not in sent.hashes:
                if before_broadcast is not None:
                    await before_broadcast(tx_hash)
                if version_hook is not None:
                    await version_hook(sent, tx_hash)
                sent.hashes.append(tx_hash)
            try:
                await self.chain.web3_for_relayer.eth.send_raw_transaction(signed.raw_transaction)
            except Web3RPCError as exc:
                problem = _node_refusal(exc)
                if problem == "known":
                    break
                if attempt + 1 < BROADCAST_ATTEMPTS and problem == "nonce_used":
                    self._in_flight.pop(sent.nonce, None)
                    sent.nonce = await self._allocate_nonce()
                    continue
                if attempt + 1 < BROADCAST_ATTEMPTS and problem == "fee_too_low":
                    sent.fees = _bumped(sent.fees, await self.current_fees())
                    continue
                raise RelayerUnavailable(
                    f"the node refused the relayer's {sent.action} transaction ({problem or 'rejected'})",
                    maybe_sent=False,
                ) from None
            except ClientConnectorError:
                raise RelayerUnavailable("the chain node could not be reached to send the transaction", maybe_sent=False) from None
            except (ClientError, asyncio.TimeoutError):
                raise RelayerUnavailable("the chain node did not confirm it received the transaction", maybe_sent=True) from None
            break
        sent.last_sent = time.monotonic()
        sent.lost = False
        self._in_flight[sent.nonce] = sent
        log.info(
            "relayer sent",
            extra={"action": sent.action, "nonce": sent.nonce, "gas": sent.call.gas, "tx_hash": sent.tx_hash,
                   "version": len(sent.hashes)},
        )

    @staticmethod
    def _transaction(sent: SentTransaction, chain_id: int) -> dict[str, Any]:
        return {
            "chainId": chain_id,
            "nonce": sent.nonce,
            "to": sent.call.to,
            "data": sent.call.data,
            "value": 0,
            "gas": sent.call.gas,
            **sent.fees,
        }

    async def send_call(self, contract: AsyncContract, fn_name: str, *args: Any) -> str:
        """Estimate, then send `contract.fn_name(*args)`; returns the tx hash (not waiting)."""
        return (await self.send(await self._prepare(contract, fn_name, args))).tx_hash

    async def wait(
        self,
        sent: SentTransaction,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
        *,
        before_broadcast: BeforeBroadcast | None = None,
        version_hook: VersionHook | None = None,
    ) -> TxReceipt:
        """The receipt (status 1 or 0) of whichever version of `sent` is mined.

        Re-sends, replaces or re-nonces the transaction when it is not mined within `resend_after`
        seconds of its last broadcast (see `_rescue`); TransactionTimeout after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        delays = receipt_poll_delays()
        while True:
            receipt = await self._receipt_of(sent)
            if receipt is not None:
                if self._in_flight.get(sent.nonce) is sent:
                    del self._in_flight[sent.nonce]
                record_transaction("mined" if receipt["status"] == 1 else "reverted")
                return receipt
            now = time.monotonic()
            if now >= deadline:
                record_transaction("timeout")
                raise TransactionTimeout(sent.tx_hash, timeout)
            if sent.lost or now - sent.last_sent >= self.resend_after:
                await self._rescue(sent, before_broadcast, version_hook)
            await asyncio.sleep(min(next(delays), max(deadline - time.monotonic(), 0)))

    async def _receipt_of(self, sent: SentTransaction) -> TxReceipt | None:
        for tx_hash in reversed(sent.hashes):
            receipt = await self.chain.receipt_or_none(tx_hash)
            if receipt is not None:
                return receipt
        return None

    async def _rescue(
        self, sent: SentTransaction, before_broadcast: BeforeBroadcast | None, version_hook: VersionHook | None = None
    ) -> None:
        """Get a transaction that is not being mined moving again.

        - the node has it pending: replace it (same nonce) with higher fees;
        - the node forgot it and its nonce is still free: broadcast it again at current fees;
        - its nonce went to another transaction: estimate again (the action may have become
          invalid: TransactionReverted) and send it with a new nonce.
        """
        fresh = await self.current_fees()
        async with self._lock:
            if await self._receipt_of(sent) is not None:
                return
            latest = int(await self.chain.web3_for_relayer.eth.get_transaction_count(self.address, "latest"))
            known = await self._known_to_node(sent)
            if known and sent.nonce >= latest:
                sent.fees = _bumped(sent.fees, fresh)
                why = "stuck"
                record_transaction("replaced")
            elif not known and sent.nonce >= latest and not sent.lost:
                sent.fees = _at_least(sent.fees, fresh)
                why = "forgotten"
            else:
                self._in_flight.pop(sent.nonce, None)
                sent.call = await self._estimate(sent.call)
                sent.fees = fresh
                sent.nonce = await self._allocate_nonce()
                why = "nonce taken"
            log.warning("relayer re-sends", extra={"action": sent.action, "nonce": sent.nonce, "reason": why})
            await self._broadcast(sent, before_broadcast, version_hook)

    async def wait_for_receipt(self, tx_hash: str, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxReceipt:
        """The receipt (status 1 or 0) once mined; TransactionTimeout after `timeout` seconds.

        A hash this relayer sent is waited on with `wait` (so it is re-sent or replaced if it gets
        stuck); any other hash is only polled.
        """
        wanted = _hash_hex(tx_hash)
        for sent in list(self._in_flight.values()):
            if wanted in sent.hashes:
                return await self.wait(sent, timeout)
        deadline = time.monotonic() + timeout
        delays = receipt_poll_delays()
        while True:
            receipt = await self.chain.receipt_or_none(wanted)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionTimeout(wanted, timeout)
            await asyncio.sleep(min(next(delays), max(deadline - time.monotonic(), 0)))

    async def require_success(self, tx_hash: str, receipt: TxReceipt, action: str = "transaction") -> TxResult:
        """TxResult for a status-1 receipt; for status 0, TransactionReverted with the reason.

        The reason comes from `debug_traceTransaction` (callTracer: exact, supported by Anvil and
        geth-style nodes); where that is unavailable, from replaying the call on the state before
        its block (a best effort: None if the call would pass there).
        """
        if receipt["status"] == 1:
            return TxResult(_hash_hex(tx_hash), int(receipt["blockNumber"]), int(receipt["gasUsed"]), receipt)
        revert, detail = await self._trace_revert(tx_hash)
        if revert is None and detail is None:
            revert, detail = await self._replay_revert(tx_hash, receipt)
        raise TransactionReverted(action, revert, tx_hash=_hash_hex(tx_hash), receipt=receipt, detail=detail)

    async def transact(
        self, contract: AsyncContract, fn_name: str, *args: Any, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS
    ) -> TxResult:
        """Send and wait; raises TransactionReverted (before sending or after mining) or TransactionTimeout."""
        return await self._complete(await self._prepare(contract, fn_name, args), timeout)

    async def _complete(self, call: _PreparedCall, timeout: float) -> TxResult:
        sent = await self.send(call)
        receipt = await self.wait(sent, timeout)
        return await self.require_success(_hash_hex(receipt["transactionHash"]), receipt, call.action)

    async def prepare(self, contract: AsyncContract, fn_name: str, *args: Any) -> _PreparedCall:
        """Encode and estimate `contract.fn_name(*args)` (TransactionReverted if it would revert), for `send`."""
        return await self._prepare(contract, fn_name, args)

    # -- factory ----------------------------------------------------------------------------------

    async def create_vault(self, patient: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxResult:
        """Deploy `patient`'s vault (reverts VaultAlreadyExists if it is there)."""
        return await self.transact(self.chain.factory, "createVault", to_checksum_address(patient), timeout=timeout)

    async def ensure_vault(self, patient: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> str:
        """The patient's vault address, creating the vault first if needed (safe if two requests race)."""
        if not await self.chain.vault_exists(patient):
            try:
                await self.create_vault(patient, timeout=timeout)
            except TransactionReverted as exc:
                if exc.error_name != "VaultAlreadyExists":
                    raise
        return await self.chain.vault_address(patient)

    async def register_doctor(self, doctor: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxResult:
        """Needs REGISTRAR_ROLE on the relayer (else AccessControlUnauthorizedAccount)."""
        return await self.transact(self.chain.factory, "registerDoctor", to_checksum_address(doctor), timeout=timeout)

    async def unregister_doctor(self, doctor: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxResult:
        return await self.transact(self.chain.factory, "unregisterDoctor", to_checksum_address(doctor), timeout=timeout)

    # -- signed actions on a patient's clone ------------------------------------------------------

    async def prepare_signed(
        self, action: SignedAction | str, patient: str, message: Mapping[str, Any], signature: str | bytes
    ) -> _PreparedCall:
        """Encode and estimate `action`'s `...BySig` call on `patient`'s clone, for `send`.

        `message` is the signed EIP-712 message (a payload's "message"); the arguments follow the
        action's declaration (chain/actions.py). The clone must exist: `ensure_vault`.
        """
        entry = action if isinstance(action, SignedAction) else find_action(action)
        contract = await self.chain.vault_contract(patient)
        return await self._prepare(contract, entry.function, entry.call_args(message, _bytes(signature, "signature")))

    async def relay_signed(
        self,
        action: SignedAction | str,
        patient: str,
        message: Mapping[str, Any],
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        """Relay a signed action and wait: TransactionReverted (before sending or once mined) or TransactionTimeout."""
        return await self._complete(await self.prepare_signed(action, patient, message, signature), timeout)
