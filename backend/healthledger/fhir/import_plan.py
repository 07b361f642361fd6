"""An import's plan (the API's `ImportPlan`) as JSON bytes: what POST /api/fhir/import/prepare answers.

Pure CPU work on bytes (parse the Bundle, rewrite its entries, encode the answer), run in a worker
process by services/fhir_import.py, so it imports nothing of the service layer: the worker loads
this module, fhir/importing.py and what they need.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from .importing import PreparedRecord, RefusedEntry, prepare_entries


def plan_json(body: bytes, patient: str, max_file_bytes: int) -> bytes:
    """The ImportPlan as JSON bytes, each record's base64 content spliced in rather than encoded.

    Base64 is JSON-safe ASCII, so it needs no escaping: each record's metadata goes through
    `json.dumps` and its content is appended as is. One `json.dumps` of the whole plan would scan
    tens of MB of base64 for characters to escape and copy it twice more (into a str, then bytes);
    when this ran in a thread of the API's process, that single C call held the GIL for 95 ms.
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
