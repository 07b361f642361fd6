"""Why a transaction reverted: custom errors decoded from the contracts' ABIs, and diagnostics for
a mined failure (the node's call trace, or a replay of the call on the state before its block).

Split from chain/relayer.py, which raises `TransactionReverted` with what this module decodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import (
    function_abi_to_4byte_selector,
    function_signature_to_4byte_selector,
    to_checksum_address,
)
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from .artifacts import bill_payments, health_record, health_record_factory, test_usd
from .client import ChainClient

__all__ = ["DecodedRevert", "RevertDiagnostics", "decode_revert_data", "revert_data_from_exception"]


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
    """selector -> (name, arg names, arg types) for every error our contracts can raise (BillPayments'
    included, and an ERC-20 token's through TestUSD's ABI: OpenZeppelin's ERC20/ERC2612 errors)."""
    table: dict[bytes, tuple[str, list[str], list[str]]] = {
        function_signature_to_4byte_selector("Error(string)"): ("Error", ["message"], ["string"]),
        function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["code"], ["uint256"]),
    }
    for artifact in (health_record(), health_record_factory(), bill_payments(), test_usd()):
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


def revert_data_from_exception(exc: BaseException) -> str | None:
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


def _hash_hex(tx_hash: Any) -> str:
    return "0x" + bytes(HexBytes(tx_hash)).hex()


class RevertDiagnostics:
    """The reason of a mined failure, for `Relayer.require_success` (a mixin: it needs `self.chain`)."""

    __slots__ = ()
    chain: ChainClient

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
            return decode_revert_data(revert_data_from_exception(exc)), str(exc.message or exc)
        except Exception as exc:  # the replay is diagnostics only
            return None, f"reason unknown ({type(exc).__name__})"
        if receipt["gasUsed"] >= tx["gas"]:
            return None, "out of gas"
        return None, "reason unknown (the call succeeds when replayed)"
