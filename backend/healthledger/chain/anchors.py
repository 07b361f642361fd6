"""Reading one record's anchor from any vault, with nothing but an RPC URL.

Why a module of its own: `healthledger verify-bundle` checks a patient's verification bundle
against the chain on a machine with no deployment file, no factory address, no database and no
settings beyond the RPC URL. `ChainClient` needs the factory; this reader needs only the vault's
address, which the bundle names. Outages surface as `ChainUnavailable`, like everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.contract import AsyncContract
from web3.exceptions import BadFunctionCallOutput, ContractCustomError, TransactionNotFound

from .artifacts import health_record
from .events import hex0x
from .rpc import make_web3, translate_outages


@dataclass(frozen=True)
class AnchoredRecord:
    """`getRecord(recordId)` of a vault."""

    record_id: int
    content_hash: str  # 0x + 64 lower-case hex
    author: str  # checksummed


@dataclass(frozen=True)
class RecordAddedEvent:
    """One RecordAdded a transaction emitted."""

    contract: str  # checksummed emitter
    record_id: int
    content_hash: str


class AnchorReader:
    """Reads records and RecordAdded events of any HealthRecord vault over one RPC URL."""

    def __init__(self, rpc_url: str, *, timeout_seconds: float = 10.0) -> None:
        self._w3 = make_web3(rpc_url, timeout_seconds)
        self._codec: AsyncContract = self._w3.eth.contract(abi=health_record().abi)

    async def aclose(self) -> None:
        await self._w3.provider.disconnect()

    @translate_outages
    async def chain_id(self) -> int:
        return int(await self._w3.eth.chain_id)

    @translate_outages
    async def get_record(self, contract: str, record_id: int) -> AnchoredRecord | None:
        """The record, or None when `contract` has no code or no such record (any revert)."""
        vault = self._w3.eth.contract(address=to_checksum_address(contract), abi=health_record().abi)
        try:
            _kind, content_hash, _timestamp, author = await vault.functions.getRecord(record_id).call()
        except (BadFunctionCallOutput, ContractCustomError):
            return None
        return AnchoredRecord(record_id, hex0x(content_hash), to_checksum_address(author))

    @translate_outages
    async def records_added(self, tx_hash: str) -> list[RecordAddedEvent] | None:
        """RecordAdded events of a mined, successful transaction; None if it is unknown or failed."""
        try:
            receipt = await self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        if receipt["status"] != 1:
            return None
        event = self._codec.events.RecordAdded()
        topic = HexBytes(event.topic)
        found = []
        for log in receipt["logs"]:
            if not log["topics"] or HexBytes(log["topics"][0]) != topic:
                continue
            decoded = event.process_log(log)
            found.append(
                RecordAddedEvent(
                    contract=to_checksum_address(log["address"]),
                    record_id=int(decoded["args"]["recordId"]),
                    content_hash=hex0x(decoded["args"]["contentHash"]),
                )
            )
        return found
