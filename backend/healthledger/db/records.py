"""Metadata of encrypted records: where the ciphertext is, what its hashes are, how far it got.

A record document is created `pending` once its ciphertext is pinned, and turns `confirmed` only
after the `addRecordBySig` transaction is mined. Pending documents never look valid to readers:
listing and viewing show their state, and the reconciler finishes or removes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import RECORDS

RecordState = Literal["pending", "confirmed"]


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
    wrapped_key: str
    record_contract: str
    state: RecordState = "pending"
    record_id: int | None = None
    tx_hash: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    confirmed_at: datetime | None = None

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "RecordDoc":
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in doc.items() if key in known})

    def public(self) -> dict[str, Any]:
        """What the API shows: everything but the wrapped key."""
        data = asdict(self)
        data.pop("wrapped_key")
        for key in ("created_at", "confirmed_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


class RecordStore:
    """Repository over the `records` collection."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._records = db[RECORDS]

    async def insert_pending(self, record: RecordDoc) -> None:
        await self._records.insert_one(asdict(record))

    async def set_tx_hash(self, cid: str, tx_hash: str) -> None:
        await self._records.update_one({"cid": cid}, {"$set": {"tx_hash": tx_hash}})

    async def confirm(self, cid: str, record_id: int, tx_hash: str) -> RecordDoc | None:
        doc = await self._records.find_one_and_update(
            {"cid": cid},
            {
                "$set": {
                    "state": "confirmed",
                    "record_id": record_id,
                    "tx_hash": tx_hash,
                    "confirmed_at": datetime.now(UTC),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return RecordDoc.from_mongo(doc) if doc else None

    async def delete(self, cid: str) -> None:
        await self._records.delete_one({"cid": cid})

    async def get_by_cid(self, cid: str) -> RecordDoc | None:
        doc = await self._records.find_one({"cid": cid})
        return RecordDoc.from_mongo(doc) if doc else None

    async def list_for_patient(self, patient: str) -> list[RecordDoc]:
        cursor = self._records.find({"patient": patient.lower()}).sort("created_at", DESCENDING)
        return [RecordDoc.from_mongo(doc) async for doc in cursor]

    async def list_pending(self, older_than: datetime | None = None) -> list[RecordDoc]:
        query: dict[str, Any] = {"state": "pending"}
        if older_than is not None:
            query["created_at"] = {"$lt": older_than}
        return [RecordDoc.from_mongo(doc) async for doc in self._records.find(query)]
