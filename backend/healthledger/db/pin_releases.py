"""CIDs whose pin still has to be removed: removed uploads whose unpin the IPFS node has not done.

Why a collection: an upload that never reached the chain is removed (its document deleted, its
ciphertext unpinned). When the node does not answer the unpin (it is down, or its answer was lost),
or has just failed another call so that it is not asked (services/pin_release.py), deleting the
document would leave a pin that nothing names any more, kept for ever. The CID is written here
first; the reconcile pass unpins it once the node answers and only then forgets it. One document
per CID: `{_id: cid, since}`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import PINS_TO_RELEASE


class PinReleaseStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[PINS_TO_RELEASE]

    async def add(self, cid: str) -> None:
        """Remember that `cid`'s pin must go (idempotent: the first `since` is kept)."""
        await self._c.update_one({"_id": cid}, {"$setOnInsert": {"since": datetime.now(UTC)}}, upsert=True)

    async def oldest(self, limit: int) -> list[str]:
        """Up to `limit` CIDs still to unpin, the longest-waiting first."""
        cursor = self._c.find({}, {"_id": 1}).sort("since", ASCENDING).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def done(self, cid: str) -> None:
        """The node confirmed `cid` is not pinned (any more): nothing left to do for it."""
        await self._c.delete_one({"_id": cid})
