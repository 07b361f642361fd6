"""Accounts' registered encryption public keys, each with the account's signature binding it.

One document per account (lower-case address, unique):
`{account, public_key (0x + 64 hex), signature (0x + 130 hex, canonical), chain_id, registered_at,
updated_at}`. The signature is the account's EIP-712 `EncryptionKey` binding (crypto/key_binding.py),
a public statement rather than a secret: it is stored so that every later use can check the row was
not changed (services/keys.py), since this store itself trusts nothing it reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import ACCOUNT_KEYS


@dataclass(frozen=True)
class StoredKey:
    """A registered key as stored: nothing here has been verified yet."""

    account: str
    public_key: str
    signature: str
    chain_id: int
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "StoredKey":
        now = datetime.now(UTC)
        return cls(
            account=str(doc["account"]),
            public_key=str(doc.get("public_key", "")),
            signature=str(doc.get("signature", "")),
            chain_id=int(doc.get("chain_id", 0)),
            registered_at=doc.get("registered_at") or now,
            updated_at=doc.get("updated_at") or now,
        )


class AccountKeyStore:
    """Repository over `account_keys`."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._keys = db[ACCOUNT_KEYS]

    async def get(self, account: str) -> StoredKey | None:
        doc = await self._keys.find_one({"account": account.lower()})
        return StoredKey.from_mongo(doc) if doc else None

    async def put(self, account: str, public_key: str, signature: str, chain_id: int) -> StoredKey:
        """Register `public_key` for `account` (replacing any other), in one atomic upsert.

        `registered_at` is when this key was first registered: unchanged by re-registering it,
        reset when a different key replaces it.
        """
        now = datetime.now(UTC)
        current = await self.get(account)
        registered_at = current.registered_at if current and current.public_key == public_key else now
        doc = await self._keys.find_one_and_update(
            {"account": account.lower()},
            {
                "$set": {
                    "public_key": public_key,
                    "signature": signature,
                    "chain_id": chain_id,
                    "registered_at": registered_at,
                    "updated_at": now,
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return StoredKey.from_mongo(doc)
