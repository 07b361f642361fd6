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
import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ..container import Services
from ..fhir.importing import PreparedRecord, RefusedEntry, prepare_entries


async def prepare_import(services: Services, patient: str, read_body: Callable[[], Awaitable[bytes]]) -> bytes:
    """The records a Bundle (FHIR JSON, read by `read_body`) becomes in `patient`'s vault, and the
    entries refused: the answer's JSON bytes (the API's `ImportPlan`).

    Why the body is read here, in a turn (`services.bundle_turns`): a Bundle at the upload limit is
    held several times over (the body, its parsed JSON, the decoded files, their base64 again, the
    answer), about 250 MB for 48 MB; four at once grew an instance by 536-719 MB. A request
    waiting for its turn has not read its body yet. Why bytes, built off the event loop: encoding
    and serialising tens of MB held the loop for every other request.
    """
    async with services.bundle_turns:
        body = await read_body()
        return await anyio.to_thread.run_sync(_plan_json, body, patient, services.settings.max_upload_bytes)


def _plan_json(body: bytes, patient: str, max_file_bytes: int) -> bytes:
    """The ImportPlan as JSON bytes, each record's base64 content spliced in rather than encoded.

    Why not one `json.dumps` of the whole plan: it is a single C call that holds the GIL until the
    last byte, and for a 48 MiB Bundle's plan that was 95 ms in which no other request of the
    instance ran (the worker thread does not help). Base64 is JSON-safe ASCII, so it needs no
    escaping: each record's metadata goes through `json.dumps`, its content is appended as is, and
    the longest hold is one file's base64 encoding (about 7 ms for 6 MiB).
    """
    prepared, refused = prepare_entries(body, patient, max_file_bytes)
    parts = [b'{"records":[']
    for number, record in enumerate(prepared):
        if number:
            parts.append(b",")
        parts.extend(_record_json(record))
    parts.append(b'],"refused":')
    parts.append(_json([_refusal(entry) for entry in refused]))
    parts.append(b"}")
    return b"".join(parts)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _record_json(record: PreparedRecord) -> list[bytes]:
    """One record of the plan as JSON pieces: its fields, then `content` (base64) spliced in last."""
    fields = _json({
        "index": record.index,
        "fullUrl": record.full_url,
        "resourceType": record.resource_type,
        "recordType": record.record_type,
        "name": record.name,
        "contentType": record.content_type,
        "size": len(record.content),
        "sha256": "0x" + hashlib.sha256(record.content).hexdigest(),
    })
    return [fields[:-1], b',"content":"', base64.b64encode(record.content), b'"}']


def _refusal(entry: RefusedEntry) -> dict[str, Any]:
    return {
        "index": entry.index,
        "fullUrl": entry.full_url,
        "resourceType": entry.resource_type,
        "code": entry.code,
        "message": entry.message,
    }
