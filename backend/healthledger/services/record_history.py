"""A record's versions (amendments, services/amendments.py) for GET /api/medical-records/{cid}/history.

Its own module: it reads through the view's access rules (services/reading.py, services/access.py),
which the upload pipeline, and so services/amendments.py, sit beneath.
"""

from __future__ import annotations

from typing import Any

from ..container import Services
from ..domain_errors import NotAllowed
from .access import require_doctor_can_read
from .amendments import history, version_view
from .reading import readable_record
from .record_listing import author_names


async def history_for(services: Services, reader: str, role: str, cid: str) -> dict[str, Any]:
    """GET /api/medical-records/{cid}/history: the versions of the record behind `cid`, newest first.

    Who may ask: whoever may read that record (reading.readable_record: its patient; a doctor while the
    chain lets them read it, or its author). A doctor sees the versions they may read now (an author
    all of theirs; a reader those shared with them); metadata only, nothing is decrypted.
    """
    record = await readable_record(services, reader, role, cid)
    found = await history(services, record)
    versions = found.versions
    if role == "doctor":
        allowed = []
        for version in versions:
            try:
                await require_doctor_can_read(services, reader, version)
            except NotAllowed:
                continue
            allowed.append(version)
        versions = allowed
    chain_id = await services.chain.chain_id()
    names = await author_names(services, (version.author for version in versions))
    return {
        "cid": record.cid,
        "current": found.current.cid,
        # With the doctor's name, as the record lists give it (a history used to show bare addresses).
        "versions": [
            {**version_view(version, chain_id), "author_name": names.get(version.author) if version.author else None}
            for version in versions
        ],
    }
