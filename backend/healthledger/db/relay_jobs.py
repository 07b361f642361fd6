"""The durable relayer queue: one document per transaction the relayer is asked to make.

Every API instance inserts jobs here and polls its own job's document for the outcome; the one
instance holding the relayer lease (db/relayer_lease.py) works through them (services/relay_worker.py).
A job's life: `queued` -> `sent` (a transaction nonce and hashes, each saved *before* its broadcast)
-> `mined` (the receipt's hash, block and status) or `failed` (why, as the error the waiter raises).

A job's `_id` is its identity where one is needed: a signed action is `sig:<vault>:<signer>:<nonce>`
(only one action can use a signer's nonce), a vault creation `vault:<patient>`. Enqueueing such a job
while one with the same id is live finds that one instead (the caller awaits it, or refuses a
different action for the same nonce); a finished one is replaced by the new job.

Polling rather than change streams: SecantusDB (tests, `make run`) has none, and a poll of one
document by `_id` is cheap. A waiter in the process that settles its job need not wait for its next
poll: `finish` sets the events `settled(job_id)` handed out in this process (an in-process nudge only;
other instances' waiters see the document on their next poll). Finished jobs are deleted by a TTL
index a day after they end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

RELAY_JOBS = "relay_jobs"
LIVE = ("queued", "sent")
FINISHED = ("mined", "failed")
KEEP_FINISHED = timedelta(days=1)


@dataclass
class RelayJob:
    """One queued transaction (see the module docstring)."""

    relayer: str  # the lease id: chain id and relayer address
    action: str  # the contract function, for logs and errors
    to: str
    data: str
    id: str = field(default_factory=lambda: str(ObjectId()))
    state: str = "queued"
    # For a signed action: whose nonce orders it (`vault:signer`) and that nonce.
    signer_key: str | None = None
    signer_nonce: int | None = None
    record_cid: str | None = None  # the record whose tx_hashes get each hash too
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    wait_until: datetime | None = None  # a signed action whose nonce is not reached by then fails
    tx_nonce: int | None = None
    fees: dict[str, int] = field(default_factory=dict)
    gas: int = 0
    tx_hashes: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    outage_at: datetime | None = None  # the node stopped answering while it was awaited

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def to_doc(self) -> dict[str, Any]:
        return {
            "_id": self.id, "relayer": self.relayer, "action": self.action, "to": self.to, "data": self.data,
            "state": self.state, "signer_key": self.signer_key, "signer_nonce": self.signer_nonce,
            "record_cid": self.record_cid, "created_at": self.created_at, "wait_until": self.wait_until,
            "tx_nonce": self.tx_nonce, "fees": {k: str(v) for k, v in self.fees.items()}, "gas": self.gas,
            "tx_hashes": list(self.tx_hashes), "result": self.result, "error": self.error, "expires_at": None,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RelayJob:
        return cls(
            id=doc["_id"], relayer=doc["relayer"], action=doc["action"], to=doc["to"], data=doc["data"],
            state=doc["state"], signer_key=doc.get("signer_key"), signer_nonce=doc.get("signer_nonce"),
            record_cid=doc.get("record_cid"), created_at=doc["created_at"], wait_until=doc.get("wait_until"),
            tx_nonce=doc.get("tx_nonce"), fees={k: int(v) for k, v in (doc.get("fees") or {}).items()},
            gas=int(doc.get("gas") or 0), tx_hashes=list(doc.get("tx_hashes") or []),
            result=doc.get("result"), error=doc.get("error"), outage_at=doc.get("outage_at"),
        )


class RelayJobStore:
    """The `relay_jobs` collection."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[RELAY_JOBS]
        self._settled: dict[str, set[asyncio.Event]] = {}  # job id -> this process's waiters' events

    @contextmanager
    def settled(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set when this process's `finish` settles `job_id` (a nudge for its waiter, which
        still reads the document: a job settled by another instance is only seen by polling)."""
        event = asyncio.Event()
        waiters = self._settled.setdefault(job_id, set())
        waiters.add(event)
        try:
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                self._settled.pop(job_id, None)

    async def ensure_indexes(self) -> None:
        await self._c.create_index([("relayer", ASCENDING), ("state", ASCENDING), ("created_at", ASCENDING)])
        await self._c.create_index([("record_cid", ASCENDING), ("state", ASCENDING)])
        await self._c.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)

    async def enqueue(self, job: RelayJob) -> tuple[RelayJob, bool]:
        """Insert `job` (replacing a finished job of the same id); if a live one has its id, that one.

        Returns (the job now stored under that id, whether it is `job`).
        """
        doc = job.to_doc()
        try:
            await self._c.update_one(
                {"_id": job.id, "state": {"$in": list(FINISHED)}},
                {"$set": {k: v for k, v in doc.items() if k != "_id"}},
                upsert=True,
            )
        except DuplicateKeyError:
            existing = await self.get(job.id)
            if existing is not None:
                return existing, False
            return await self.enqueue(job)  # it finished and was purged meanwhile
        return job, True

    async def get(self, job_id: str) -> RelayJob | None:
        doc = await self._c.find_one({"_id": job_id})
        return RelayJob.from_doc(doc) if doc else None

    async def queued(self, relayer: str, limit: int = 500) -> list[RelayJob]:
        """Queued jobs, oldest first."""
        cursor = self._c.find({"relayer": relayer, "state": "queued"}).sort("created_at", ASCENDING).limit(limit)
        return [RelayJob.from_doc(doc) async for doc in cursor]

    async def in_flight(self, relayer: str) -> list[RelayJob]:
        """Sent and not yet settled jobs, by transaction nonce (what a new lease holder resumes)."""
        cursor = self._c.find({"relayer": relayer, "state": "sent"}).sort("tx_nonce", ASCENDING)
        return [RelayJob.from_doc(doc) async for doc in cursor]

    async def note_sending(self, job_id: str, *, tx_nonce: int, fees: dict[str, int], gas: int, tx_hash: str) -> bool:
        """Save a version's hash, nonce and fees before its broadcast; False if the job is no longer live."""
        result = await self._c.update_one(
            {"_id": job_id, "state": {"$in": list(LIVE)}},
            {
                "$set": {"state": "sent", "tx_nonce": tx_nonce, "fees": {k: str(v) for k, v in fees.items()},
                         "gas": gas, "sent_at": datetime.now(UTC)},
                "$addToSet": {"tx_hashes": tx_hash},
            },
        )
        return result.matched_count == 1

    async def note_outage(self, job_id: str) -> None:
        """The chain node stopped answering while this sent job was awaited (its waiters stop waiting)."""
        await self._c.update_one({"_id": job_id, "state": "sent"}, {"$set": {"outage_at": datetime.now(UTC)}})

    async def finish(self, job_id: str, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None,
                     only_if_queued: bool = False) -> bool:
        """Settle a live job as mined (`result`) or failed (`error`); False if it was settled already
        (or, with `only_if_queued`, was sent meanwhile)."""
        now = datetime.now(UTC)
        states = ["queued"] if only_if_queued else list(LIVE)
        update = {"state": "mined" if error is None else "failed", "result": result, "error": error,
                  "finished_at": now, "expires_at": now + KEEP_FINISHED}
        outcome = await self._c.update_one({"_id": job_id, "state": {"$in": states}}, {"$set": update})
        for event in self._settled.get(job_id, ()):
            event.set()
        return outcome.matched_count == 1

    async def has_live(self, relayer: str) -> bool:
        return await self._c.find_one({"relayer": relayer, "state": {"$in": list(LIVE)}}, {"_id": 1}) is not None

    async def live_for_record(self, cid: str) -> bool:
        """Whether a queued or sent job will still put record `cid` on chain (reconcile leaves it alone)."""
        return await self._c.find_one({"record_cid": cid, "state": {"$in": list(LIVE)}}, {"_id": 1}) is not None

    async def backlog(self, relayer: str) -> tuple[int, datetime | None]:
        """How many jobs are live (queued or sent) and when the oldest of them was queued (metrics)."""
        live = {"relayer": relayer, "state": {"$in": list(LIVE)}}
        count = await self._c.count_documents(live)
        oldest = await self._c.find_one(live, {"created_at": 1}, sort=[("created_at", ASCENDING)])
        if oldest is None:
            return count, None
        queued_at: datetime = oldest["created_at"]
        # The client is tz-aware (db/mongo.py); a naive value is UTC all the same.
        return count, queued_at if queued_at.tzinfo is not None else queued_at.replace(tzinfo=UTC)

    async def depth(self, relayer: str) -> dict[str, int]:
        """Live jobs by state (status and metrics)."""
        counts = {state: 0 for state in LIVE}
        async for doc in await self._c.aggregate([
            {"$match": {"relayer": relayer, "state": {"$in": list(LIVE)}}},
            {"$group": {"_id": "$state", "n": {"$sum": 1}}},
        ]):
            counts[doc["_id"]] = int(doc["n"])
        return counts
