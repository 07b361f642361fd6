"""Single-use login nonces and refresh-token ids, kept in MongoDB so several API processes agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from .mongo import LOGIN_NONCES, REFRESH_TOKENS


class NonceStore:
    """Issues SIWE nonces and consumes each at most once, before it expires."""

    def __init__(self, db: AsyncDatabase, ttl_seconds: int) -> None:
        self._nonces = db[LOGIN_NONCES]
        self._ttl = timedelta(seconds=ttl_seconds)

    async def issue(self, nonce: str) -> datetime:
        expires_at = datetime.now(UTC) + self._ttl
        await self._nonces.insert_one({"nonce": nonce, "expires_at": expires_at})
        return expires_at

    async def consume(self, nonce: str) -> bool:
        """True exactly once for a nonce that was issued and has not expired."""
        doc = await self._nonces.find_one_and_delete({"nonce": nonce})
        if doc is None:
            return False
        return doc["expires_at"] > datetime.now(UTC)

    async def purge_expired(self) -> int:
        result = await self._nonces.delete_many({"expires_at": {"$lte": datetime.now(UTC)}})
        return result.deleted_count


class RefreshTokenStore:
    """Remembers spent refresh-token ids, so a refresh token works once (rotation)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._tokens = db[REFRESH_TOKENS]

    async def spend(self, jti: str, expires_at: datetime) -> bool:
        """Mark `jti` used; False if it had been used already."""
        try:
            await self._tokens.insert_one({"jti": jti, "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True
