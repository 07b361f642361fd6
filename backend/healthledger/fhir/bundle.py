"""The export's FHIR: one entry per record, and the `collection` Bundle holding them.

Each entry's resource is the record itself for a structured record (its FHIR JSON as signed), or a
`DocumentReference` for a file, with the file inline. Either way the resource gets identifiers tying
it to its anchor (identifiers.py): the vault contract and record id, the transaction, the salted
content hash and the CID, plus the salt as an extension, so whoever receives the Bundle can check
SHA-256(salt ‖ bytes) against the chain. For a structured record the check needs the bytes as
signed, which the added identifiers change: the DocumentReference route is not taken for them
(they are their own best export), and the exact bytes stay available through /view and the
verification bundle.

Attachment.hash is SHA-1 (base64) by the FHIR specification, so it is filled as such; the file's
SHA-256 (hex) goes into an extension on the attachment (ATTACHMENT_SHA256_URL), and the anchored
salted hash into an identifier (CONTENT_HASH_SYSTEM).

The Bundle is built as an R4B model and validated before it is serialised: a record that no longer
validates fails the export (400 `invalid_fhir` naming the field) instead of producing a Bundle
another system refuses.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from .identifiers import (
    ANCHOR_SYSTEM,
    ANCHOR_TX_SYSTEM,
    ATTACHMENT_SHA256_URL,
    CID_SYSTEM,
    CONTENT_HASH_SYSTEM,
    SALT_URL,
    SKIPPED_URL,
    address_reference,
    anchor_value,
)
from .validation import invalid_fhir


@dataclass(frozen=True)
class Anchor:
    """Where a record is anchored, and its commitment."""

    chain_id: int
    vault: str  # checksummed
    record_id: int
    tx_hash: str | None
    content_hash: str
    cid: str
    salt: str | None  # 0x-hex, None for records from before salts


@dataclass(frozen=True)
class FileRecord:
    """A file record as a DocumentReference needs it."""

    patient: str
    author: str | None
    record_type: str
    name: str
    content_type: str
    created_at: datetime


def anchor_identifiers(anchor: Anchor) -> list[dict[str, Any]]:
    """The identifiers that tie an exported resource to its on-chain record."""
    identifiers = [
        {"system": ANCHOR_SYSTEM, "value": anchor_value(anchor.chain_id, anchor.vault, anchor.record_id)},
        {"system": CONTENT_HASH_SYSTEM, "value": anchor.content_hash.lower()},
        {"system": CID_SYSTEM, "value": anchor.cid},
    ]
    if anchor.tx_hash:
        identifiers.insert(1, {"system": ANCHOR_TX_SYSTEM, "value": anchor.tx_hash})
    return identifiers


def structured_entry(resource: dict[str, Any], anchor: Anchor) -> dict[str, Any]:
    """A structured record as itself (its JSON as stored, fhir/validation.py's `parse_stored_resource`),
    with its anchor identifiers added."""
    document = dict(resource)
    document["identifier"] = [*document.get("identifier", []), *anchor_identifiers(anchor)]
    _add_salt(document, anchor)
    return _entry(document, anchor)


def document_entry(record: FileRecord, content: bytes, anchor: Anchor) -> dict[str, Any]:
    """A file record as a DocumentReference with the file inline (base64 `data`)."""
    created = record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=UTC)
    document: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "status": "current",
        "identifier": anchor_identifiers(anchor),
        "type": {"text": record.record_type},
        "category": [{"text": record.record_type}],
        "subject": address_reference(record.patient, "Patient"),
        "date": created.isoformat(),
        "description": record.name,
        "content": [
            {
                "attachment": {
                    "contentType": record.content_type,
                    "data": base64.b64encode(content).decode("ascii"),
                    "size": len(content),
                    "hash": base64.b64encode(hashlib.sha1(content, usedforsecurity=False).digest()).decode("ascii"),
                    "title": record.name,
                    "creation": created.isoformat(),
                    "extension": [{"url": ATTACHMENT_SHA256_URL, "valueString": hashlib.sha256(content).hexdigest()}],
                }
            }
        ],
    }
    if record.author:
        document["author"] = [address_reference(record.author, "Practitioner")]
    _add_salt(document, anchor)
    return _entry(document, anchor)


def bundle_json(entries: list[dict[str, Any]], skipped: dict[str, int], timestamp: datetime) -> str:
    """The `collection` Bundle of `entries`, validated as an R4B model, as JSON text.

    `skipped` counts the readable records left out, by reason (a complex extension SKIPPED_URL with
    one sub-extension per reason, valueUnsignedInt, in `Bundle.meta`), so a receiver knows the Bundle
    is partial.
    """
    document: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timestamp.isoformat(),
        # Bundle is a Resource, not a DomainResource: it has no `extension` of its own, its `meta` does.
        "meta": {
            "extension": [
                {
                    "url": SKIPPED_URL,
                    "extension": [{"url": reason, "valueUnsignedInt": count} for reason, count in sorted(skipped.items())],
                }
            ]
        }
        if skipped
        else None,
        "entry": entries or None,
    }
    try:
        bundle = Bundle.model_validate({key: value for key, value in document.items() if value is not None})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path = ".".join(str(part) for part in error.get("loc", ()))
        raise invalid_fhir(path or "Bundle", str(error.get("msg", "is invalid"))[:200]) from exc
    return bundle.model_dump_json(by_alias=True, exclude_none=True)


def _add_salt(document: dict[str, Any], anchor: Anchor) -> None:
    if anchor.salt:
        document["extension"] = [*document.get("extension", []), {"url": SALT_URL, "valueString": anchor.salt}]


def _entry(document: dict[str, Any], anchor: Anchor) -> dict[str, Any]:
    return {"fullUrl": f"urn:healthledger:record:{anchor.cid}", "resource": document}

