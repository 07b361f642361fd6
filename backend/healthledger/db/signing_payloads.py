"""EIP-712 payloads the API handed out, so a relay can check a bare signature against them.

Clients of the access endpoints send only a signature; the server finds the payload it issued to
that signer for that action and checks the signature against it (and against what the request
body says should have been signed) before relaying. A payload is used at most once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import SIGNING_PAYLOADS, purge_expired

CANDIDATES = 20


class SigningPayloadStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._payloads = db[SIGNING_PAYLOADS]

    async def remember(self, signer: str, payload: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        deadline = payload.get("message", {}).get("deadline")
        # Useless once its deadline has passed: the TTL index (mongo.py) and `purge_expired` drop it then.
        expires_at = datetime.fromtimestamp(int(deadline), UTC) if isinstance(deadline, int) else now + timedelta(days=1)
        await self._payloads.insert_one(
            {
                "signer": signer.lower(),
                "primary_type": payload["primaryType"],
                "verifying_contract": payload["domain"]["verifyingContract"].lower(),
                "payload": payload,
                "created_at": now,
                "expires_at": max(expires_at, now),
            }
        )

    async def purge_expired(self) -> int:
        return await purge_expired(self._payloads)

    async def candidates(self, signer: str, primary_type: str, verifying_contract: str) -> list[dict[str, Any]]:
        """Newest first: the payloads a signature of this kind may have been made over."""
        cursor = (
            self._payloads.find(
                {
                    "signer": signer.lower(),
                    "primary_type": primary_type,
                    "verifying_contract": verifying_contract.lower(),
                }
            )
            .sort("created_at", DESCENDING)
            .limit(CANDIDATES)
        )
        return [doc["payload"] async for doc in cursor]

    async def forget(self, signer: str, payload: dict[str, Any]) -> None:
        await self._payloads.delete_many({"signer": signer.lower(), "payload.message": payload["message"],
                                          "primary_type": payload["primaryType"]})
