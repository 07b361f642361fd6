"""Reading the audit trail of patients' clones: logs, their decoding, and receipts.

A mixin of `ChainClient` (one client, one web3 session) kept in its own module because it is its
own job: which events count as audit, how a raw log becomes an `AuditEvent`, and how the logs of
one or many clones are fetched with as few requests as possible (one `eth_getLogs` per block range
or per LOG_ADDRESSES_PER_QUERY clones, block timestamps in JSON-RPC batches).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from eth_utils import event_abi_to_log_topic, is_address, to_checksum_address
from hexbytes import HexBytes

from .addresses import checksum, predict_vault_address
from .rpc import ChainError, translate_outages

if TYPE_CHECKING:  # the attributes and methods ChainClient provides
    from web3 import AsyncWeb3
    from web3.contract import AsyncContract

__all__ = ["AUDIT_EVENTS", "LOG_ADDRESSES_PER_QUERY", "AuditEvent", "ChainEvents"]

# The patient-facing audit trail of a clone (EIP712DomainChanged is never emitted and not audit).
AUDIT_EVENTS: tuple[str, ...] = (
    "RecordAdded",
    "AccessRequested",
    "AccessApproved",
    "AccessDenied",
    "AccessRevoked",
    "RecordsRevoked",
    "ExtensionRequested",
    "ExtensionApproved",
    "RecordsApproved",
    "WriteApproved",
    "WriteRevoked",
    "NonceInvalidated",
)

# Clones per `eth_getLogs` when reading many patients' trails (an address-list filter).
LOG_ADDRESSES_PER_QUERY = 200


@dataclass(frozen=True)
class AuditEvent:
    """A decoded event of a patient's clone, with where and when it happened."""

    name: str
    args: dict[str, Any]  # JSON-friendly: checksummed addresses, 0x-hex bytes, ints, lists
    contract: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    timestamp: int | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hex0x(value: Any) -> str:
    """Bytes (or HexBytes) as `0x` + lowercase hex."""
    return "0x" + bytes(value).hex()


def _jsonable(value: Any) -> Any:
    """Event args as plain JSON values (web3 gives bytes/HexBytes and tuples)."""
    if isinstance(value, (bytes, bytearray)):
        return hex0x(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, str) and is_address(value) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return value


def audit_topics(vault_abi: Sequence[Mapping[str, Any]]) -> dict[bytes, str]:
    """topic0 -> event name, for the AUDIT_EVENTS of the HealthRecord ABI."""
    return {
        event_abi_to_log_topic(entry): entry["name"]
        for entry in vault_abi
        if entry.get("type") == "event" and entry["name"] in AUDIT_EVENTS
    }


class ChainEvents:
    """Event reading for ChainClient (see the module docstring)."""

    if TYPE_CHECKING:
        _w3: AsyncWeb3
        _vault_codec: AsyncContract
        _event_names_by_topic: dict[bytes, str]
        _record_added_topic: bytes
        _implementation: str | None
        factory_address: str

        async def vault_address(self, patient: str) -> str: ...
        async def block_number(self) -> int: ...
        async def block_timestamps(self, numbers: Iterable[int]) -> dict[int, int]: ...

    def decode_log(self, entry: Mapping[str, Any]) -> AuditEvent | None:
        """An audit event from one raw log of a clone, or None if it is not one of AUDIT_EVENTS."""
        topics = entry.get("topics") or []
        if not topics:
            return None
        name = self._event_names_by_topic.get(bytes(HexBytes(topics[0])))
        if name is None:
            return None
        event = getattr(self._vault_codec.events, name)().process_log(entry)
        return AuditEvent(
            name=name,
            args={key: _jsonable(value) for key, value in event["args"].items()},
            contract=to_checksum_address(event["address"]),
            block_number=int(event["blockNumber"]),
            block_hash=hex0x(event["blockHash"]),
            tx_hash=hex0x(event["transactionHash"]),
            log_index=int(event["logIndex"]),
        )

    def _topics(self, names: Iterable[str] | None) -> list[list[str]]:
        wanted = set(names) if names is not None else set(AUDIT_EVENTS)
        unknown = wanted - set(AUDIT_EVENTS)
        if unknown:
            raise ValueError(f"unknown events {sorted(unknown)}; expected some of {AUDIT_EVENTS}")
        return [["0x" + t.hex() for t, n in self._event_names_by_topic.items() if n in wanted]]

    async def _with_timestamps(self, events: list[AuditEvent]) -> list[AuditEvent]:
        """The events with their blocks' timestamps (one JSON-RPC batch per batch_size blocks)."""
        if not events:
            return events
        times = await self.block_timestamps(e.block_number for e in events)
        missing = sorted({e.block_number for e in events} - times.keys())
        if missing:
            raise ChainError(f"blocks: the node has no block {missing[0]}")
        return [replace(e, timestamp=times[e.block_number]) for e in events]

    @translate_outages
    async def get_events(
        self,
        patient: str,
        from_block: int = 0,
        to_block: int | str = "latest",
        *,
        names: Iterable[str] | None = None,
        max_block_range: int | None = None,
        with_timestamps: bool = True,
    ) -> list[AuditEvent]:
        """The audit trail of `patient`'s clone between two blocks, oldest first.

        `names` keeps only those events (default: all of AUDIT_EVENTS). `max_block_range` splits the
        query for providers that cap eth_getLogs ranges. Timestamps come from the blocks, fetched in
        one batch.
        """
        address = await self.vault_address(patient)
        topics = self._topics(names)
        end = await self.block_number() if to_block == "latest" else int(to_block)
        step = max_block_range or max(end - from_block + 1, 1)
        raw_logs: list[Any] = []
        for start in range(from_block, end + 1, step):
            raw_logs.extend(
                await self._w3.eth.get_logs(
                    {"address": address, "fromBlock": start, "toBlock": min(start + step - 1, end), "topics": topics}
                )
            )
        events = [e for e in (self.decode_log(entry) for entry in raw_logs) if e is not None]
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return await self._with_timestamps(events) if with_timestamps else events

    @translate_outages
    async def get_events_many(self, patients: Sequence[str]) -> list[tuple[str, AuditEvent]]:
        """(patient, event) for every audit event of every given patient's clone, with timestamps.

        The clones' addresses are computed locally; their logs come with one `eth_getLogs` per
        LOG_ADDRESSES_PER_QUERY clones (an address-list filter). `patient` is as given.
        """
        by_contract = {(await self.vault_address(p)).lower(): p for p in patients}
        addresses = [to_checksum_address(a) for a in by_contract]
        if not addresses:
            return []
        topics = self._topics(None)
        end = await self.block_number()
        raw: list[Any] = []
        for start in range(0, len(addresses), LOG_ADDRESSES_PER_QUERY):
            chunk = addresses[start : start + LOG_ADDRESSES_PER_QUERY]
            raw.extend(await self._w3.eth.get_logs({"address": chunk, "fromBlock": 0, "toBlock": end, "topics": topics}))
        decoded = [e for e in (self.decode_log(entry) for entry in raw) if e is not None]
        events = await self._with_timestamps(decoded)
        # An event of another contract cannot come back with the address filter; skip it if it does.
        return [(by_contract[e.contract.lower()], e) for e in events if e.contract.lower() in by_contract]

    @translate_outages
    async def emitters_of(self, name: str, doctor: str) -> list[str]:
        """Addresses of every contract that emitted audit event `name` with `doctor` as its indexed
        first argument, oldest first, each once (one `eth_getLogs` over the whole chain, any emitter).

        Anyone can deploy a contract that emits the same event: callers keep only real vaults
        (`ChainClient.patients_of_vaults`) and confirm the state with a view call.
        """
        topic = next((t for t, n in self._event_names_by_topic.items() if n == name), None)
        if topic is None:
            raise ValueError(f"unknown event {name!r}; expected one of {AUDIT_EVENTS}")
        doctor_topic = "0x" + bytes.fromhex(checksum(doctor, "doctor")[2:]).rjust(32, b"\x00").hex()
        end = await self.block_number()
        logs = await self._w3.eth.get_logs(
            {"fromBlock": 0, "toBlock": end, "topics": ["0x" + topic.hex(), doctor_topic]}
        )
        return list(dict.fromkeys(to_checksum_address(entry["address"]) for entry in logs))

    def events_from_receipt(self, receipt: Mapping[str, Any], contract: str | None = None) -> list[AuditEvent]:
        """Audit events in a receipt, optionally only those emitted by `contract`."""
        wanted = to_checksum_address(contract) if contract else None
        out = []
        for entry in receipt.get("logs", []):
            if wanted and to_checksum_address(entry["address"]) != wanted:
                continue
            event = self.decode_log(entry)
            if event is not None:
                out.append(event)
        return out

    def record_id_from_receipt(self, patient: str, receipt: Mapping[str, Any], author: str | None = None) -> int:
        """The id of the record an `addRecordBySig` (or, with `author`, that doctor's
        `addRecordAsDoctorBySig`) receipt added for `patient`.

        Matches RecordAdded by its emitter (the patient's clone, once the implementation address is
        known) and by its author (the patient unless `author` names the doctor), so a foreign log in
        the same receipt cannot be mistaken for it. Raises ValueError if there is none (e.g. the
        transaction reverted).
        """
        patient = checksum(patient, "patient")
        expected_author = checksum(author, "author") if author else patient
        clone = (
            predict_vault_address(self.factory_address, self._implementation, patient)
            if self._implementation
            else None
        )
        for entry in receipt.get("logs", []):
            topics = entry.get("topics") or []
            if not topics or bytes(HexBytes(topics[0])) != self._record_added_topic:
                continue
            if clone and to_checksum_address(entry["address"]) != clone:
                continue
            event = self.decode_log(entry)
            if event is not None and event.args["author"] == expected_author:
                return int(event.args["recordId"])
        tx_hash = hex0x(receipt.get("transactionHash", b""))
        raise ValueError(f"no RecordAdded event by {expected_author} for {patient} in transaction {tx_hash}")
