"""The relayer lease: which API instance may assign the relayer's transaction nonces and broadcast.

Several API instances share one relayer account; two of them broadcasting at once is how uploads
got lost before (nonce too low, replacement underpriced, a same-nonce transaction replacing
another instance's). One MongoDB document per relayer address and chain id names the holder, when
its lease expires, and a fencing token that grows by one on every takeover:

- `acquire` renews the lease for its holder, or takes over an absent or expired lease (token + 1);
- `fence` is the conditional update the holder makes right before each broadcast: it succeeds only
  while the holder's token is the current one and the lease has at least `margin` seconds left, so
  a holder that was paused (GC, a stopped VM) while another took over never broadcasts again;
- `release` ends the lease at shutdown so another instance takes over at once.

Hand-written (no library offers MongoDB leases with fencing tokens for PyMongo's async API); the
expiry is read from each instance's clock, so instance clocks must agree to well within a lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

RELAYER_LEASES = "relayer_leases"


@dataclass(frozen=True)
class Lease:
    """A lease this instance holds: its fencing token and when it expires."""

    holder: str
    token: int
    expires_at: datetime


def lease_id(relayer: str, chain_id: int) -> str:
    return f"{chain_id}:{relayer.lower()}"


class LeaseStore:
    """The `relayer_leases` collection: one document per relayer address and chain id."""

    def __init__(self, db: AsyncDatabase, relayer: str, chain_id: int) -> None:
        self._c = db[RELAYER_LEASES]
        self._id = lease_id(relayer, chain_id)

    async def acquire(self, holder: str, seconds: float) -> Lease | None:
        """Renew `holder`'s lease, or take over one that is absent or expired; None if another holds it."""
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=seconds)
        renewed = await self._c.find_one_and_update(
            {"_id": self._id, "holder": holder, "expires_at": {"$gt": now}},
            {"$set": {"expires_at": expires}},
            return_document=ReturnDocument.AFTER,
        )
        if renewed is None:
            renewed = await self._c.find_one_and_update(
                {"_id": self._id, "expires_at": {"$lte": now}},
                {"$set": {"holder": holder, "expires_at": expires, "taken_at": now}, "$inc": {"token": 1}},
                return_document=ReturnDocument.AFTER,
            )
        if renewed is None:
            try:
                await self._c.insert_one(
                    {"_id": self._id, "holder": holder, "expires_at": expires, "taken_at": now, "token": 1}
                )
            except DuplicateKeyError:
                return None  # another instance holds a live lease (or just took it)
            return Lease(holder, 1, expires)
        return Lease(holder, int(renewed["token"]), renewed["expires_at"])

    async def fence(self, lease: Lease, margin: float) -> bool:
        """Whether `lease` is still the current one with `margin` seconds left (checked by a conditional update)."""
        now = datetime.now(UTC)
        result = await self._c.update_one(
            {
                "_id": self._id,
                "holder": lease.holder,
                "token": lease.token,
                "expires_at": {"$gt": now + timedelta(seconds=margin)},
            },
            {"$set": {"fenced_at": now}},
        )
        return result.matched_count == 1

    async def release(self, lease: Lease) -> None:
        """End `lease` now (at shutdown), so the next instance need not wait for it to expire."""
        await self._c.update_one(
            {"_id": self._id, "holder": lease.holder, "token": lease.token},
            {"$set": {"expires_at": datetime.now(UTC)}},
        )

    async def current(self) -> dict | None:
        """The lease document as stored (status and tests)."""
        return await self._c.find_one({"_id": self._id})
