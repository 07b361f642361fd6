"""The export's Bundle as JSON bytes, from records already opened and verified.

Pure CPU work (parse each structured record, base64 each file, validate the Bundle as an R4B model,
serialise it), run in a worker process by services/fhir_export.py: pydantic's validation and
`model_dump_json` of a 48 MiB Bundle are single C calls that held the GIL for up to a second in a
thread of the API's process. So this module imports nothing of the service layer, and its inputs
are plain values that pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain_errors import DomainError
from .bundle import Anchor, FileRecord, bundle_json, document_entry, structured_entry
from .payment import receipt_entry
from .validation import parse_stored_resource


@dataclass(frozen=True)
class ExportItem:
    """One opened record: where it is anchored, what it is, its verified plaintext."""

    anchor: Anchor
    file: FileRecord
    content: bytes
    structured: bool  # stored as FHIR JSON: exported as itself while it still validates


def export_bundle_json(
    items: list[ExportItem], receipts: list[dict[str, Any]], skipped: dict[str, int], timestamp: datetime
) -> bytes:
    """The validated `collection` Bundle of `items` and the patient's payment `receipts` (fhir/bundle.py)."""
    entries = [_entry(item) for item in items]
    entries.extend(receipt_entry(receipt) for receipt in receipts)
    return bundle_json(entries, skipped, timestamp).encode()


def _entry(item: ExportItem) -> dict[str, Any]:
    if item.structured:
        try:
            return structured_entry(parse_stored_resource(item.content), item.anchor)
        except DomainError:
            pass  # stored before validation, or under older rules: exported as the file it is
    return document_entry(item.file, item.content, item.anchor)
