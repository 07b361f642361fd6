"""Fixed-window rate-limit counters in MongoDB, for the `limits` library, on PyMongo's async API.

Why this module exists: `limits` ships an async MongoDB storage, but it is built on motor, which
is deprecated and not used in this project (PyMongo's `AsyncMongoClient` replaces it). Its counter
update is also an aggregation-pipeline update with `$$NOW`; this storage implements the same
`limits.aio.storage.Storage` interface with plain operators only (`$inc`, `$set`, inserts), which
behave the same on MongoDB and on SecantusDB, the MongoDB-wire server the tests run against.

One document per limit key: `{_id: key, count, expires_at}`. A window starts at the first hit and
lasts `expiry` seconds (so this serves `limits`' fixed-window strategy; moving and sliding windows
are not implemented). `incr` is atomic across any number of API processes:

1. `$inc` the count of a window that is still live (`expires_at > now`): one round trip normally;
2. otherwise start a new window over an expired document (`$set` guarded by `expires_at <= now`,
   so of several processes racing on the same expired window exactly one wins);
3. otherwise the document does not exist: `insert_one`; a `DuplicateKeyError` means another
   process created it first, so go round again (step 1 then counts this hit in that window).

No `upsert` on `find_one_and_update`: SecantusDB 0.7.0b3 applies such an upsert that loses the
insert race as an update but answers `value: null`, so the new count would be unknown; a separate
insert + duplicate-key retry is correct on both SecantusDB and MongoDB. Expired documents are
deleted by a TTL index on `expires_at` (created in `db.mongo.ensure_indexes`); the code never
trusts an expired document in the meantime, so how late the TTL monitor runs does not matter.

Times come from the API process's clock (no `$$NOW`): processes with skewed clocks may start a
window early by the skew, no more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from limits.aio.storage import Storage
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from .mongo import RATE_LIMITS

# Each round of `incr` fails only when another process changed the same key in between; a few
# rounds are plenty. Running out is reported as a storage failure, never as an allowed hit.
MAX_INCR_ROUNDS = 8


class CounterContention(Exception):
    """`incr` lost the race for the same key more than `MAX_INCR_ROUNDS` times in a row."""


def _utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (clients without `tz_aware=True` return naive ones)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class MongoRateLimitStorage(Storage):
    """`limits.aio.storage.Storage` on a PyMongo async database (collection `rate_limits`).

    Pass `wrap_exceptions=True` (the default here) to get every PyMongo failure as
    `limits.errors.StorageError`, which the rate-limit service turns into its documented
    fail-open or fail-closed answer.
    """

    # No URI scheme: this storage is built from a database handle, never from a `limits` URI.
    STORAGE_SCHEME = None

    def __init__(self, db: AsyncDatabase, *, wrap_exceptions: bool = True) -> None:
        super().__init__(wrap_exceptions=wrap_exceptions)
        self._counters: AsyncCollection = db[RATE_LIMITS]
        self._db = db

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return (PyMongoError, CounterContention)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's live window (starting one of `expiry` seconds if none) and
        return the window's new count."""
        for _ in range(MAX_INCR_ROUNDS):
            now = datetime.now(UTC)
            live = await self._counters.find_one_and_update(
                {"_id": key, "expires_at": {"$gt": now}},
                {"$inc": {"count": amount}},
                projection={"count": True},
                return_document=ReturnDocument.AFTER,
            )
            if live is not None:
                return int(live["count"])
            fresh = {"count": amount, "expires_at": now + timedelta(seconds=expiry)}
            restarted = await self._counters.find_one_and_update(
                {"_id": key, "expires_at": {"$lte": now}},
                {"$set": fresh},
                projection={"_id": True},
            )
            if restarted is not None:
                return amount
            try:
                await self._counters.insert_one({"_id": key, **fresh})
            except DuplicateKeyError:
                continue
            return amount
        raise CounterContention("rate-limit counter kept changing under concurrent updates")

    async def get(self, key: str) -> int:
        """The count of the key's live window (0 when there is none)."""
        doc = await self._counters.find_one(
            {"_id": key, "expires_at": {"$gt": datetime.now(UTC)}}, projection={"count": True}
        )
        return int(doc["count"]) if doc else 0

    async def get_expiry(self, key: str) -> float:
        """When the key's window ends (epoch seconds); now when there is no window (as `limits` expects)."""
        doc = await self._counters.find_one({"_id": key}, projection={"expires_at": True})
        if doc is None:
            return datetime.now(UTC).timestamp()
        return _utc(doc["expires_at"]).timestamp()

    async def check(self) -> bool:
        """Whether MongoDB answers a ping."""
        try:
            await self._db.command("ping")
        except PyMongoError:
            return False
        return True

    async def reset(self) -> int | None:
        """Delete every counter (all keys, all windows); returns how many there were."""
        result = await self._counters.delete_many({})
        return result.deleted_count

    async def clear(self, key: str) -> None:
        """Forget one key's window."""
        await self._counters.delete_one({"_id": key})
