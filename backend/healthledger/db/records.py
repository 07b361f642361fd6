"""Metadata of encrypted records: where the ciphertext is, what its hashes are, how far it got.

A record's life, and what each state promises:
- `pending`: the ciphertext is pinned and the document stored; its `addRecordBySig` transaction is
  being sent or waits to be mined. Every transaction hash is saved *before* it is broadcast
  (`tx_hashes`), so whatever happens next, the reconciler can find out whether it landed.
- `anchored`: the transaction is mined (`record_id`, `block_number`, `block_hash` known) but fewer
  than CONFIRMATIONS blocks sit on top of it.
- `confirmed`: CONFIRMATIONS blocks deep. Recently mined records are still re-checked against the
  chain, so a reorganisation (or a dev chain that lost its state) is noticed.
- `unanchored`: the chain lost the record and its signature can no longer be used; `unanchored_reason`
  says why. The ciphertext and wrapped key are kept: nothing the patient uploaded is thrown away.

Pending documents never look valid to readers: listing and viewing show their state. A pending
upload that never reached the chain is removed by the reconciler after the grace period.

The pending document and each transaction hash are written journaled (`j: true`): they are what
the reconciler needs after a crash, and an acknowledged but unjournaled write can be lost when the
database itself crashes (mongod's default `w: 1, j: false` keeps up to ~100 ms of writes in memory),
which would leave a record on chain that no document names. Later changes (mined, confirmed,
unanchored) can always be worked out again from the chain, so they keep the default write concern.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import bson
import pymongo
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, DESCENDING, ReturnDocument, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import RECORDS
from .public import public_fields

RecordState = Literal["pending", "anchored", "confirmed", "unanchored"]
# States in which the record is on chain with a record id.
ON_CHAIN_STATES: tuple[RecordState, ...] = ("anchored", "confirmed")


@dataclass(frozen=True)
class RelayAuthorization:
    """The signed AddRecord (the patient's) or AddRecordAsDoctor (the author's), kept so a record
    lost in a reorg can be sent again with it.

    It is public once relayed (it is the transaction's calldata); the key-derivation signature,
    which does unlock data, is never stored.
    """

    kind: int
    nonce: int  # the signer's nonce in the patient's vault
    deadline: int
    signature: str  # 0x-hex, 65 bytes
    # Who signed: None for the patient (every record before doctor uploads), else the doctor
    # (lower-case) whose AddRecordAsDoctor this is, so a re-send checks and uses the doctor's nonce.
    signer: str | None = None

    @classmethod
    def from_mongo(cls, doc: dict[str, Any] | None) -> "RelayAuthorization | None":
        if not isinstance(doc, dict):
            return None
        signer = doc.get("signer")
        return cls(
            int(doc["kind"]), int(doc["nonce"]), int(doc["deadline"]), str(doc["signature"]),
            str(signer).lower() if signer else None,
        )


@dataclass(slots=True)
class ReportEntry:
    """The fields of a record the integrity report checks (db.records.report_entries)."""

    patient: str
    cid: str
    record_type: str
    content_hash: str
    vault_address: str
    state: RecordState
    record_id: int | None
    unanchored_reason: str | None
    reanchored: int

    @property
    def on_chain(self) -> bool:
        """Whether the record is mined with a known record id (anchored or confirmed)."""
        return self.state in ON_CHAIN_STATES and self.record_id is not None

    @classmethod
    def from_mongo(cls, doc: Mapping[str, Any]) -> "ReportEntry":
        record_id = doc.get("record_id")
        return cls(
            patient=doc.get("patient") or "",
            cid=doc.get("cid") or "",
            record_type=doc.get("record_type") or "",
            content_hash=doc.get("content_hash") or "",
            vault_address=doc.get("vault_address") or doc.get("record_contract") or "",
            state=doc.get("state") or "pending",
            record_id=int(record_id) if record_id is not None else None,
            unanchored_reason=doc.get("unanchored_reason"),
            reanchored=int(doc.get("reanchored") or 0),
        )


_REPORT_PROJECTION = {
    "_id": 0, "record_contract": 1, "created_at": 1, **{name: 1 for name in ReportEntry.__dataclass_fields__}
}
# Documents per cursor batch for the report: ten round trips for 10,000 records, not 100, and
# each batch small enough that the server answers other clients (a status ping) between batches.
REPORT_CURSOR_BATCH = 1000
# The report's bulk read: long enough for tens of thousands of documents on a busy server.
REPORT_READ_TIMEOUT_SECONDS = 60.0
_NO_TIME = datetime.min.replace(tzinfo=UTC)  # documents without created_at sort first, as in MongoDB


def _entries_in_order(batches: list[bytes], codec_options: CodecOptions) -> list[ReportEntry]:
    """Decode raw report batches into entries ordered by patient, then age (runs in a thread)."""
    docs = [doc for batch in batches for doc in bson.decode_all(batch, codec_options)]
    keyed = [((doc.get("patient") or "", doc.get("created_at") or _NO_TIME), ReportEntry.from_mongo(doc)) for doc in docs]
    keyed.sort(key=lambda pair: pair[0])
    return [entry for _, entry in keyed]


# Field names documents written before the rename carry: {old name: current name}.
_RENAMED_FIELDS = {"record_contract": "vault_address"}


@dataclass
class RecordDoc:
    """One record's metadata. Addresses are stored lower-case so lookups need no normalising."""

    patient: str
    record_type: str
    name: str
    content_type: str
    cid: str
    content_hash: str
    ciphertext_hash: str
    size: int
    ciphertext_size: int
    # v1 records only: the data key wrapped under the patient's KEK (crypto/kek.py). "" for records
    # written since keys v2, whose data key exists only as `sealed_keys` copies.
    wrapped_key: str
    # The patient's vault (their HealthRecord clone) the record was anchored in.
    vault_address: str
    state: RecordState = "pending"
    record_id: int | None = None
    tx_hash: str | None = None
    tx_hashes: list[str] = field(default_factory=list)
    block_number: int | None = None
    block_hash: str | None = None
    relay: RelayAuthorization | None = None
    unanchored_reason: str | None = None
    # Times the record was sent again after the chain lost it (a reorganisation, a reset dev chain).
    reanchored: int = 0
    # The record's salt sealed under its data key (crypto/salt.py): `content_hash` is then
    # SHA-256(salt ‖ file). None for records from before salts (plain SHA-256). Never stored in clear.
    sealed_salt: str | None = None
    # Keys v2: reader (lower-case address) -> the data key sealed to their public key
    # (crypto/sealed_keys.py). The record's permanent readers: the patient, and the author when a
    # doctor wrote it. Doctors' grant copies live in `grant_keys` (they end with the grant).
    sealed_keys: dict[str, str] = field(default_factory=dict)
    # The doctor who wrote the record under a write grant (lower-case); None when the patient did.
    author: str | None = None
    # The client's duplicate tag, 0x + 64 hex: HMAC-SHA256(key derived from the patient's key
    # signature, file), so the web app can warn "you added this on …" although every upload's salted
    # hash differs. Opaque here (the server never sees the key); only the patient's list shows it.
    duplicate_tag: str | None = None
    # Amendments (services/amendments.py): the CID of the version this record replaces (set at upload,
    # checked then; a unique index lets one version have one successor), and on the replaced version
    # the CID of its successor, set only once that successor is mined (services/anchoring.py).
    replaces: str | None = None
    replaced_by: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    anchored_at: datetime | None = None
    confirmed_at: datetime | None = None

    @property
    def on_chain(self) -> bool:
        """Whether the record is mined with a known record id (anchored or confirmed)."""
        return self.state in ON_CHAIN_STATES and self.record_id is not None

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "RecordDoc":
        known = {name for name in cls.__dataclass_fields__}
        values = {key: value for key, value in doc.items() if key in known}
        for old, new in _RENAMED_FIELDS.items():  # a database written before the rename keeps working
            if new not in values and old in doc:
                values[new] = doc[old]
        values["relay"] = RelayAuthorization.from_mongo(doc.get("relay"))
        values["tx_hashes"] = list(doc.get("tx_hashes") or ([doc["tx_hash"]] if doc.get("tx_hash") else []))
        return cls(**values)

    def to_mongo(self) -> dict[str, Any]:
        doc = asdict(self)
        if self.tx_hash and self.tx_hash not in doc["tx_hashes"]:
            doc["tx_hashes"].append(self.tx_hash)
        return doc

    def public(self) -> dict[str, Any]:
        """What the API shows: everything but the data key's copies, the sealed salt, the relay
        authorization and the duplicate tag (the patient's own list adds that: services/record_listing.py)."""
        shown = public_fields(
            self,
            dates=("created_at", "anchored_at", "confirmed_at"),
            hidden=("wrapped_key", "sealed_salt", "sealed_keys", "relay", "tx_hashes", "duplicate_tag"),
        )
        shown["superseded"] = self.replaced_by is not None
        return shown


class RecordStore:
    """Repository over the `records` collection."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._records = db[RECORDS]
        # For the writes a crash must not undo once acknowledged (see the module docstring).
        self._journaled = self._records.with_options(write_concern=WriteConcern(j=True))

    async def insert_pending(self, record: RecordDoc) -> None:
        await self._journaled.insert_one(record.to_mongo())

    async def add_tx_hash(self, cid: str, tx_hash: str) -> None:
        """Remember a transaction hash of this record before it is broadcast (the newest is `tx_hash`)."""
        await self._journaled.update_one(
            {"cid": cid}, {"$set": {"tx_hash": tx_hash}, "$addToSet": {"tx_hashes": tx_hash}}
        )

    set_tx_hash = add_tx_hash

    async def mark_mined(
        self, cid: str, *, record_id: int, tx_hash: str, block_number: int, block_hash: str, confirmed: bool
    ) -> RecordDoc | None:
        """The record is on chain as `record_id` in that block: `anchored`, or `confirmed` if deep enough.

        Raises DuplicateKeyError when another document of the patient holds the same record id
        (only possible after the chain lost that one): the caller settles the conflict.
        """
        now = datetime.now(UTC)
        changes: dict[str, Any] = {
            "state": "confirmed" if confirmed else "anchored",
            "record_id": record_id,
            "tx_hash": tx_hash,
            "block_number": block_number,
            "block_hash": block_hash,
            "unanchored_reason": None,
            "anchored_at": now,
        }
        if confirmed:
            changes["confirmed_at"] = now
        doc = await self._records.find_one_and_update(
            {"cid": cid},
            {"$set": changes, "$addToSet": {"tx_hashes": tx_hash}},
            return_document=ReturnDocument.AFTER,
        )
        return RecordDoc.from_mongo(doc) if doc else None

    async def promote(self, cid: str, block_hash: str) -> bool:
        """`anchored` -> `confirmed`, only if it is still in the block it was seen in."""
        result = await self._records.update_one(
            {"cid": cid, "state": "anchored", "block_hash": block_hash},
            {"$set": {"state": "confirmed", "confirmed_at": datetime.now(UTC)}},
        )
        return result.modified_count == 1

    async def back_to_pending(self, cid: str, *, resent: bool = False) -> None:
        """The chain no longer holds the record (a reorg) but it is on its way again: no record id."""
        update: dict[str, Any] = {
            "$set": {"state": "pending"},
            "$unset": {"record_id": "", "block_number": "", "block_hash": ""},
        }
        if resent:
            update["$inc"] = {"reanchored": 1}
        await self._records.update_one({"cid": cid}, update)

    async def mark_unanchored(self, cid: str, reason: str) -> None:
        """The chain lost the record for good; keep the document (and the file) with the reason."""
        await self._records.update_one(
            {"cid": cid},
            {
                "$set": {"state": "unanchored", "unanchored_reason": reason},
                "$unset": {"record_id": "", "block_number": "", "block_hash": ""},
            },
        )

    async def successor_of(self, cid: str) -> RecordDoc | None:
        """The record that replaces (or, still pending, is to replace) `cid`, if any (unique index: replaces)."""
        doc = await self._records.find_one({"replaces": cid})
        return RecordDoc.from_mongo(doc) if doc else None

    async def mark_replaced(self, cid: str, successor: str) -> None:
        """`cid` is superseded by `successor` (mined): set once, never moved to another successor."""
        await self._records.update_one({"cid": cid, "replaced_by": None}, {"$set": {"replaced_by": successor}})

    async def delete(self, cid: str) -> None:
        await self._records.delete_one({"cid": cid})

    async def get_by_cid(self, cid: str) -> RecordDoc | None:
        doc = await self._records.find_one({"cid": cid})
        return RecordDoc.from_mongo(doc) if doc else None

    async def holder_of(self, patient: str, record_id: int) -> RecordDoc | None:
        """The document that claims `patient`'s on-chain record `record_id`, if any."""
        doc = await self._records.find_one({"patient": patient.lower(), "record_id": record_id})
        return RecordDoc.from_mongo(doc) if doc else None

    async def find_attempt(
        self, patient: str, content_hash: str, nonce: int, author: str | None = None
    ) -> RecordDoc | None:
        """An earlier upload of this file into this patient's vault under the same signed nonce (a
        retry), by the same uploader: the patient (`author` None) or that doctor. The patient's and
        each doctor's nonces count separately, so the uploader is part of the match.

        The query names exactly the index's fields (patient, content_hash): a salted hash is new on
        every upload, so it finds this upload's earlier tries only, and the nonce and uploader are
        matched here. With them in the query, a planner that only uses an index whose fields are the
        query's (SecantusDB) scans the whole collection on every upload."""
        uploader = author.lower() if author else None
        cursor = self._records.find({"patient": patient.lower(), "content_hash": content_hash.lower()})
        async for doc in cursor:
            # A missing author is the patient's: documents from before doctor uploads.
            if (doc.get("relay") or {}).get("nonce") == nonce and doc.get("author") == uploader:
                return RecordDoc.from_mongo(doc)
        return None

    async def on_chain_from(self, patient: str, first_id: int) -> list[RecordDoc]:
        """The patient's records held as on chain with an id of at least `first_id` (none, unless the
        chain lost some: this runs before every upload and signing payload).

        The query is the index's (patient, record_id range); the state is checked here, since a
        second operator in the query keeps a planner that pins one trailing range (SecantusDB) off
        the index, scanning the whole collection instead."""
        query = {"patient": patient.lower(), "record_id": {"$gte": max(first_id, 0)}}
        docs = [doc async for doc in self._records.find(query)]
        return [RecordDoc.from_mongo(doc) for doc in docs if doc.get("state") in ON_CHAIN_STATES]

    async def list_for_patient(self, patient: str) -> list[RecordDoc]:
        cursor = self._records.find({"patient": patient.lower()}).sort("created_at", DESCENDING)
        return [RecordDoc.from_mongo(doc) async for doc in cursor]

    async def list_by_author(self, doctor: str) -> list[RecordDoc]:
        """The records `doctor` added to patients' vaults, newest first (index: author, created_at)."""
        cursor = self._records.find({"author": doctor.lower()}).sort("created_at", DESCENDING)
        return [RecordDoc.from_mongo(doc) async for doc in cursor]

    async def list_pending(self, older_than: datetime | None = None) -> list[RecordDoc]:
        query: dict[str, Any] = {"state": "pending"}
        if older_than is not None:
            query["created_at"] = {"$lt": older_than}
        return [RecordDoc.from_mongo(doc) async for doc in self._records.find(query)]

    async def list_to_recheck(self, since_block: int) -> list[RecordDoc]:
        """Records the chain may still take back: anchored ones, confirmed ones mined after `since_block`
        (or without block details, from before they were kept), and unanchored ones (the chain may
        hold them again)."""
        query = {
            "$or": [
                {"state": "anchored"},
                {"state": "unanchored"},
                {"state": "confirmed", "block_number": {"$gt": since_block}},
                {"state": "confirmed", "block_number": None},
            ]
        }
        return [RecordDoc.from_mongo(doc) async for doc in self._records.find(query)]

    # -- reads for the audit trail, the directory and the integrity report -------------------------

    async def for_report(self, patient: str | None = None) -> list[RecordDoc]:
        """Every record (or one patient's), by patient then age, without their wrapped keys.

        The report needs no key: none leaves MongoDB for it.
        """
        query: dict[str, Any] = {} if patient is None else {"patient": patient.lower()}
        cursor = self._records.find(query, {"_id": 0, "wrapped_key": 0, "sealed_keys": 0}).sort(
            [("patient", ASCENDING), ("created_at", ASCENDING)]
        )
        return [RecordDoc.from_mongo({**doc, "wrapped_key": ""}) async for doc in cursor]

    async def report_entries(self, patient: str | None = None) -> list[ReportEntry]:
        """What the integrity report checks of every record (or one patient's), by patient then age.

        Only the fields the report reads leave MongoDB (no keys, no relay signature), in cursor
        batches of REPORT_CURSOR_BATCH, in natural order: the order by patient and age is made here
        (a sort of a few thousand tuples, cheaper than the server's). Why its own time budget: the
        client's per-operation timeout covers a cursor's whole life, and 10,000 records did not
        always arrive within it under load; a first point read under the ordinary timeout still
        answers an outage as quickly as any other request.

        Why raw batches decoded in a worker thread: PyMongo decodes each batch's BSON on the event
        loop, and 10,000 documents decoded, turned into entries and sorted there held it for tens of
        milliseconds at a time (seen in a sampling profile during the 10,000-record benchmark).
        `find_raw_batches` leaves each batch as the server's bytes; `_entries_in_order` decodes them
        off the loop with `bson.decode_all` (C), 44 ms for 10,000 documents against 77 ms through
        `RawBSONDocument`, which decodes each document on first access in Python. Batches of 1,000
        cost no more than 5,000 here (0.70 vs 0.69 s for 10,000 on SecantusDB) and let the server
        answer other clients between them.
        """
        query: dict[str, Any] = {} if patient is None else {"patient": patient.lower()}
        await self._records.find_one(query, {"_id": 1})
        with pymongo.timeout(REPORT_READ_TIMEOUT_SECONDS):
            cursor = self._records.find_raw_batches(query, _REPORT_PROJECTION, batch_size=REPORT_CURSOR_BATCH)
            batches = [batch async for batch in cursor]
        return await asyncio.to_thread(_entries_in_order, batches, self._records.codec_options)

    async def cids_by_record_id(self, patients: list[str]) -> dict[str, dict[int, str]]:
        """patient (lower) -> {record id -> CID} for the records that have an id."""
        out: dict[str, dict[int, str]] = {}
        # `>= 0`, not `$type: number`: the same documents, and within the record-id index's filter (db/mongo.py).
        query = {"patient": {"$in": [p.lower() for p in patients]}, "record_id": {"$gte": 0}}
        async for doc in self._records.find(query, {"_id": 0, "patient": 1, "record_id": 1, "cid": 1}):
            out.setdefault(doc["patient"], {})[int(doc["record_id"])] = doc["cid"]
        return out

    async def patients(self) -> set[str]:
        """Every patient with at least one record (lower-case addresses)."""
        return {p for p in await self._records.distinct("patient") if isinstance(p, str)}

    async def has_records(self, patient: str) -> bool:
        """Whether `patient` has any record document, in any state."""
        return await self._records.find_one({"patient": patient.lower()}, {"_id": 1}) is not None
