"""Off-chain profiles: doctors' display names and licence ids, and patients' published names.

The chain only knows addresses (and whether one is a registered doctor); people look each other up
by name. One document per address (lower-case, unique):

- doctor:  {address, role "doctor", name, name_lower, licence_id, registered, updated_at}, written by
  the registrar when registering / unregistering the doctor (`registered` mirrors the last action;
  readers who need the truth ask the chain's `isDoctor`);
- patient: {address, role "patient", display_name, name_lower, published, updated_at}, written by
  the patient. An unpublished name is never searchable; the patient is then found by exact address
  only.

Searches match `name_lower` by case-insensitive substring (a regex over escaped text, never the
user's own regex) and doctors' addresses by prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from .mongo import PROFILES

ProfileRole = Literal["doctor", "patient"]
P = TypeVar("P", "DoctorProfile", "PatientProfile")


@dataclass
class DoctorProfile:
    address: str
    name: str
    licence_id: str
    registered: bool
    updated_at: datetime

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "DoctorProfile":
        return _from_mongo(cls, doc, name="", licence_id="", registered=False)


@dataclass
class PatientProfile:
    address: str
    display_name: str
    published: bool
    updated_at: datetime

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> "PatientProfile":
        return _from_mongo(cls, doc, display_name="", published=False)


def _from_mongo(cls: type[P], doc: dict[str, Any], **defaults: str | bool) -> P:
    """A profile from its document: `address`, `updated_at` (now if missing) and the role's own
    fields, each with its default where the document lacks it (a flag's value is made a bool)."""
    fields = {
        key: bool(doc.get(key, default)) if isinstance(default, bool) else doc.get(key, default)
        for key, default in defaults.items()
    }
    return cls(address=doc["address"], updated_at=doc.get("updated_at") or datetime.now(UTC), **fields)


def contains_pattern(text: str) -> dict[str, Any]:
    """A Mongo regex matching `text` anywhere, literally (lower-cased fields: no `i` flag needed)."""
    return {"$regex": re.escape(text.lower())}


def prefix_pattern(text: str) -> dict[str, Any]:
    return {"$regex": "^" + re.escape(text.lower())}


class ProfileStore:
    """Repository over `profiles`."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._profiles = db[PROFILES]

    # -- doctors ------------------------------------------------------------------------------

    async def upsert_doctor(self, address: str, name: str, licence_id: str, registered: bool) -> DoctorProfile:
        """Create or replace the doctor profile of `address` (a patient profile there is replaced)."""
        fields = {"name": name, "licence_id": licence_id, "registered": registered}
        return DoctorProfile.from_mongo(await self._replace(address, "doctor", name, fields))

    async def set_doctor_registered(self, address: str, registered: bool) -> DoctorProfile | None:
        doc = await self._profiles.find_one_and_update(
            {"address": address.lower(), "role": "doctor"},
            {"$set": {"registered": registered, "updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        return DoctorProfile.from_mongo(doc) if doc else None

    async def get_doctor(self, address: str) -> DoctorProfile | None:
        doc = await self._profiles.find_one({"address": address.lower(), "role": "doctor"})
        return DoctorProfile.from_mongo(doc) if doc else None

    async def doctor_names(self, addresses: Iterable[str]) -> dict[str, str]:
        """lower-case address -> doctor profile name, for those of `addresses` with a named profile.

        One query for the lot (index: address): timelines and bill lists name every doctor they
        mention, and one lookup per doctor made each such page cost a round trip per doctor."""
        wanted = sorted({a.lower() for a in addresses})
        if not wanted:
            return {}
        cursor = self._profiles.find(
            {"address": {"$in": wanted}, "role": "doctor"}, projection={"_id": False, "address": True, "name": True}
        )
        return {doc["address"]: doc["name"] async for doc in cursor if doc.get("name")}

    async def search_doctors(self, query: str, skip: int, limit: int) -> tuple[list[DoctorProfile], int]:
        """Doctors whose name contains `query` or whose address starts with it; (page, total)."""
        text = query.strip().lower()
        condition: dict[str, Any] = {"role": "doctor"}
        if text:
            alternatives: list[dict[str, Any]] = [{"name_lower": contains_pattern(text)}]
            if re.fullmatch(r"(0x)?[0-9a-f]{1,40}", text):
                prefix = text if text.startswith("0x") else "0x" + text
                alternatives.append({"address": prefix_pattern(prefix)})
            condition["$or"] = alternatives
        return await self._page(condition, skip, limit, DoctorProfile.from_mongo)

    # -- patients -----------------------------------------------------------------------------

    async def set_patient_profile(self, address: str, display_name: str, published: bool) -> PatientProfile:
        fields = {"display_name": display_name, "published": published}
        return PatientProfile.from_mongo(await self._replace(address, "patient", display_name, fields))

    async def get_patient(self, address: str) -> PatientProfile | None:
        doc = await self._profiles.find_one({"address": address.lower(), "role": "patient"})
        return PatientProfile.from_mongo(doc) if doc else None

    async def search_published_patients(
        self, query: str, skip: int, limit: int
    ) -> tuple[list[PatientProfile], int]:
        """Published patients whose display name contains `query`; (page, total)."""
        condition: dict[str, Any] = {"role": "patient", "published": True}
        text = query.strip().lower()
        if text:
            condition["name_lower"] = contains_pattern(text)
        return await self._page(condition, skip, limit, PatientProfile.from_mongo)

    # -- plumbing -----------------------------------------------------------------------------

    async def _replace(self, address: str, role: ProfileRole, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create or replace `address`'s profile as `role` with `fields`, searchable by `name`.

        The other role's fields are removed: an address holds one profile, the last one written.
        """
        other = PatientProfile if role == "doctor" else DoctorProfile
        stale = set(other.__dataclass_fields__) - {"address", "updated_at"}
        return await self._profiles.find_one_and_update(
            {"address": address.lower()},
            {
                "$set": {"role": role, **fields, "name_lower": name.lower(), "updated_at": datetime.now(UTC)},
                "$unset": dict.fromkeys(sorted(stale), ""),
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    async def _page(self, condition: dict[str, Any], skip: int, limit: int, convert):
        total = await self._profiles.count_documents(condition)
        cursor = (
            self._profiles.find(condition)
            .sort([("name_lower", ASCENDING), ("address", ASCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return [convert(doc) async for doc in cursor], total
