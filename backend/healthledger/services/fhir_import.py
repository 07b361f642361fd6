"""Importing a FHIR Bundle from another provider, step one: POST /api/fhir/import/prepare.

The server turns the Bundle into the exact bytes of each record (fhir/importing.py: people
rewritten to the patient, the source noted) and hands them back; the patient's client then draws a
salt per record, signs AddRecord over SHA-256(salt ‖ bytes) (the typed-data endpoint serves it; the
nonces n, n+1, … may all be signed first: the relayer queue accepts nonces ahead) and sends each
through the ordinary POST /api/medical-records/upload. Nothing is stored here: no document, no pin,
no transaction, so preparing twice or abandoning half-way leaves no trace, and every record that
lands passed the upload's own checks with the patient's own signature.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import anyio

from ..container import Services
from ..fhir.importing import prepare_entries


async def prepare_import(services: Services, patient: str, body: bytes) -> dict[str, Any]:
    """The records a Bundle (`body`, FHIR JSON) becomes in `patient`'s vault, and the entries refused."""
    prepared, refused = await anyio.to_thread.run_sync(
        prepare_entries, body, patient, services.settings.max_upload_bytes
    )
    return {
        "records": [
            {
                "index": record.index,
                "fullUrl": record.full_url,
                "resourceType": record.resource_type,
                "recordType": record.record_type,
                "name": record.name,
                "contentType": record.content_type,
                "size": len(record.content),
                "sha256": "0x" + hashlib.sha256(record.content).hexdigest(),
                "content": base64.b64encode(record.content).decode("ascii"),
            }
            for record in prepared
        ],
        "refused": [
            {
                "index": entry.index,
                "fullUrl": entry.full_url,
                "resourceType": entry.resource_type,
                "code": entry.code,
                "message": entry.message,
            }
            for entry in refused
        ],
    }
