"""The relayer: the one account that pays gas and submits signed patient/doctor actions.

Why it exists: patients and doctors sign EIP-712 messages in their wallets (free, no ETH needed);
this account wraps each signature in a transaction to the patient's clone. The contract checks the
signature and nonce itself, so the relayer is trusted only to pay and forward, never to decide.

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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aiohttp import ClientConnectorError, ClientError
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import function_abi_to_4byte_selector, function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from .artifacts import health_record, health_record_factory
from .client import ChainClient
from .typed_data import record_kind

log = logging.getLogger(__name__)

__all__ = [
    "AddRecordResult",
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
RECEIPT_POLL_SECONDS = 0.1
# Nodes accept a replacement (same nonce) only if both fees rise by at least 10 %; 12.5 % leaves room.
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8
# Attempts to broadcast one version of a transaction when the node answers a fixable error.
BROADCAST_ATTEMPTS = 3
# Transactions remembered while nobody waits for their receipt, at most (older ones are forgotten).
MAX_IN_FLIGHT = 256

BeforeBroadcast = Callable[[str], Awaitable[None]]


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class DecodedRevert:
    """A revert reason: a custom error from our ABIs, `Error(string)` or `Panic(uint256)`."""

    name: str
    args: dict[str, Any]
    selector: str

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.name}({inner})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    """selector -> (name, arg names, arg types) for every error either contract can raise."""
    table: dict[bytes, tuple[str, list[str], list[str]]] = {
        function_signature_to_4byte_selector("Error(string)"): ("Error", ["message"], ["string"]),
        function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["code"], ["uint256"]),
    }
    for artifact in (health_record(), health_record_factory()):
        for entry in artifact.abi:
            if entry.get("type") == "error":
                inputs = entry.get("inputs", [])
                table[function_abi_to_4byte_selector(entry)] = (
                    entry["name"],
                    [i.get("name") or f"arg{n}" for n, i in enumerate(inputs)],
                    [i["type"] for i in inputs],
                )
    return table


def decode_revert_data(data: str | bytes | None) -> DecodedRevert | None:
    """Decode revert data (selector + ABI-encoded args) against both contracts' ABIs.

    Returns None for empty data (out of gas, a bare `revert()`) or an unknown selector.
    """
    if data is None:
        return None
    raw = bytes(HexBytes(data)) if isinstance(data, str) else bytes(data)
    if len(raw) < 4:
        return None
    entry = _error_table().get(raw[:4])
    if entry is None:
        return None
    name, arg_names, arg_types = entry
    try:
        values = abi_decode(arg_types, raw[4:]) if arg_types else ()
    except Exception:  # malformed arguments: still report the name
        values = ()
        arg_names = []
    args = {
        n: _jsonable(to_checksum_address(v) if t == "address" else v)
        for n, t, v in zip(arg_names, arg_types, values)
    }
    return DecodedRevert(name=name, args=args, selector="0x" + raw[:4].hex())


def _revert_data_from_exception(exc: BaseException) -> str | None:
    """The hex revert data web3 attached to a ContractLogicError / RPC error, if any."""
    data = getattr(exc, "data", None)
    if isinstance(data, Mapping):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    rpc = getattr(exc, "rpc_response", None)
    if isinstance(rpc, Mapping):
        error = rpc.get("error") or {}
        inner = error.get("data") if isinstance(error, Mapping) else None
        if isinstance(inner, str) and inner.startswith("0x"):
            return inner
    return None


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


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    receipt: TxReceipt = field(repr=False)


@dataclass(frozen=True)
class AddRecordResult(TxResult):
    record_id: int = -1


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


def _node_refusal(exc: Web3RPCError) -> str | None:
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


def _at_least(fees: Mapping[str, int], fresh: Mapping[str, int]) -> dict[str, int]:
    """Fees no lower than `fees` nor than `fresh` (fresh wins when the kinds differ)."""
    if set(fees) != set(fresh):
        return dict(fresh)
    return {key: max(int(fees[key]), int(fresh[key])) for key in fresh}


def _bumped(fees: Mapping[str, int], fresh: Mapping[str, int]) -> dict[str, int]:
    """Fees for a replacement: every fee +12.5 % (what nodes require, with room), or `fresh` if higher."""
    raised = {key: int(value) * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR + 1 for key, value in fees.items()}
    bumped = _at_least(raised, fresh)
    if "maxFeePerGas" in bumped and bumped["maxFeePerGas"] < bumped.get("maxPriorityFeePerGas", 0):
        bumped["maxFeePerGas"] = bumped["maxPriorityFeePerGas"]
    return bumped


# ----------------------------------------------------------------------------- relayer


class Relayer:
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

    async def _fees(self) -> dict[str, int]:
        """EIP-1559 fees for the next block (2 x its base fee + tip: headroom for a few full blocks), else legacy.

        The base fee is read from the pending block where the node offers one (it is the next
        block's), else from the latest.
        """
        w3 = self.chain.web3_for_relayer
        try:
            block = await w3.eth.get_block("pending")
        except (Web3RPCError, ValueError):
            block = await w3.eth.get_block("latest")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(await w3.eth.gas_price)}
        try:
            tip = int(await w3.eth.max_priority_fee)
        except Exception:  # not every node implements eth_maxPriorityFeePerGas
            tip = DEFAULT_PRIORITY_FEE_WEI
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * int(base_fee) + tip}

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
        self, call: _PreparedCall, *, before_broadcast: BeforeBroadcast | None = None
    ) -> SentTransaction:
        """Sign and broadcast an estimated call with a fresh nonce; `before_broadcast(hash)` runs first."""
        fees = await self._fees()
        async with self._lock:
            nonce = await self._allocate_nonce()
            sent = SentTransaction(call=call, nonce=nonce, fees=fees)
            await self._broadcast(sent, before_broadcast)
        return sent

    async def _broadcast(self, sent: SentTransaction, before_broadcast: BeforeBroadcast | None) -> None:
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
                    sent.fees = _bumped(sent.fees, await self._fees())
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
    ) -> TxReceipt:
        """The receipt (status 1 or 0) of whichever version of `sent` is mined.

        Re-sends, replaces or re-nonces the transaction when it is not mined within `resend_after`
        seconds of its last broadcast (see `_rescue`); TransactionTimeout after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            receipt = await self._receipt_of(sent)
            if receipt is not None:
                if self._in_flight.get(sent.nonce) is sent:
                    del self._in_flight[sent.nonce]
                return receipt
            now = time.monotonic()
            if now >= deadline:
                raise TransactionTimeout(sent.tx_hash, timeout)
            if sent.lost or now - sent.last_sent >= self.resend_after:
                await self._rescue(sent, before_broadcast)
            await asyncio.sleep(min(RECEIPT_POLL_SECONDS, max(deadline - time.monotonic(), 0)))

    async def _receipt_of(self, sent: SentTransaction) -> TxReceipt | None:
        for tx_hash in reversed(sent.hashes):
            receipt = await self.chain.receipt_or_none(tx_hash)
            if receipt is not None:
                return receipt
        return None

    async def _rescue(self, sent: SentTransaction, before_broadcast: BeforeBroadcast | None) -> None:
        """Get a transaction that is not being mined moving again.

        - the node has it pending: replace it (same nonce) with higher fees;
        - the node forgot it and its nonce is still free: broadcast it again at current fees;
        - its nonce went to another transaction: estimate again (the action may have become
          invalid: TransactionReverted) and send it with a new nonce.
        """
        fresh = await self._fees()
        async with self._lock:
            if await self._receipt_of(sent) is not None:
                return
            latest = int(await self.chain.web3_for_relayer.eth.get_transaction_count(self.address, "latest"))
            known = await self._known_to_node(sent)
            if known and sent.nonce >= latest:
                sent.fees = _bumped(sent.fees, fresh)
                why = "stuck"
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
            await self._broadcast(sent, before_broadcast)

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
        while True:
            receipt = await self.chain.receipt_or_none(wanted)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionTimeout(wanted, timeout)
            await asyncio.sleep(RECEIPT_POLL_SECONDS)

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

    async def _trace_revert(self, tx_hash: str) -> tuple[DecodedRevert | None, str | None]:
        try:
            response = await self.chain.web3_for_relayer.provider.make_request(
                "debug_traceTransaction",  # type: ignore[arg-type]
                [_hash_hex(tx_hash), {"tracer": "callTracer"}],
            )
        except Exception:
            return None, None
        trace = response.get("result") if isinstance(response, Mapping) else None
        if not isinstance(trace, Mapping):
            return None, None
        output = trace.get("output")
        revert = decode_revert_data(output) if isinstance(output, str) else None
        error = trace.get("error")
        return revert, (str(error) if error else None)

    async def _replay_revert(self, tx_hash: str, receipt: TxReceipt) -> tuple[DecodedRevert | None, str | None]:
        w3 = self.chain.web3_for_relayer
        try:
            tx = await w3.eth.get_transaction(HexBytes(tx_hash))
            await w3.eth.call(
                {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]},
                block_identifier=max(int(receipt["blockNumber"]) - 1, 0),
            )
        except ContractLogicError as exc:
            return decode_revert_data(_revert_data_from_exception(exc)), str(exc.message or exc)
        except Exception as exc:  # the replay is diagnostics only
            return None, f"reason unknown ({type(exc).__name__})"
        if receipt["gasUsed"] >= tx["gas"]:
            return None, "out of gas"
        return None, "reason unknown (the call succeeds when replayed)"

    async def transact(
        self, contract: AsyncContract, fn_name: str, *args: Any, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS
    ) -> TxResult:
        """Send and wait; raises TransactionReverted (before sending or after mining) or TransactionTimeout."""
        sent = await self.send(await self._prepare(contract, fn_name, args))
        receipt = await self.wait(sent, timeout)
        return await self.require_success(_hash_hex(receipt["transactionHash"]), receipt, fn_name)

    async def prepare(self, contract: AsyncContract, fn_name: str, *args: Any) -> _PreparedCall:
        """Encode and estimate `contract.fn_name(*args)` (TransactionReverted if it would revert), for `send`."""
        return await self._prepare(contract, fn_name, args)

    async def prepare_on_clone(self, patient: str, fn_name: str, *args: Any) -> _PreparedCall:
        """`prepare` for a call on `patient`'s record contract."""
        return await self._prepare(await self.chain.record_contract(patient), fn_name, args)

    # -- factory ----------------------------------------------------------------------------------

    async def send_create_record(self, patient: str) -> str:
        """Deploy `patient`'s clone (reverts RecordAlreadyExists if it is there)."""
        return await self.send_call(self.chain.factory, "createRecord", to_checksum_address(patient))

    async def create_record(self, patient: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxResult:
        return await self.transact(self.chain.factory, "createRecord", to_checksum_address(patient), timeout=timeout)

    async def ensure_record_contract(self, patient: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> str:
        """The patient's clone address, creating the clone first if needed (safe if two requests race)."""
        if not await self.chain.record_exists(patient):
            try:
                await self.create_record(patient, timeout=timeout)
            except TransactionReverted as exc:
                if exc.error_name != "RecordAlreadyExists":
                    raise
        return await self.chain.record_address(patient)

    async def send_register_doctor(self, doctor: str) -> str:
        """Needs REGISTRAR_ROLE on the relayer (else AccessControlUnauthorizedAccount)."""
        return await self.send_call(self.chain.factory, "registerDoctor", to_checksum_address(doctor))

    async def register_doctor(self, doctor: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxResult:
        return await self._finish(await self.send_register_doctor(doctor), "registerDoctor", timeout)

    async def send_unregister_doctor(self, doctor: str) -> str:
        return await self.send_call(self.chain.factory, "unregisterDoctor", to_checksum_address(doctor))

    async def unregister_doctor(self, doctor: str, *, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxResult:
        return await self._finish(await self.send_unregister_doctor(doctor), "unregisterDoctor", timeout)

    async def _finish(self, tx_hash: str, action: str, timeout: float) -> TxResult:
        receipt = await self.wait_for_receipt(tx_hash, timeout)
        return await self.require_success(_hash_hex(receipt["transactionHash"]), receipt, action)

    # -- signed actions on a patient's clone ------------------------------------------------------

    async def _send_on_clone(self, patient: str, fn_name: str, *args: Any) -> str:
        return await self.send_call(await self.chain.record_contract(patient), fn_name, *args)

    async def send_add_record_by_sig(
        self,
        patient: str,
        kind: int | str,
        content_hash: str | bytes,
        nonce: int,
        deadline: int,
        signature: str | bytes,
    ) -> str:
        """Relay the patient's AddRecord signature (the clone must exist: `ensure_record_contract`)."""
        return await self._send_on_clone(
            patient,
            "addRecordBySig",
            record_kind(kind),
            _bytes(content_hash, "content_hash", 32),
            nonce,
            deadline,
            _bytes(signature, "signature"),
        )

    async def add_record_by_sig(
        self,
        patient: str,
        kind: int | str,
        content_hash: str | bytes,
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> AddRecordResult:
        """Relay and wait; the result carries the new record's id from the RecordAdded event."""
        tx_hash = await self.send_add_record_by_sig(patient, kind, content_hash, nonce, deadline, signature)
        result = await self._finish(tx_hash, "addRecordBySig", timeout)
        record_id = self.chain.record_id_from_receipt(patient, result.receipt)
        return AddRecordResult(result.tx_hash, result.block_number, result.gas_used, result.receipt, record_id)

    async def send_approve_access_by_sig(
        self,
        patient: str,
        doctor: str,
        duration: int,
        record_ids: Iterable[int],
        nonce: int,
        deadline: int,
        signature: str | bytes,
    ) -> str:
        return await self._send_on_clone(
            patient,
            "approveAccessBySig",
            to_checksum_address(doctor),
            duration,
            list(record_ids),
            nonce,
            deadline,
            _bytes(signature, "signature"),
        )

    async def approve_access_by_sig(
        self,
        patient: str,
        doctor: str,
        duration: int,
        record_ids: Iterable[int],
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        tx_hash = await self.send_approve_access_by_sig(
            patient, doctor, duration, record_ids, nonce, deadline, signature
        )
        return await self._finish(tx_hash, "approveAccessBySig", timeout)

    async def send_deny_access_by_sig(
        self, patient: str, doctor: str, nonce: int, deadline: int, signature: str | bytes
    ) -> str:
        return await self._send_on_clone(
            patient, "denyAccessBySig", to_checksum_address(doctor), nonce, deadline, _bytes(signature, "signature")
        )

    async def deny_access_by_sig(
        self,
        patient: str,
        doctor: str,
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        tx_hash = await self.send_deny_access_by_sig(patient, doctor, nonce, deadline, signature)
        return await self._finish(tx_hash, "denyAccessBySig", timeout)

    async def send_revoke_access_by_sig(
        self, patient: str, doctor: str, nonce: int, deadline: int, signature: str | bytes
    ) -> str:
        return await self._send_on_clone(
            patient, "revokeAccessBySig", to_checksum_address(doctor), nonce, deadline, _bytes(signature, "signature")
        )

    async def revoke_access_by_sig(
        self,
        patient: str,
        doctor: str,
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        tx_hash = await self.send_revoke_access_by_sig(patient, doctor, nonce, deadline, signature)
        return await self._finish(tx_hash, "revokeAccessBySig", timeout)

    async def send_revoke_records_by_sig(
        self,
        patient: str,
        doctor: str,
        record_ids: Iterable[int],
        nonce: int,
        deadline: int,
        signature: str | bytes,
    ) -> str:
        return await self._send_on_clone(
            patient,
            "revokeRecordsBySig",
            to_checksum_address(doctor),
            list(record_ids),
            nonce,
            deadline,
            _bytes(signature, "signature"),
        )

    async def revoke_records_by_sig(
        self,
        patient: str,
        doctor: str,
        record_ids: Iterable[int],
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        tx_hash = await self.send_revoke_records_by_sig(patient, doctor, record_ids, nonce, deadline, signature)
        return await self._finish(tx_hash, "revokeRecordsBySig", timeout)

    async def send_approve_extension_by_sig(
        self, patient: str, doctor: str, extra: int, nonce: int, deadline: int, signature: str | bytes
    ) -> str:
        return await self._send_on_clone(
            patient,
            "approveExtensionBySig",
            to_checksum_address(doctor),
            extra,
            nonce,
            deadline,
            _bytes(signature, "signature"),
        )

    async def approve_extension_by_sig(
        self,
        patient: str,
        doctor: str,
        extra: int,
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        tx_hash = await self.send_approve_extension_by_sig(patient, doctor, extra, nonce, deadline, signature)
        return await self._finish(tx_hash, "approveExtensionBySig", timeout)

    async def send_request_access_by_sig(
        self, patient: str, doctor: str, nonce: int, deadline: int, signature: str | bytes
    ) -> str:
        """Relay a doctor's RequestAccess (the nonce is the doctor's, in the patient's clone)."""
        return await self._send_on_clone(
            patient, "requestAccessBySig", to_checksum_address(doctor), nonce, deadline, _bytes(signature, "signature")
        )

    async def request_access_by_sig(
        self,
        patient: str,
        doctor: str,
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        tx_hash = await self.send_request_access_by_sig(patient, doctor, nonce, deadline, signature)
        return await self._finish(tx_hash, "requestAccessBySig", timeout)

    async def send_request_extension_by_sig(
        self, patient: str, doctor: str, extra: int, nonce: int, deadline: int, signature: str | bytes
    ) -> str:
        return await self._send_on_clone(
            patient,
            "requestExtensionBySig",
            to_checksum_address(doctor),
            extra,
            nonce,
            deadline,
            _bytes(signature, "signature"),
        )

    async def request_extension_by_sig(
        self,
        patient: str,
        doctor: str,
        extra: int,
        nonce: int,
        deadline: int,
        signature: str | bytes,
        *,
        timeout: float = DEFAULT_TX_TIMEOUT_SECONDS,
    ) -> TxResult:
        tx_hash = await self.send_request_extension_by_sig(patient, doctor, extra, nonce, deadline, signature)
        return await self._finish(tx_hash, "requestExtensionBySig", timeout)
