"""Single-use login nonces and refresh-token ids, kept in MongoDB so several API processes agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from .mongo import LOGIN_NONCES, REFRESH_TOKENS, purge_expired


@dataclass(frozen=True)
class IssuedNonce:
    """What was issued with a nonce: when, and for which of the service's origins."""

    issued_at: datetime
    expires_at: datetime
    origin: str | None
    domain: str | None


class NonceStore:
    """Issues SIWE nonces and consumes each at most once, before it expires.

    Expired nonces are removed by MongoDB's TTL monitor (index on `expires_at`, see mongo.py) and by
    `purge_expired`, which the background maintenance calls, so the collection never grows without end.
    """

    def __init__(self, db: AsyncDatabase, ttl_seconds: int) -> None:
        self._nonces = db[LOGIN_NONCES]
        self._ttl = timedelta(seconds=ttl_seconds)

    async def issue(self, nonce: str, *, origin: str | None = None, domain: str | None = None) -> datetime:
        issued_at = datetime.now(UTC)
        expires_at = issued_at + self._ttl
        await self._nonces.insert_one(
            {"nonce": nonce, "issued_at": issued_at, "expires_at": expires_at, "origin": origin, "domain": domain}
        )
        return expires_at

    async def consume(self, nonce: str) -> IssuedNonce | None:
        """What the nonce was issued with, exactly once for a nonce that was issued and has not expired."""
        doc = await self._nonces.find_one_and_delete({"nonce": nonce})
        if doc is None or doc["expires_at"] <= datetime.now(UTC):
            return None
        return IssuedNonce(
            issued_at=doc.get("issued_at") or doc["expires_at"] - self._ttl,
            expires_at=doc["expires_at"],
            origin=doc.get("origin"),
            domain=doc.get("domain"),
        )

    async def purge_expired(self) -> int:
        return await purge_expired(self._nonces)


class RefreshTokenStore:
    """Remembers spent refresh-token ids, so a refresh token works once (rotation)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._tokens = db[REFRESH_TOKENS]

    async def purge_expired(self) -> int:
        """Forget spent ids whose token has expired anyway (the TTL index does the same)."""
        return await purge_expired(self._tokens)

    async def spend(self, jti: str, expires_at: datetime) -> bool:
        """Mark `jti` used; False if it had been used already."""
        try:
            await self._tokens.insert_one({"jti": jti, "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True
