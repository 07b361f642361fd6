"""Assertion and time helpers shared by the contract tests."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

import ape
from ape.exceptions import CustomError
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import ContractCustomError, ContractLogicError as Web3ContractLogicError


def _normalise(value: Any) -> Any:
    if isinstance(value, bytes | HexBytes):
        return HexBytes(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if hasattr(value, "address") and not isinstance(value, str):
        return to_checksum_address(value.address)
    return value


@contextmanager
def reverts_with(error: type[CustomError], **inputs: Any):
    """Like `ape.reverts(error, **inputs)`, but strict.

    ape's own check passes silently when the revert could not be decoded as a custom error; this one
    requires the decoded error to be exactly `error` and every given input to match.
    """
    with ape.reverts() as info:
        yield info
    exc = info.value
    assert isinstance(exc, CustomError), f"expected custom error {error.__name__}, got {type(exc).__name__}: {exc}"
    assert type(exc).__name__ == error.__name__, f"expected {error.__name__}, got {type(exc).__name__}"
    actual = exc.inputs or {}
    for name, expected in inputs.items():
        assert name in actual, f"{error.__name__} has no input {name!r} (inputs: {actual})"
        assert _normalise(actual[name]) == _normalise(expected), (
            f"{error.__name__}.{name}: expected {expected!r}, got {actual[name]!r}"
        )


def decode_revert(contract, data: bytes) -> tuple[str, dict[str, Any]]:
    """Name and inputs of a revert payload, using the contract's ABI errors."""
    data = HexBytes(data)
    selector, payload = data[:4], data[4:]
    for abi in contract.contract_type.errors:
        if HexBytes(keccak(text=abi.selector)[:4]) == selector:
            types = [i.canonical_type for i in abi.inputs]
            values = abi_decode(types, payload) if types else ()
            return abi.name, {i.name: v for i, v in zip(abi.inputs, values, strict=True)}
    if selector == HexBytes(keccak(text="Error(string)")[:4]):
        return "Error", {"message": abi_decode(["string"], payload)[0]}
    if selector == HexBytes(keccak(text="Panic(uint256)")[:4]):
        return "Panic", {"code": abi_decode(["uint256"], payload)[0]}
    raise AssertionError(f"unknown revert payload {data.hex()}")


def assert_view_reverts(contract, method: str, args: tuple, error: str, sender=None, **inputs: Any) -> None:
    """A view call reverts with custom error `error` (and `inputs`).

    Anvil reports view reverts as the text `custom error 0x...`, which ape does not decode; the raw
    eth_call's revert data is decoded here instead.
    """
    tx = getattr(contract, method).as_transaction(*args)
    call = {"to": contract.address, "data": HexBytes(tx.data)}
    if sender is not None:
        call["from"] = sender.address
    web3 = ape.chain.provider.web3
    try:
        result = web3.eth.call(call)
    except ContractCustomError as exc:
        data = exc.data
    except Web3ContractLogicError as exc:  # Error(string) or empty revert
        data = exc.data or b""
    else:
        raise AssertionError(f"{method}{args} did not revert (returned {HexBytes(result).hex()})")
    name, actual = decode_revert(contract, HexBytes(data))
    assert name == error, f"{method}{args}: expected {error}, got {name}{actual}"
    for key, expected in inputs.items():
        assert _normalise(actual[key]) == _normalise(expected), (
            f"{error}.{key}: expected {expected!r}, got {actual[key]!r}"
        )


def one_event(receipt, contract, name: str) -> dict[str, Any]:
    """The arguments of the single `name` event the transaction emitted from `contract`."""
    logs = [log for log in receipt.decode_logs(getattr(contract, name)) if log.contract_address == contract.address]
    assert len(logs) == 1, f"expected one {name} from {contract.address}, got {len(logs)}: {receipt.events}"
    return dict(logs[0].event_arguments)


def event_names(receipt) -> list[str]:
    return [log.event_name for log in receipt.events]


def head_time() -> int:
    """Timestamp that view calls see (Anvil evaluates eth_call at the latest block)."""
    return ape.chain.blocks.head.timestamp


def next_block_at(timestamp: int) -> None:
    """The next mined block (e.g. the next transaction's) gets exactly `timestamp`."""
    ape.chain.pending_timestamp = timestamp


def warp_to(timestamp: int) -> None:
    """Mine an empty block at `timestamp`, so that views see that time."""
    ape.chain.mine(timestamp=timestamp)


def addr(account) -> str:
    return to_checksum_address(account if isinstance(account, str) else account.address)


# ------------------------------------------------------------------ raw JSON-RPC fast path
#
# An ape transaction costs ~15 JSON-RPC round trips (~85 ms here). Fixtures that only *prepare*
# state, and the property test that runs hundreds of steps, send raw `eth_sendTransaction`s instead
# (Anvil signs for its unlocked dev accounts and mines each one at once): two round trips.


def rpc(method: str, params: list) -> Any:
    return ape.chain.provider.make_request(method, params)


def hex_data(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def send_raw(contract, method: str, *args: Any, sender, gas: int = 3_000_000) -> tuple[str, dict]:
    """Send `contract.method(*args)` from `sender`; returns (tx hash, raw receipt) whatever the status."""
    data = getattr(contract, method).encode_input(*args)
    tx = {"from": addr(sender), "to": contract.address, "data": hex_data(data), "gas": hex(gas)}
    tx_hash = rpc("eth_sendTransaction", [tx])
    return tx_hash, wait_for_receipt(tx_hash)


def wait_for_receipt(tx_hash: str, timeout: float = 10.0) -> dict:
    """Anvil answers eth_sendTransaction before the automined block is queryable (a few ms later):
    poll for the receipt (each poll is a round trip; no sleeping)."""
    deadline = time.monotonic() + timeout
    while (receipt := rpc("eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"transaction {tx_hash} not mined after {timeout}s (automine off?)")
    return receipt


def succeeded(receipt: dict) -> bool:
    return int(receipt["status"], 16) == 1


def revert_of(contract, tx_hash: str) -> tuple[str, dict[str, Any]]:
    """Decoded custom error of a failed transaction (from its call trace's output)."""
    trace = rpc("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
    output = trace.get("output") or "0x"
    return decode_revert(contract, HexBytes(output))


def transact_fast(contract, method: str, *args: Any, sender, gas: int = 3_000_000) -> dict:
    """`send_raw` that must succeed (for fixtures)."""
    tx_hash, receipt = send_raw(contract, method, *args, sender=sender, gas=gas)
    if not succeeded(receipt):
        raise AssertionError(f"{method}{args} reverted: {revert_of(contract, tx_hash)}")
    return receipt
