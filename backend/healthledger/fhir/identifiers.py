"""The identifier systems HealthLedger's FHIR resources use, in one place so that validation, the
export and the README agree.

People are Ethereum accounts here, not FHIR `Patient`/`Practitioner` resources on some server: a
resource names its patient and its author by a logical reference whose identifier is the account's
address (`{"identifier": {"system": ADDRESS_SYSTEM, "value": "0x…"}}`), which any FHIR consumer can
keep and compare without resolving anything.
"""

from __future__ import annotations

from typing import Any

# The identifier system of an Ethereum account address (0x + 40 hex, compared case-insensitively).
ADDRESS_SYSTEM = "urn:ethereum:address"
# A structured record's file Content-Type (parameters such as `; fhirVersion=4.0` are allowed).
FHIR_CONTENT_TYPE = "application/fhir+json"

# Identifiers of an exported entry that tie it to its on-chain anchor (fhir/bundle.py):
# value `eip155:<chainId>:<vault address>/<record id>`: the vault contract and the record in it.
ANCHOR_SYSTEM = "urn:healthledger:anchor"
# value: the transaction hash that anchored the record.
ANCHOR_TX_SYSTEM = "urn:healthledger:anchor-tx"
# value: 0x-hex SHA-256(salt ‖ file), the salted commitment the chain holds.
CONTENT_HASH_SYSTEM = "urn:healthledger:content-hash"
# value: the record's IPFS CID (of the ciphertext).
CID_SYSTEM = "urn:healthledger:cid"

# Extension URLs of the export (fhir/bundle.py).
# On a DocumentReference's attachment: the file's plain SHA-256 as hex (Attachment.hash is SHA-1).
ATTACHMENT_SHA256_URL = "urn:healthledger:fhir:attachment-sha256"
# On the Bundle: how many readable records were left out, and why (a complex extension).
SKIPPED_URL = "urn:healthledger:fhir:skipped-records"
# On each entry's resource: the record's salt (0x-hex), so the receiver can re-check the anchor.
SALT_URL = "urn:healthledger:fhir:content-salt"
# On an amended structured record (fhir/amendments.py): the version it replaces, as a valueIdentifier
# {system: ANCHOR_SYSTEM, value: that version's anchor}. Signed with the record: the server checks it.
REPLACES_URL = "urn:healthledger:fhir:replaces"
# On an imported record (fhir/importing.py): where it came from (valueUri: the source entry's fullUrl,
# or `Bundle.entry[i]` when it had none).
SOURCE_URL = "urn:healthledger:fhir:source"
# Prefix of every identifier system and extension URL HealthLedger adds (stripped on import).
HEALTHLEDGER_URN = "urn:healthledger:"


def anchor_value(chain_id: int, vault: str, record_id: int) -> str:
    """An on-chain record's anchor identifier value: `eip155:<chainId>:<vault>/<recordId>`."""
    return f"eip155:{chain_id}:{vault}/{record_id}"


def is_fhir_content_type(content_type: str) -> bool:
    """Whether an upload's Content-Type says FHIR JSON (its media type alone, any parameters)."""
    return content_type.split(";", 1)[0].strip().lower() == FHIR_CONTENT_TYPE


def address_reference(address: str, resource_type: str | None = None) -> dict[str, Any]:
    """A logical FHIR Reference to an account (what uploads must carry, and what exports write)."""
    reference: dict[str, Any] = {"identifier": {"system": ADDRESS_SYSTEM, "value": address}}
    if resource_type:
        reference["type"] = resource_type
    return reference
