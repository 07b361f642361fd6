"""CIDs whose pin still has to be removed: removed uploads whose unpin the IPFS node has not done.

Why a collection: an upload that never reached the chain is removed (its document deleted, its
ciphertext unpinned). When the node does not answer the unpin (it is down, or its answer was lost),
or has just failed another call so that it is not asked (services/pin_release.py), deleting the
document would leave a pin that nothing names any more, kept for ever. The CID is written here
first; the reconcile pass unpins it once the node answers and only then forgets it.

One document per CID: `{_id: cid, since, not_pinned_since?}`. `not_pinned_since` is when the node
first said the CID was not pinned: a pin request the node held while it hung may still be done when
it resumes, so such a CID is asked about again before it is forgotten (services/pin_release.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import PINS_TO_RELEASE


@dataclass(frozen=True, slots=True)
class PinToRelease:
    cid: str
    # When the node first answered "not pinned" for it; None until then.
    not_pinned_since: datetime | None = None


class PinReleaseStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[PINS_TO_RELEASE]

    async def add(self, cid: str) -> None:
        """Remember that `cid`'s pin must go (idempotent: the first `since` is kept)."""
        await self._c.update_one({"_id": cid}, {"$setOnInsert": {"since": datetime.now(UTC)}}, upsert=True)

    async def oldest(self, limit: int) -> list[PinToRelease]:
        """Up to `limit` CIDs still to unpin, the longest-waiting first."""
        cursor = self._c.find({}, {"_id": 1, "not_pinned_since": 1}).sort("since", ASCENDING).limit(limit)
        return [PinToRelease(doc["_id"], doc.get("not_pinned_since")) async for doc in cursor]

    async def not_pinned(self, cid: str, at: datetime) -> None:
        """The node said `cid` is not pinned, at `at` (only the first such answer is kept)."""
        await self._c.update_one({"_id": cid, "not_pinned_since": None}, {"$set": {"not_pinned_since": at}})

    async def done(self, cid: str) -> None:
        """Forget `cid`: the node removed its pin or said twice it holds none, or a record on chain names it."""
        await self._c.delete_one({"_id": cid})
