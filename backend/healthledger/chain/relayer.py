"""The relayer: the one account that pays gas and submits signed patient/doctor actions.

Why it exists: patients and doctors sign EIP-712 messages in their wallets (free, no ETH needed);
this account wraps each signature in a transaction to the patient's clone. The contract checks the
signature and nonce itself, so the relayer is trusted only to pay and forward, never to decide.

How it sends, and why:
- every call is first estimated (`eth_estimateGas`): a call that would revert is refused *before*
  anything is broadcast, with the contract's custom error decoded from the ABI
  (`TransactionReverted.error_name`, e.g. "InvalidSignature", "InvalidAccountNonce");
- nonce allocation, signing and broadcast run under one asyncio.Lock, and the nonce is the larger
  of the node's pending count and our own next nonce, so concurrent requests never reuse or skip
  a nonce (the node's pending count alone can lag behind a send we just made);
- transactions are signed locally (the node never sees the key) and sent raw;
- `send_*` returns the hash as soon as the node accepted the transaction, so the upload pipeline
  can record it before waiting; `wait_for_receipt` then waits with a timeout
  (`TransactionTimeout`); the plain methods (`add_record_by_sig`, ...) do both and raise
  `TransactionReverted` for a mined-but-failed transaction too.

The private key comes from settings (a SecretStr) and is never logged; `repr()` shows the address only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import function_abi_to_4byte_selector, function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
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
    "TransactionReverted",
    "TransactionTimeout",
    "TxResult",
    "decode_revert_data",
]

DEFAULT_GAS_MARGIN = 1.25  # estimates are exact on a quiet chain; state can move before inclusion
DEFAULT_TX_TIMEOUT_SECONDS = 120.0
DEFAULT_PRIORITY_FEE_WEI = 1_000_000_000  # 1 gwei, when the node cannot suggest one
RECEIPT_POLL_SECONDS = 0.1


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


def _bytes(value: str | bytes, what: str, length: int | None = None) -> bytes:
    raw = bytes(HexBytes(value)) if isinstance(value, str) else bytes(value)
    if length is not None and len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def _hash_hex(tx_hash: Any) -> str:
    return "0x" + bytes(HexBytes(tx_hash)).hex()


# ----------------------------------------------------------------------------- relayer


class Relayer:
    """Signs and sends transactions from the relayer account (see the module docstring)."""

    __slots__ = ("chain", "gas_margin", "_account", "_lock", "_next_nonce")

    def __init__(self, chain: ChainClient, private_key: str, *, gas_margin: float = DEFAULT_GAS_MARGIN) -> None:
        if not private_key:
            raise ValueError("the relayer private key is empty")
        try:
            account = Account.from_key(private_key)
        except Exception:
            # `from None`: the original error could echo the key.
            raise ValueError("the relayer private key is not a valid secp256k1 private key") from None
        self.chain = chain
        self.gas_margin = gas_margin
        self._account = account
        self._lock = asyncio.Lock()
        self._next_nonce: int | None = None

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
        action = fn_name
        data = contract.encode_abi(fn_name, args=list(args))
        call = {"from": self.address, "to": contract.address, "data": data}
        try:
            estimate = await self.chain.w3.eth.estimate_gas(call)  # type: ignore[arg-type]
        except ContractLogicError as exc:  # ContractCustomError, ContractPanicError, plain reverts
            revert = decode_revert_data(_revert_data_from_exception(exc))
            raise TransactionReverted(action, revert, detail=str(exc.message or exc)) from None
        except Web3RPCError as exc:
            data_hex = _revert_data_from_exception(exc)
            if data_hex is None:
                raise
            raise TransactionReverted(action, decode_revert_data(data_hex), detail=str(exc)) from None
        gas = int(estimate * self.gas_margin) + 10_000
        return _PreparedCall(action=action, to=contract.address, data=data, gas=gas)

    async def _fees(self) -> dict[str, int]:
        """EIP-1559 fees (2 x base fee + tip, the usual headroom for a few full blocks), else legacy."""
        w3 = self.chain.w3
        block = await w3.eth.get_block("latest")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(await w3.eth.gas_price)}
        try:
            tip = int(await w3.eth.max_priority_fee)
        except Exception:  # not every node implements eth_maxPriorityFeePerGas
            tip = DEFAULT_PRIORITY_FEE_WEI
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * int(base_fee) + tip}

    async def _send_prepared(self, prepared: _PreparedCall) -> str:
        """Allocate the nonce, sign and broadcast, all under the lock. Returns the 0x tx hash."""
        w3 = self.chain.w3
        chain_id = await self.chain.chain_id()
        fees = await self._fees()
        async with self._lock:
            pending = int(await w3.eth.get_transaction_count(self.address, "pending"))
            nonce = pending if self._next_nonce is None else max(pending, self._next_nonce)
            tx: dict[str, Any] = {
                "chainId": chain_id,
                "nonce": nonce,
                "to": prepared.to,
                "data": prepared.data,
                "value": 0,
                "gas": prepared.gas,
                **fees,
            }
            signed = self._account.sign_transaction(tx)
            try:
                tx_hash = _hash_hex(await w3.eth.send_raw_transaction(signed.raw_transaction))
            except BaseException:
                # The node's view wins next time (e.g. "nonce too low" after an outside send).
                self._next_nonce = None
                raise
            self._next_nonce = nonce + 1
        log.info("relayer sent %s nonce=%d gas=%d tx=%s", prepared.action, nonce, prepared.gas, tx_hash)
        return tx_hash

    async def send_call(self, contract: AsyncContract, fn_name: str, *args: Any) -> str:
        """Estimate, then send `contract.fn_name(*args)`; returns the tx hash (not waiting)."""
        return await self._send_prepared(await self._prepare(contract, fn_name, args))

    async def wait_for_receipt(self, tx_hash: str, timeout: float = DEFAULT_TX_TIMEOUT_SECONDS) -> TxReceipt:
        """The receipt (status 1 or 0) once mined; TransactionTimeout after `timeout` seconds."""
        try:
            return await self.chain.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=timeout, poll_latency=RECEIPT_POLL_SECONDS
            )
        except TimeExhausted:
            raise TransactionTimeout(_hash_hex(tx_hash), timeout) from None

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
            response = await self.chain.w3.provider.make_request(
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
        w3 = self.chain.w3
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
        tx_hash = await self.send_call(contract, fn_name, *args)
        receipt = await self.wait_for_receipt(tx_hash, timeout)
        return await self.require_success(tx_hash, receipt, fn_name)

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
        return await self.require_success(tx_hash, receipt, action)

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
