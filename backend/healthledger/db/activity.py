"""Cheap, projected reads of what changed for one account: the raw material of notifications.

Every query here is a small projection or aggregation over an indexed field of a collection other
stores own (records, access requests, grant copies): no document bodies, sealed keys or reasons
leave the database, and nothing here writes. It exists so polling every few seconds stays cheap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from .mongo import ACCESS_REQUESTS, GRANT_KEYS, RECORDS

# A doctor's requests as the notification token sees them: the newest this many (as their list shows).
MAX_REQUESTS = 500


class ActivityQueries:
    def __init__(self, db: AsyncDatabase) -> None:
        self._records = db[RECORDS]
        self._requests = db[ACCESS_REQUESTS]
        self._keys = db[GRANT_KEYS]

    async def pending_request_ids(self, patient: str) -> list[str]:
        """Ids of the requests waiting for this patient's answer."""
        cursor = self._requests.find({"patient": patient, "state": "pending"}, {"_id": 1})
        return sorted([str(doc["_id"]) async for doc in cursor])

    async def doctor_request_states(self, doctor: str) -> list[tuple[str, str, datetime | None]]:
        """(id, state, responded_at) of the doctor's newest requests."""
        cursor = (
            self._requests.find({"doctor": doctor}, {"_id": 1, "state": 1, "responded_at": 1})
            .sort("created_at", -1)
            .limit(MAX_REQUESTS)
        )
        return [(str(doc["_id"]), str(doc.get("state")), doc.get("responded_at")) async for doc in cursor]

    async def record_states(self, patient: str) -> list[dict[str, Any]]:
        """Per state of the patient's records: how many, and the newest's creation time."""
        pipeline = [
            {"$match": {"patient": patient}},
            {"$group": {"_id": "$state", "count": {"$sum": 1}, "newest": {"$max": "$created_at"}}},
        ]
        cursor = await self._records.aggregate(pipeline)
        rows = [doc async for doc in cursor]
        return sorted(rows, key=lambda row: str(row["_id"]))

    async def authored_since(self, patient: str, since: datetime | None) -> int:
        """How many records doctors added to this patient's vault after `since` (all when None),
        counting only those that reached (or are on their way to) the chain."""
        query: dict[str, Any] = {"patient": patient, "author": {"$type": "string"}, "state": {"$ne": "unanchored"}}
        if since is not None:
            query["created_at"] = {"$gt": since}
        return await self._records.count_documents(query)

    async def grant_copies(self, field: str, account: str) -> list[tuple[str, str, int, int]]:
        """(patient, doctor, record id, expires_at) of the grant copies whose `field` ("patient" or
        "doctor") is `account`: what is shared now, as the database knows it."""
        cursor = self._keys.find(
            {field: account, "sealed_key": {"$exists": True}},
            {"_id": 0, "patient": 1, "doctor": 1, "record_id": 1, "expires_at": 1},
        )
        rows = [
            (str(doc["patient"]), str(doc["doctor"]), int(doc["record_id"]), int(doc["expires_at"]))
            async for doc in cursor
        ]
        return sorted(rows)
