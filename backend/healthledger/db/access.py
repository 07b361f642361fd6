"""Off-chain halves of doctor access: request reasons, and data keys sealed to grant holders.

The chain decides who may read what; these documents only carry what must not go on chain (the
free-text reason) and what a doctor needs to decrypt an approved record: its data key sealed to the
doctor's own public key (crypto/sealed_keys.py), which only the doctor's wallet signature opens.
Nothing the server holds opens a grant copy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import ACCESS_REQUESTS, GRANT_KEYS
from .public import public_fields

# Only v2 grant copies (sealed to the doctor) are ever read.
_SEALED: dict[str, Any] = {"sealed_key": {"$exists": True}}

RequestState = Literal["pending", "approved", "denied", "superseded"]


@dataclass
class AccessRequest:
    patient: str
    doctor: str
    reason: str
    tx_hash: str
    # The doctor also asks to add records (an off-chain hint like the reason: the signed RequestAccess
    # is unchanged, and the patient grants write access with its own signature). Older rows lack it.
    wants_write: bool = False
    state: RequestState = "pending"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    responded_at: datetime | None = None
    id: str = ""

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "AccessRequest":
        known = set(cls.__dataclass_fields__) - {"id"}
        return cls(id=str(doc["_id"]), **{key: value for key, value in doc.items() if key in known})

    def public(self) -> dict[str, Any]:
        return public_fields(self, dates=("created_at", "responded_at"))


class AccessRequestStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._requests = db[ACCESS_REQUESTS]

    async def add(self, request: AccessRequest) -> AccessRequest:
        # A new request from the same doctor replaces any still pending one (as on chain).
        await self._requests.update_many(
            {"patient": request.patient, "doctor": request.doctor, "state": "pending"},
            {"$set": {"state": "superseded", "responded_at": datetime.now(UTC)}},
        )
        doc = asdict(request)
        doc.pop("id")
        result = await self._requests.insert_one(doc)
        request.id = str(result.inserted_id)
        return request

    async def get(self, request_id: str) -> AccessRequest | None:
        try:
            oid = ObjectId(request_id)
        except (InvalidId, TypeError):
            return None
        doc = await self._requests.find_one({"_id": oid})
        return AccessRequest.from_mongo(doc) if doc else None

    async def set_state(self, request_id: str, state: RequestState) -> None:
        await self._requests.update_one(
            {"_id": ObjectId(request_id)}, {"$set": {"state": state, "responded_at": datetime.now(UTC)}}
        )

    async def pending_for_patient(self, patient: str) -> list[AccessRequest]:
        cursor = self._requests.find({"patient": patient, "state": "pending"}).sort("created_at", DESCENDING)
        return [AccessRequest.from_mongo(doc) async for doc in cursor]

    async def for_doctor(self, doctor: str) -> list[AccessRequest]:
        cursor = self._requests.find({"doctor": doctor}).sort("created_at", DESCENDING).limit(500)
        return [AccessRequest.from_mongo(doc) async for doc in cursor]

    async def doctors_of_patient(self, patient: str) -> set[str]:
        """Every doctor who ever asked this patient for access (lower-case addresses)."""
        return {d for d in await self._requests.distinct("doctor", {"patient": patient}) if isinstance(d, str)}

    async def patients(self) -> set[str]:
        """Every patient ever asked for access (lower-case addresses)."""
        return {p for p in await self._requests.distinct("patient") if isinstance(p, str)}

    async def reasons_by_tx(self, tx_hashes: list[str]) -> dict[str, str]:
        """tx hash (lower) -> the reason the doctor gave off chain for that access request (if stored)."""
        if not tx_hashes:
            return {}
        cursor = self._requests.find({"tx_hash": {"$in": list(tx_hashes)}}, {"_id": 0, "tx_hash": 1, "reason": 1})
        return {str(doc["tx_hash"]).lower(): doc["reason"] async for doc in cursor if isinstance(doc.get("reason"), str)}


@dataclass
class GrantKey:
    """One record's data key shared with one doctor for the length of a grant."""

    patient: str
    doctor: str
    cid: str
    record_id: int
    # The data key sealed to the doctor's verified public key, bound to (record, doctor).
    sealed_key: str
    # The grant's end in chain time (`block.timestamp`); the maintenance loop deletes it after.
    expires_at: int

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "GrantKey":
        return cls(**{name: doc[name] for name in cls.__dataclass_fields__})


class GrantKeyStore:
    """Data keys shared with a doctor, one per (doctor, record).

    Only documents with a `sealed_key` are grant copies; the v1 form (a `wrapped_key` under the
    server's retired grant key) is deleted at start-up by `drop_legacy`, and never read.
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self._keys = db[GRANT_KEYS]

    async def replace_grant(self, patient: str, doctor: str, keys: list[GrantKey]) -> None:
        """A new approval replaces the doctor's previous grant from this patient, as on chain."""
        await self._keys.delete_many({"patient": patient, "doctor": doctor})
        if keys:
            await self._keys.insert_many([asdict(key) for key in keys])

    async def set_expiry(self, patient: str, doctor: str, expires_at: int) -> None:
        await self._keys.update_many({"patient": patient, "doctor": doctor}, {"$set": {"expires_at": expires_at}})

    async def revoke(self, patient: str, doctor: str, record_ids: list[int] | None = None) -> int:
        query: dict[str, Any] = {"patient": patient, "doctor": doctor}
        if record_ids is not None:
            query["record_id"] = {"$in": record_ids}
        return (await self._keys.delete_many(query)).deleted_count

    async def get(self, doctor: str, cid: str) -> GrantKey | None:
        doc = await self._keys.find_one({"doctor": doctor, "cid": cid, **_SEALED})
        return GrantKey.from_mongo(doc) if doc else None

    async def for_doctor(self, doctor: str) -> list[GrantKey]:
        return [GrantKey.from_mongo(doc) async for doc in self._keys.find({"doctor": doctor, **_SEALED})]

    async def purge_expired(self, now: int) -> int:
        """Delete the copies whose grant ended at or before `now` (chain time: a grant is live while
        `expiresAt > block.timestamp`). An extended grant had its `expires_at` moved first."""
        return (await self._keys.delete_many({"expires_at": {"$lte": now}})).deleted_count

    async def drop_legacy(self) -> int:
        """Delete v1 grant copies (wrapped under the retired server grant key): nothing can open them now."""
        return (await self._keys.delete_many({"sealed_key": {"$exists": False}})).deleted_count

    async def doctors_of_patient(self, patient: str) -> set[str]:
        """Every doctor holding a shared data key from this patient (lower-case addresses)."""
        return {d for d in await self._keys.distinct("doctor", {"patient": patient}) if isinstance(d, str)}
