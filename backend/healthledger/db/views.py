"""The log of every file view: who read which record, when, and whether it verified.

A view is logged before its first byte is returned, so the audit trail never misses a read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import RECORD_VIEWS


@dataclass
class ViewEntry:
    patient: str
    reader: str
    reader_role: str
    cid: str
    record_id: int | None
    verified: bool
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "ViewEntry":
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in doc.items() if key in known})


class ViewLog:
    """Repository over `record_views`."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._views = db[RECORD_VIEWS]

    async def log(self, entry: ViewEntry) -> None:
        doc = asdict(entry)
        doc["patient"] = entry.patient.lower()
        doc["reader"] = entry.reader.lower()
        await self._views.insert_one(doc)

    async def newest(self, patient: str | None, limit: int) -> list[tuple[str, ViewEntry]]:
        """(id, entry) of the newest `limit` views (of one patient, or of everyone), newest first."""
        query = {} if patient is None else {"patient": patient.lower()}
        cursor = self._views.find(query).sort("at", DESCENDING).limit(limit)
        return [(str(doc["_id"]), ViewEntry.from_mongo(doc)) async for doc in cursor]

    async def count(self) -> int:
        return await self._views.count_documents({})

    async def others_by_cid(self, patient: str) -> list[dict[str, Any]]:
        """Per file of `patient`, the views by anyone but the patient: {cid, views, last_at}.

        One aggregation (not the whole log into Python), for "viewed 2x, last Nov 29" on the
        patient's records list.
        """
        owner = patient.lower()
        pipeline = [
            {"$match": {"patient": owner, "reader": {"$ne": owner}}},
            {"$group": {"_id": "$cid", "views": {"$sum": 1}, "last_at": {"$max": "$at"}}},
        ]
        cursor = await self._views.aggregate(pipeline)
        return [{"cid": doc["_id"], "views": int(doc["views"]), "last_at": doc["last_at"]} async for doc in cursor]
