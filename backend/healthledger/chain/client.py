"""Read-only access to the HealthLedger contracts over JSON-RPC (web3.py 7, async).

Why async: the API is FastAPI on one event loop; a blocking RPC call would stall every request.
Why so few round trips: a patient's clone address is CREATE2-deterministic, so it is computed
locally (after one `implementation()` read) instead of asked for, and bulk reads (all records of a
patient, the blocks of a page of events) go out as one JSON-RPC batch per chunk rather than one
HTTP request each, so an integrity check over 1,000 records costs a handful of requests.

Writes live in `relayer.py`; this client never holds a key.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractCustomError,
    TransactionNotFound,
)
from web3.types import TxReceipt

from ..record_kinds import KIND_NAMES
from .addresses import checksum as _checksum
from .addresses import predict_vault_address, vault_patient_from_code
from .artifacts import health_record, health_record_factory
from .events import AUDIT_EVENTS, AuditEvent, ChainEvents, audit_topics, hex0x
from .rpc import (
    CHAIN_TRANSPORT_ERRORS,
    DEFAULT_BATCH_SIZE,
    RETRY_ON_CONNECTION_ERRORS,
    ChainError,
    ChainUnavailable,
    batch_request,
    make_web3,
    raw_request,
    translate_outages,
)

log = logging.getLogger(__name__)

# Batches of read-only calls in flight at once for one bulk read (all records of a vault): enough
# to overlap the node's work with ours, few enough not to swamp a hosted provider's rate limit.
READ_BATCH_CONCURRENCY = 4
# Answers decoded between two yields to the event loop in a bulk read: 10,000 decoded at once held
# the loop (and every other request) for tens of milliseconds; 500 take a few.
DECODE_SLICE = 500

__all__ = [
    "AUDIT_EVENTS",
    "CHAIN_TRANSPORT_ERRORS",
    "DEFAULT_BATCH_SIZE",
    "REGISTRAR_ROLE",
    "RETRY_ON_CONNECTION_ERRORS",
    "ApprovedRecords",
    "AuditEvent",
    "ChainClient",
    "ChainError",
    "ChainUnavailable",
    "Grant",
    "OnChainRecord",
    "predict_vault_address",
]

REGISTRAR_ROLE: bytes = keccak(text="REGISTRAR_ROLE")

VAULT_CONTRACT_CACHE_SIZE = 1024
_NONCES_SELECTOR = function_signature_to_4byte_selector("nonces(address)")
_RECORD_COUNT_SELECTOR = function_signature_to_4byte_selector("recordCount()")
_GET_RECORD_SELECTOR = function_signature_to_4byte_selector("getRecord(uint256)")
_GET_RECORD_TYPES = ("uint8", "bytes32", "uint64", "address")
_UNKNOWN_RECORD_SELECTOR = function_signature_to_4byte_selector("UnknownRecord(uint256)")
_hex = hex0x


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
    """A doctor's relation with one patient (HealthRecord.getGrant).

    Raw storage: `expires_at` does not say whether the doctor is still registered (v2 grants are
    registry-bound); `can_read` / `get_approved_records` do.
    """

    expires_at: int  # 0 when never granted or revoked; may lie in the past
    pending_extension: int  # seconds asked for, 0 = none
    request_pending: bool
    generation: int = 0  # grows with every new grant; an ApproveExtension signature names it
    registration: int = 0  # the doctor's registry registration the request / grant was made under

    def is_active(self, now: int) -> bool:
        """Whether the grant is live at block time `now` (the contract's `expiresAt > block.timestamp`)."""
        return self.expires_at > now


@dataclass(frozen=True)
class ApprovedRecords:
    """What a doctor can read right now (HealthRecord.getApprovedRecords); empty when no live grant."""

    record_ids: tuple[int, ...]
    content_hashes: tuple[str, ...]
    expires_at: int


# ----------------------------------------------------------------------------- helpers


# `getRecord`'s answer: four static words (uint8 kind, bytes32 hash, uint64 timestamp, address author).
_GET_RECORD_HEX_LENGTH = 2 + 4 * 64
_ZERO_PADDING = {"kind": (2, 2 + 62), "timestamp": (130, 130 + 48), "author": (194, 194 + 24)}


@functools.lru_cache(maxsize=1024)
def _checksummed(address: str) -> str:
    """EIP-55 form of a lower-case address; cached because a vault has few authors (each takes ~40 µs)."""
    return to_checksum_address(address)


def _decode_get_record(record_id: int, answer: Any) -> OnChainRecord:
    """One `getRecord` answer, decoded by slicing its four static ABI words.

    Why not `eth_abi.decode`: it costs about 35 µs an answer and the checksum another 40 µs, which is
    most of a 10,000-record integrity report. The fast path checks the length and that every padding
    nibble is zero (what eth_abi's strict decoding checks); anything else goes to eth_abi.
    """
    if isinstance(answer, str) and len(answer) == _GET_RECORD_HEX_LENGTH and answer.startswith("0x"):
        text = answer.lower()
        if all(text[a:b] == "0" * (b - a) for a, b in _ZERO_PADDING.values()):
            try:
                return OnChainRecord(
                    record_id=record_id,
                    kind=int(text[64:66], 16),
                    content_hash="0x" + text[66:130],
                    timestamp=int(text[178:194], 16),
                    author=_checksummed("0x" + text[218:258]),
                )
            except ValueError:  # not hex: let eth_abi say what is wrong
                pass
    kind, content_hash, timestamp, author = abi_decode(_GET_RECORD_TYPES, HexBytes(answer))
    return OnChainRecord(
        record_id=record_id,
        kind=int(kind),
        content_hash=_hex(content_hash),
        timestamp=int(timestamp),
        author=to_checksum_address(author),
    )


def _get_record_data(record_id: int) -> str:
    return "0x" + (_GET_RECORD_SELECTOR + record_id.to_bytes(32, "big")).hex()


def _revert_selector(exc: Exception) -> bytes | None:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return bytes.fromhex(data[2:10])
    return None


# ----------------------------------------------------------------------------- client


class ChainClient(ChainEvents):
    """Reads the factory, the doctor registry and patients' clones (events: chain/events.py).

    `factory_address` is the deployed HealthRecordFactory (from the deployment file / settings).
    One instance is shared by the whole service; it caches only what never changes (chain id,
    implementation address, hence every clone address).

    web3 is private: everything above the chain package reads the chain through these methods,
    which raise `ChainUnavailable` when the node does not answer (never aiohttp's or web3's
    transport errors). The relayer, which signs and sends, reaches web3 through
    `web3_for_relayer`.
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
        self._w3: AsyncWeb3 = w3 or make_web3(rpc_url, timeout_seconds)
        self.factory_address = _checksum(factory_address, "factory_address")
        self.factory: AsyncContract = self._w3.eth.contract(
            address=self.factory_address, abi=health_record_factory().abi
        )
        self.batch_size = batch_size
        self._vault_abi = health_record().abi
        # A contract object with no address, used to decode HealthRecord logs from any clone.
        self._vault_codec: AsyncContract = self._w3.eth.contract(abi=self._vault_abi)
        self._event_names_by_topic: dict[bytes, str] = audit_topics(self._vault_abi)
        self._record_added_topic = next(t for t, n in self._event_names_by_topic.items() if n == "RecordAdded")
        self._chain_id: int | None = None
        self._implementation: str | None = None
        # Contract objects per clone address: web3 builds one in ~5 ms of CPU (every ABI function's
        # class), and an upload used to build four. Bounded: least recently used ones go first.
        self._vaults: OrderedDict[str, AsyncContract] = OrderedDict()

    def __repr__(self) -> str:
        return f"ChainClient({self.rpc_url!r}, factory={self.factory_address})"

    @property
    def web3_for_relayer(self) -> AsyncWeb3:
        """The raw web3 session, for `chain/relayer.py` only (it signs, sends and tells outages apart itself)."""
        return self._w3

    async def aclose(self) -> None:
        """Close the HTTP sessions (call once at shutdown; also per test, since sessions belong to a loop)."""
        await self._w3.provider.disconnect()

    # -- chain ----------------------------------------------------------------------------------

    @translate_outages
    async def chain_id(self) -> int:
        """The chain id (cached: a node does not change chains)."""
        if self._chain_id is None:
            self._chain_id = int(await self._w3.eth.chain_id)
        return self._chain_id

    @translate_outages
    async def block_number(self) -> int:
        return int(await self._w3.eth.block_number)

    @translate_outages
    async def latest_timestamp(self) -> int:
        """`block.timestamp` of the latest block: the clock grants are measured against."""
        block = await self._w3.eth.get_block("latest")
        return int(block["timestamp"])

    @translate_outages
    async def balance_of(self, address: str) -> int:
        """Balance in wei (e.g. of the relayer, for the status page)."""
        return int(await self._w3.eth.get_balance(_checksum(address)))

    @translate_outages
    async def receipt_or_none(self, tx_hash: str | bytes) -> TxReceipt | None:
        """The receipt if the transaction was mined, None if it is unknown or still pending."""
        try:
            return await self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    @translate_outages
    async def transaction_pending(self, tx_hash: str | bytes) -> bool:
        """Whether the node holds the transaction unmined in its pool (False if unknown or mined)."""
        try:
            tx = await self._w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return tx.get("blockNumber") is None

    @translate_outages
    async def block_hashes(self, numbers: Iterable[int]) -> dict[int, str | None]:
        """number -> hash of the canonical block at that height now (None above the head), one batch."""
        headers = await self._block_headers(numbers)
        return {n: (str(h["hash"]).lower() if h and h.get("hash") else None) for n, h in headers.items()}

    @translate_outages
    async def block_timestamps(self, numbers: Iterable[int]) -> dict[int, int]:
        """number -> timestamp of the canonical block at that height; heights the node has no block
        for (above the head) are left out. One JSON-RPC batch per `batch_size` blocks: event lists
        (the audit trail's, the bills') are dated with it."""
        headers = await self._block_headers(numbers)
        return {n: int(h["timestamp"], 16) for n, h in headers.items() if h and h.get("timestamp")}

    async def _block_headers(self, numbers: Iterable[int]) -> dict[int, Mapping[str, Any] | None]:
        """number -> the block at that height without its transactions (None if the node has none)."""
        wanted = sorted({int(n) for n in numbers if n is not None and int(n) >= 0})
        if not wanted:
            return {}
        blocks = await self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in wanted], "blocks")
        return {n: (b if isinstance(b, Mapping) else None) for n, b in zip(wanted, blocks, strict=True)}

    async def _batch(
        self, calls: Sequence[tuple[str, list[Any]]], what: str, *, concurrency: int = 1
    ) -> list[Any]:
        """Send raw JSON-RPC requests in batches of `batch_size` (up to `concurrency` batches at
        once); results in request order."""
        return await batch_request(self._w3, calls, what, self.batch_size, concurrency=concurrency)

    # -- factory and registry -------------------------------------------------------------------

    @translate_outages
    async def implementation_address(self) -> str:
        """The HealthRecord implementation every clone delegates to (cached: immutable)."""
        if self._implementation is None:
            self._implementation = to_checksum_address(await self.factory.functions.implementation().call())
        return self._implementation

    @translate_outages
    async def vault_address(self, patient: str) -> str:
        """Address of `patient`'s vault, whether or not it exists yet (computed locally)."""
        return predict_vault_address(self.factory_address, await self.implementation_address(), patient)

    @translate_outages
    async def vault_exists(self, patient: str) -> bool:
        """Whether `patient`'s vault has been created (the factory's own definition: code is there)."""
        code = await self._w3.eth.get_code(await self.vault_address(patient))
        return len(code) > 0

    @translate_outages
    async def vault_contract(self, patient: str) -> AsyncContract:
        """A contract object for `patient`'s vault (calls fail if it does not exist yet)."""
        address = await self.vault_address(patient)
        contract = self._vaults.get(address)
        if contract is None:
            contract = self._vaults[address] = self._w3.eth.contract(address=address, abi=self._vault_abi)
            if len(self._vaults) > VAULT_CONTRACT_CACHE_SIZE:
                self._vaults.popitem(last=False)
        else:
            self._vaults.move_to_end(address)
        return contract

    @translate_outages
    async def is_doctor(self, address: str) -> bool:
        return bool(await self.factory.functions.isDoctor(_checksum(address)).call())

    @translate_outages
    async def registration_of(self, address: str) -> int:
        """The id of `address`'s current registry registration; 0 when it is not registered."""
        return int(await self.factory.functions.registrationOf(_checksum(address)).call())

    @translate_outages
    async def is_doctor_many(self, addresses: Sequence[str]) -> list[bool]:
        """`isDoctor` for many addresses, in order, in one JSON-RPC batch per batch_size (live)."""
        calls = [
            (
                "eth_call",
                [{"to": self.factory_address, "data": self.factory.encode_abi("isDoctor", args=[_checksum(a)])}, "latest"],
            )
            for a in addresses
        ]
        answers = await self._batch(calls, "isDoctor")
        if not all(answers):  # an empty answer: no registry at that address
            raise ChainError("isDoctor: empty answer from the factory")
        return [bool(abi_decode(("bool",), HexBytes(answer))[0]) for answer in answers]

    @translate_outages
    async def has_registrar_role(self, address: str) -> bool:
        return bool(await self.factory.functions.hasRole(REGISTRAR_ROLE, _checksum(address)).call())

    # -- one patient's clone --------------------------------------------------------------------

    async def _read_clone(self, patient: str, function: str, *args: Any, missing: Any) -> Any:
        """The view `function(*args)` of `patient`'s clone, or `missing` while the clone does not
        exist (a call to the predicted address, which has no code yet, comes back empty)."""
        contract = await self.vault_contract(patient)
        try:
            return await contract.functions[function](*args).call()
        except BadFunctionCallOutput:
            return missing

    async def _read_clone_uint(self, patient: str, selector: bytes, encoded_args: bytes, what: str) -> int:
        """A uint256 view of `patient`'s clone by one raw `eth_call`; 0 while the clone does not exist.

        Why not `_read_clone`: the upload path reads nonces and the record count several times per
        upload, and web3's contract call costs ~5 ms of CPU around a ~1 ms round trip. A fixed
        selector and one word to decode need none of its machinery.
        """
        to = await self.vault_address(patient)
        call = {"to": to, "data": "0x" + (selector + encoded_args).hex()}
        answer = HexBytes(await raw_request(self._w3, "eth_call", [call, "latest"], what) or "0x")
        if not answer:  # no code at the predicted address yet
            return 0
        return int(abi_decode(("uint256",), answer)[0])

    @translate_outages
    async def nonce_of(self, patient: str, signer: str) -> int:
        """`signer`'s next EIP-712 nonce in `patient`'s clone; 0 while the clone does not exist."""
        encoded = abi_encode(("address",), (_checksum(signer),))
        return await self._read_clone_uint(patient, _NONCES_SELECTOR, encoded, "nonces")

    @translate_outages
    async def record_count(self, patient: str) -> int:
        """Number of records (0 while the clone does not exist)."""
        return await self._read_clone_uint(patient, _RECORD_COUNT_SELECTOR, b"", "recordCount")

    @translate_outages
    async def get_record(self, patient: str, record_id: int) -> OnChainRecord | None:
        """One record, or None when the clone or the record does not exist (one eth_call)."""
        if record_id < 0:
            return None
        contract = await self.vault_contract(patient)
        try:
            kind, content_hash, timestamp, author = await contract.functions.getRecord(record_id).call()
        except BadFunctionCallOutput:  # no clone yet
            return None
        except ContractCustomError as exc:  # UnknownRecord(recordId)
            if _revert_selector(exc) == _UNKNOWN_RECORD_SELECTOR:
                return None
            raise
        return OnChainRecord(record_id, int(kind), _hex(content_hash), int(timestamp), to_checksum_address(author))

    @translate_outages
    async def get_records_batch(
        self, patient: str, record_ids: Iterable[int] | None = None
    ) -> list[OnChainRecord]:
        """Records of `patient` (all of them by default), in id order, read in JSON-RPC batches.

        Ids that do not exist are left out, so `len(result)` tells how many were found. One
        `recordCount` call, then `ceil(n / batch_size)` HTTP requests of `getRecord` eth_calls.
        Records are append-only and never change, so reading them at "latest" after the count is
        consistent.
        """
        address = await self.vault_address(patient)
        count = await self.record_count(patient)
        ids = range(count) if record_ids is None else sorted({i for i in record_ids if 0 <= i < count})
        calls = [
            ("eth_call", [{"to": address, "data": _get_record_data(i)}, "latest"])
            for i in ids
        ]
        answers = await self._batch(calls, "getRecord", concurrency=READ_BATCH_CONCURRENCY)
        if len(answers) != len(ids):
            raise ChainError(f"getRecord: {len(ids)} requests but {len(answers)} answers")
        records: list[OnChainRecord] = []
        for start in range(0, len(ids), DECODE_SLICE):
            if start:
                await asyncio.sleep(0)  # let other requests run between slices
            end = start + DECODE_SLICE
            records.extend(map(_decode_get_record, ids[start:end], answers[start:end]))
        return records

    @translate_outages
    async def can_read(self, patient: str, reader: str, record_id: int) -> bool:
        """Whether `reader` may read the record now (False while the clone does not exist)."""
        return bool(await self._read_clone(patient, "canRead", _checksum(reader), record_id, missing=False))

    @translate_outages
    async def get_approved_records(self, patient: str, doctor: str) -> ApprovedRecords:
        """Record ids and hashes `doctor` can read now, with the grant's expiry (empty if none)."""
        ids, hashes, expires_at = await self._read_clone(
            patient, "getApprovedRecords", _checksum(doctor), missing=((), (), 0)
        )
        return ApprovedRecords(tuple(int(i) for i in ids), tuple(_hex(h) for h in hashes), int(expires_at))

    @translate_outages
    async def get_grant(self, patient: str, doctor: str) -> Grant:
        """`doctor`'s grant state with `patient` (all zero/False while the clone does not exist)."""
        expires_at, pending, requested, generation, registration = await self._read_clone(
            patient, "getGrant", _checksum(doctor), missing=(0, 0, False, 0, 0)
        )
        return Grant(int(expires_at), int(pending), bool(requested), int(generation), int(registration))

    @translate_outages
    async def get_write_grant(self, patient: str, doctor: str) -> int:
        """When `doctor`'s live write grant on `patient`'s vault ends; 0 when there is none (never
        granted, expired, revoked, or the doctor was unregistered since; 0 while no clone exists)."""
        return int(await self._read_clone(patient, "getWriteGrant", _checksum(doctor), missing=0))

    @translate_outages
    async def write_grants_many(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        """`getWriteGrant` for many (patient, doctor) pairs, in order, in JSON-RPC batches (0 = none).

        Every vault named must exist (candidates come from its own WriteApproved events).
        """
        calls = []
        for patient, doctor in pairs:
            vault = await self.vault_address(patient)
            data = self._vault_codec.encode_abi("getWriteGrant", args=[_checksum(doctor)])
            calls.append(("eth_call", [{"to": vault, "data": data}, "latest"]))
        answers = await self._batch(calls, "getWriteGrant")
        return [int(abi_decode(("uint64",), HexBytes(a))[0]) if a not in (None, "0x") else 0 for a in answers]

    @translate_outages
    async def patients_of_vaults(self, contracts: Sequence[str]) -> dict[str, str]:
        """contract -> its patient, for those of `contracts` that are vaults of this factory.

        Reads each contract's code (one JSON-RPC batch): a vault is an EIP-1167 clone of the
        implementation carrying its patient's address, and this factory's clone of that patient
        lives at exactly that address. A foreign contract that emits look-alike events cannot pass
        itself off as a vault (and no call to it can fail or lie).
        """
        wanted = [_checksum(c) for c in dict.fromkeys(contracts)]
        if not wanted:
            return {}
        implementation = await self.implementation_address()
        codes = await self._batch([("eth_getCode", [c, "latest"]) for c in wanted], "code")
        found: dict[str, str] = {}
        for contract, code in zip(wanted, codes, strict=True):
            patient = vault_patient_from_code(bytes(HexBytes(code or "0x")), implementation)
            if patient is not None and await self.vault_address(patient) == contract:
                found[contract] = patient
        return found
