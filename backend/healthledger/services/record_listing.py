"""Record lists as the API shows them, each naming who added the record.

A record a doctor wrote (keys v2) carries `author`; the lists add `author_name`, the doctor's name
from their profile, so the patient sees "added by Dr …" without a lookup per row in the client.
Profiles are read once per distinct author in the list (a handful), not once per record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..container import Services
from ..db.records import RecordDoc


async def author_names(services: Services, authors: Iterable[str | None]) -> dict[str, str | None]:
    """author (lower-case) -> the doctor's profile name; None when they have no profile or no name."""
    names: dict[str, str | None] = {}
    for author in {a for a in authors if a}:
        profile = await services.profiles.get_doctor(author)
        names[author] = (profile.name or None) if profile is not None else None
    return names


async def with_authors(services: Services, records: list[RecordDoc]) -> list[dict[str, Any]]:
    """Each record's public fields with `author_name` filled in (null for the patient's own)."""
    names = await author_names(services, (r.author for r in records))
    return [{**r.public(), "author_name": names.get(r.author) if r.author else None} for r in records]


async def records_of(services: Services, patient: str) -> list[dict[str, Any]]:
    """A patient's records, newest first, each naming its author, with the duplicate tag their app
    sent (their list only: it is how the app warns about a file added before)."""
    records = await services.records.list_for_patient(patient)
    listed = await with_authors(services, records)
    return [{**shown, "duplicate_tag": record.duplicate_tag} for shown, record in zip(listed, records, strict=True)]


async def authored_by(services: Services, doctor: str) -> list[dict[str, Any]]:
    """The records `doctor` added to patients' vaults, newest first (each names its patient)."""
    return await with_authors(services, await services.records.list_by_author(doctor))
