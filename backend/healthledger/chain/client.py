"""Read-only access to the HealthLedger contracts over JSON-RPC (web3.py 7, async).

Why async: the API is FastAPI on one event loop; a blocking RPC call would stall every request.
Why so few round trips: a patient's clone address is CREATE2-deterministic, so it is computed
locally (after one `implementation()` read) instead of asked for, and bulk reads (all records of a
patient, the blocks of a page of events) go out as one JSON-RPC batch per chunk rather than one
HTTP request each, so an integrity check over 1,000 records costs a handful of requests.

Writes live in `relayer.py`; this client never holds a key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from aiohttp import ClientError, ClientOSError, ClientTimeout, ServerDisconnectedError
from aiohttp.client_exceptions import ClientConnectionResetError
from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, function_signature_to_4byte_selector, is_address, keccak
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import BadFunctionCallOutput, ContractCustomError, TransactionNotFound
from web3.providers.rpc.utils import REQUEST_RETRY_ALLOWLIST, ExceptionRetryConfiguration
from web3.types import TxReceipt

from .artifacts import health_record, health_record_factory

log = logging.getLogger(__name__)

__all__ = [
    "AUDIT_EVENTS",
    "REGISTRAR_ROLE",
    "ApprovedRecords",
    "AuditEvent",
    "ChainClient",
    "ChainError",
    "Grant",
    "OnChainRecord",
    "predict_record_address",
]

REGISTRAR_ROLE: bytes = keccak(text="REGISTRAR_ROLE")
KIND_NAMES: dict[int, str] = {0: "prescription", 1: "bill", 2: "report"}

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
)

# Requests per JSON-RPC batch: large enough that 1,000 records take 2 requests, small enough that
# hosted providers (which cap batch sizes, often at 100-1000) and their body limits accept it.
DEFAULT_BATCH_SIZE = 500

_GET_RECORD_SELECTOR = function_signature_to_4byte_selector("getRecord(uint256)")
_GET_RECORD_TYPES = ("uint8", "bytes32", "uint64", "address")
_UNKNOWN_RECORD_SELECTOR = function_signature_to_4byte_selector("UnknownRecord(uint256)")


# web3 tries a failed request 5 times (back-off 0.125 s, doubling) on any transport error *or timeout*:
# a node that accepts connections but does not answer then costs 5 x RPC_TIMEOUT_SECONDS per call.
# Only failures that are quick and that a fresh connection may cure are tried again: the node
# refusing connections (restarting) or closing a pooled one. A timeout is answered at once.
#
# `eth_sendRawTransaction` is never tried again here: the relayer tells from the failure whether the
# transaction may have reached the node (`RelayerUnavailable.maybe_sent`), and a retry that ends
# refused would hide a first attempt the node took before it went away. The relayer re-sends
# (same signed transaction) itself when the node turns out not to have it.
RETRY_ON_CONNECTION_ERRORS = ExceptionRetryConfiguration(
    errors=(ClientOSError, ClientConnectionResetError, ServerDisconnectedError),
    method_allowlist=[method for method in REQUEST_RETRY_ALLOWLIST if method != "eth_sendRawTransaction"],
)


class ChainError(RuntimeError):
    """The node answered with a JSON-RPC error (or an answer we cannot use)."""


# What a call to the node raises when the node cannot be reached or does not answer in time.
CHAIN_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (ClientError, TimeoutError)


# ----------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class OnChainRecord:
    """One record as HealthRecord.getRecord returns it."""

    record_id: int
    kind: int
    content_hash: str  # 0x + 64 lowercase hex (SHA-256 of the plaintext)
    timestamp: int  # block time it was added
    author: str  # checksummed

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, str(self.kind))


@dataclass(frozen=True)
class Grant:
    """A doctor's relation with one patient (HealthRecord.getGrant)."""

    expires_at: int  # 0 when never granted or revoked; may lie in the past
    pending_extension: int  # seconds asked for, 0 = none
    request_pending: bool

    def is_active(self, now: int) -> bool:
        """Whether the grant is live at block time `now` (the contract's `expiresAt > block.timestamp`)."""
        return self.expires_at > now


@dataclass(frozen=True)
class ApprovedRecords:
    """What a doctor can read right now (HealthRecord.getApprovedRecords); empty when no live grant."""

    record_ids: tuple[int, ...]
    content_hashes: tuple[str, ...]
    expires_at: int


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


# ----------------------------------------------------------------------------- helpers


def _clone_init_code(implementation: str, args: bytes) -> bytes:
    """OpenZeppelin 5 `Clones._cloneCodeWithImmutableArgs`: EIP-1167 proxy with `args` appended."""
    return (
        b"\x61"
        + (len(args) + 0x2D).to_bytes(2, "big")
        + bytes.fromhex("3d81600a3d39f3363d3d373d3d3d363d73")
        + bytes.fromhex(implementation[2:])
        + bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
        + args
    )


def predict_record_address(factory: str, implementation: str, patient: str) -> str:
    """The address of `patient`'s clone, as `HealthRecordFactory.predictRecordAddress` computes it.

    CREATE2 with salt = the patient's address left-padded to 32 bytes, and the clone's init code
    carrying the patient's address as its immutable argument.
    """
    patient_bytes = bytes.fromhex(to_checksum_address(patient)[2:])
    salt = patient_bytes.rjust(32, b"\x00")
    init_code_hash = keccak(_clone_init_code(to_checksum_address(implementation), patient_bytes))
    digest = keccak(b"\xff" + bytes.fromhex(to_checksum_address(factory)[2:]) + salt + init_code_hash)
    return to_checksum_address(digest[12:])


def _checksum(address: str, what: str = "address") -> str:
    if not isinstance(address, str) or not is_address(address):
        raise ValueError(f"{what} must be an Ethereum address, got {address!r}")
    return to_checksum_address(address)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _jsonable(value: Any) -> Any:
    """Event args as plain JSON values (web3 gives bytes/HexBytes and tuples)."""
    if isinstance(value, (bytes, bytearray)):
        return _hex(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, str) and is_address(value) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return value


def _get_record_data(record_id: int) -> str:
    return "0x" + (_GET_RECORD_SELECTOR + record_id.to_bytes(32, "big")).hex()


def _revert_selector(exc: Exception) -> bytes | None:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return bytes.fromhex(data[2:10])
    return None


def _rpc_result(response: Mapping[str, Any], what: str) -> Any:
    if not isinstance(response, Mapping):
        raise ChainError(f"{what}: unexpected JSON-RPC answer {response!r}")
    if response.get("error"):
        raise ChainError(f"{what}: {response['error']}")
    return response.get("result")


# ----------------------------------------------------------------------------- client


class ChainClient:
    """Reads the factory, the doctor registry and patients' clones.

    `factory_address` is the deployed HealthRecordFactory (from the deployment file / settings).
    One instance is shared by the whole service; it caches only what never changes (chain id,
    implementation address, hence every clone address).
    """

    def __init__(
        self,
        rpc_url: str,
        factory_address: str,
        *,
        timeout_seconds: float = 10.0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        w3: AsyncWeb3 | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        # web3's async session manager reads `.total` from the timeout: it must be a ClientTimeout.
        self.w3: AsyncWeb3 = w3 or AsyncWeb3(
            AsyncHTTPProvider(
                rpc_url,
                request_kwargs={"timeout": ClientTimeout(total=timeout_seconds)},
                exception_retry_configuration=RETRY_ON_CONNECTION_ERRORS,
            )
        )
        self.factory_address = _checksum(factory_address, "factory_address")
        self.factory: AsyncContract = self.w3.eth.contract(
            address=self.factory_address, abi=health_record_factory().abi
        )
        self.batch_size = batch_size
        self._record_abi = health_record().abi
        # A contract object with no address, used to decode HealthRecord logs from any clone.
        self._record_codec: AsyncContract = self.w3.eth.contract(abi=self._record_abi)
        self._event_names_by_topic: dict[bytes, str] = {
            event_abi_to_log_topic(entry): entry["name"]
            for entry in self._record_abi
            if entry.get("type") == "event" and entry["name"] in AUDIT_EVENTS
        }
        self._record_added_topic = next(t for t, n in self._event_names_by_topic.items() if n == "RecordAdded")
        self._chain_id: int | None = None
        self._implementation: str | None = None

    def __repr__(self) -> str:
        return f"ChainClient({self.rpc_url!r}, factory={self.factory_address})"

    async def aclose(self) -> None:
        """Close the HTTP sessions (call once at shutdown; also per test, since sessions belong to a loop)."""
        await self.w3.provider.disconnect()

    # -- chain ----------------------------------------------------------------------------------

    async def chain_id(self) -> int:
        """The chain id (cached: a node does not change chains)."""
        if self._chain_id is None:
            self._chain_id = int(await self.w3.eth.chain_id)
        return self._chain_id

    async def block_number(self) -> int:
        return int(await self.w3.eth.block_number)

    async def latest_timestamp(self) -> int:
        """`block.timestamp` of the latest block: the clock grants are measured against."""
        block = await self.w3.eth.get_block("latest")
        return int(block["timestamp"])

    async def balance_of(self, address: str) -> int:
        """Balance in wei (e.g. of the relayer, for the status page)."""
        return int(await self.w3.eth.get_balance(_checksum(address)))

    async def receipt_or_none(self, tx_hash: str | bytes) -> TxReceipt | None:
        """The receipt if the transaction was mined, None if it is unknown or still pending."""
        try:
            return await self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    async def transaction_pending(self, tx_hash: str | bytes) -> bool:
        """Whether the node holds the transaction unmined in its pool (False if unknown or mined)."""
        try:
            tx = await self.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return tx.get("blockNumber") is None

    async def block_hashes(self, numbers: Iterable[int]) -> dict[int, str | None]:
        """number -> hash of the canonical block at that height now (None above the head), one batch."""
        wanted = sorted({int(n) for n in numbers if n is not None and int(n) >= 0})
        if not wanted:
            return {}
        blocks = await self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in wanted], "blocks")
        return {
            n: (str(b["hash"]).lower() if isinstance(b, Mapping) and b.get("hash") else None)
            for n, b in zip(wanted, blocks, strict=True)
        }

    async def _batch(self, calls: Sequence[tuple[str, list[Any]]], what: str) -> list[Any]:
        """Send raw JSON-RPC requests in batches of `batch_size`; results in request order."""
        results: list[Any] = []
        provider = self.w3.provider
        for start in range(0, len(calls), self.batch_size):
            chunk = list(calls[start : start + self.batch_size])
            responses = await provider.make_batch_request(chunk)  # type: ignore[arg-type]
            if not isinstance(responses, list):  # the node rejected the whole batch
                raise ChainError(f"{what}: {_rpc_result(responses, what)!r}")
            if len(responses) != len(chunk):
                raise ChainError(f"{what}: {len(chunk)} requests but {len(responses)} answers")
            results.extend(_rpc_result(r, what) for r in responses)
        return results

    # -- factory and registry -------------------------------------------------------------------

    async def implementation_address(self) -> str:
        """The HealthRecord implementation every clone delegates to (cached: immutable)."""
        if self._implementation is None:
            self._implementation = to_checksum_address(await self.factory.functions.implementation().call())
        return self._implementation

    async def record_address(self, patient: str) -> str:
        """Address of `patient`'s clone, whether or not it exists yet (computed locally)."""
        return predict_record_address(self.factory_address, await self.implementation_address(), patient)

    async def record_exists(self, patient: str) -> bool:
        """Whether `patient`'s clone has been created (the factory's own definition: code is there)."""
        code = await self.w3.eth.get_code(await self.record_address(patient))
        return len(code) > 0

    async def record_contract(self, patient: str) -> AsyncContract:
        """A contract object for `patient`'s clone (calls fail if it does not exist yet)."""
        return self.w3.eth.contract(address=await self.record_address(patient), abi=self._record_abi)

    async def is_doctor(self, address: str) -> bool:
        return bool(await self.factory.functions.isDoctor(_checksum(address)).call())

    async def has_registrar_role(self, address: str) -> bool:
        return bool(await self.factory.functions.hasRole(REGISTRAR_ROLE, _checksum(address)).call())

    # -- one patient's clone --------------------------------------------------------------------

    async def nonce_of(self, patient: str, signer: str) -> int:
        """`signer`'s next EIP-712 nonce in `patient`'s clone; 0 while the clone does not exist."""
        contract = await self.record_contract(patient)
        try:
            return int(await contract.functions.nonces(_checksum(signer)).call())
        except BadFunctionCallOutput:  # empty answer: no code at the predicted address yet
            return 0

    async def record_count(self, patient: str) -> int:
        """Number of records (0 while the clone does not exist)."""
        contract = await self.record_contract(patient)
        try:
            return int(await contract.functions.recordCount().call())
        except BadFunctionCallOutput:
            return 0

    async def get_record(self, patient: str, record_id: int) -> OnChainRecord | None:
        """One record, or None when the clone or the record does not exist (one eth_call)."""
        if record_id < 0:
            return None
        contract = await self.record_contract(patient)
        try:
            kind, content_hash, timestamp, author = await contract.functions.getRecord(record_id).call()
        except BadFunctionCallOutput:  # no clone yet
            return None
        except ContractCustomError as exc:  # UnknownRecord(recordId)
            if _revert_selector(exc) == _UNKNOWN_RECORD_SELECTOR:
                return None
            raise
        return OnChainRecord(record_id, int(kind), _hex(content_hash), int(timestamp), to_checksum_address(author))

    async def get_records_batch(
        self, patient: str, record_ids: Iterable[int] | None = None
    ) -> list[OnChainRecord]:
        """Records of `patient` (all of them by default), in id order, read in JSON-RPC batches.

        Ids that do not exist are left out, so `len(result)` tells how many were found. One
        `recordCount` call, then `ceil(n / batch_size)` HTTP requests of `getRecord` eth_calls.
        Records are append-only and never change, so reading them at "latest" after the count is
        consistent.
        """
        address = await self.record_address(patient)
        count = await self.record_count(patient)
        ids = range(count) if record_ids is None else sorted({i for i in record_ids if 0 <= i < count})
        calls = [
            ("eth_call", [{"to": address, "data": _get_record_data(i)}, "latest"])
            for i in ids
        ]
        answers = await self._batch(calls, "getRecord")
        records = []
        for record_id, answer in zip(ids, answers, strict=True):
            kind, content_hash, timestamp, author = abi_decode(_GET_RECORD_TYPES, HexBytes(answer))
            records.append(
                OnChainRecord(
                    record_id=record_id,
                    kind=int(kind),
                    content_hash=_hex(content_hash),
                    timestamp=int(timestamp),
                    author=to_checksum_address(author),
                )
            )
        return records

    async def can_read(self, patient: str, reader: str, record_id: int) -> bool:
        """Whether `reader` may read the record now (False while the clone does not exist)."""
        contract = await self.record_contract(patient)
        try:
            return bool(await contract.functions.canRead(_checksum(reader), record_id).call())
        except BadFunctionCallOutput:
            return False

    async def get_approved_records(self, patient: str, doctor: str) -> ApprovedRecords:
        """Record ids and hashes `doctor` can read now, with the grant's expiry (empty if none)."""
        contract = await self.record_contract(patient)
        try:
            ids, hashes, expires_at = await contract.functions.getApprovedRecords(_checksum(doctor)).call()
        except BadFunctionCallOutput:
            return ApprovedRecords((), (), 0)
        return ApprovedRecords(tuple(int(i) for i in ids), tuple(_hex(h) for h in hashes), int(expires_at))

    async def get_grant(self, patient: str, doctor: str) -> Grant:
        """`doctor`'s grant state with `patient` (all zero/False while the clone does not exist)."""
        contract = await self.record_contract(patient)
        try:
            expires_at, pending, requested = await contract.functions.getGrant(_checksum(doctor)).call()
        except BadFunctionCallOutput:
            return Grant(0, 0, False)
        return Grant(int(expires_at), int(pending), bool(requested))

    # -- events ---------------------------------------------------------------------------------

    def decode_log(self, entry: Mapping[str, Any]) -> AuditEvent | None:
        """An audit event from one raw log of a clone, or None if it is not one of AUDIT_EVENTS."""
        topics = entry.get("topics") or []
        if not topics:
            return None
        name = self._event_names_by_topic.get(bytes(HexBytes(topics[0])))
        if name is None:
            return None
        event = getattr(self._record_codec.events, name)().process_log(entry)
        return AuditEvent(
            name=name,
            args={key: _jsonable(value) for key, value in event["args"].items()},
            contract=to_checksum_address(event["address"]),
            block_number=int(event["blockNumber"]),
            block_hash=_hex(event["blockHash"]),
            tx_hash=_hex(event["transactionHash"]),
            log_index=int(event["logIndex"]),
        )

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
        address = await self.record_address(patient)
        wanted = set(names) if names is not None else set(AUDIT_EVENTS)
        unknown = wanted - set(AUDIT_EVENTS)
        if unknown:
            raise ValueError(f"unknown events {sorted(unknown)}; expected some of {AUDIT_EVENTS}")
        topics = [["0x" + t.hex() for t, n in self._event_names_by_topic.items() if n in wanted]]
        end = await self.block_number() if to_block == "latest" else int(to_block)
        step = max_block_range or max(end - from_block + 1, 1)
        raw_logs: list[Any] = []
        for start in range(from_block, end + 1, step):
            raw_logs.extend(
                await self.w3.eth.get_logs(
                    {"address": address, "fromBlock": start, "toBlock": min(start + step - 1, end), "topics": topics}
                )
            )
        events = [e for e in (self.decode_log(entry) for entry in raw_logs) if e is not None]
        events.sort(key=lambda e: (e.block_number, e.log_index))
        if with_timestamps and events:
            numbers = sorted({e.block_number for e in events})
            blocks = await self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers], "blocks")
            times = {n: int(b["timestamp"], 16) for n, b in zip(numbers, blocks, strict=True)}
            events = [replace(e, timestamp=times[e.block_number]) for e in events]
        return events

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

    def record_id_from_receipt(self, patient: str, receipt: Mapping[str, Any]) -> int:
        """The id of the record an `addRecordBySig` receipt added for `patient`.

        Matches RecordAdded by its emitter (the patient's clone, once the implementation address is
        known) and by author = patient, so a foreign log in the same receipt cannot be mistaken for
        it. Raises ValueError if there is none (e.g. the transaction reverted).
        """
        patient = _checksum(patient, "patient")
        clone = (
            predict_record_address(self.factory_address, self._implementation, patient)
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
            if event is not None and event.args["author"] == patient:
                return int(event.args["recordId"])
        tx_hash = _hex(receipt.get("transactionHash", b""))
        raise ValueError(f"no RecordAdded event for {patient} in transaction {tx_hash}")
