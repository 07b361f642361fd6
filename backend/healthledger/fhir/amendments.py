"""The link from an amended structured record to the version it replaces, as the signed resource states it.

FHIR R4 has no one "replaces" element common to MedicationRequest, DiagnosticReport and Invoice
(`MedicationRequest.priorPrescription` exists, the other two have nothing; `Provenance` is a separate
resource, and a record is one signed resource). So every amended record carries one extension, the
same for each type:

    {"url": "urn:healthledger:fhir:replaces",
     "valueIdentifier": {"system": "urn:healthledger:anchor", "value": "eip155:<chainId>:<vault>/<recordId>"}}

naming the previous version by its on-chain anchor (the identifier the export writes). A
MedicationRequest may also say it in FHIR's own words, `priorPrescription` as a logical reference
with that same identifier; when present it must agree. The bytes are signed by the client, so the
server reads the link and checks it (services/amendments.py), never writes it.
"""

from __future__ import annotations

from typing import Any

from ..domain_errors import bad_request
from .identifiers import ANCHOR_SYSTEM, REPLACES_URL


def replaces_link(document: dict[str, Any]) -> str | None:
    """The anchor value the resource says it replaces, or None when it claims none.

    400 `fhir_replaces_mismatch` for a malformed or repeated link, or a `priorPrescription` that
    names another anchor."""
    links = [
        (index, item)
        for index, item in enumerate(document.get("extension") or [])
        if isinstance(item, dict) and item.get("url") == REPLACES_URL
    ]
    if not links:
        prior = _prior_prescription(document)
        if prior is not None:
            raise _mismatch("priorPrescription", f"needs the extension {REPLACES_URL} naming the same version")
        return None
    if len(links) > 1:
        raise _mismatch(f"extension[{links[1][0]}]", "a record replaces one version only")
    index, link = links[0]
    identifier = link.get("valueIdentifier")
    value = identifier.get("value") if isinstance(identifier, dict) else None
    if not isinstance(identifier, dict) or identifier.get("system") != ANCHOR_SYSTEM or not isinstance(value, str):
        raise _mismatch(
            f"extension[{index}].valueIdentifier",
            f'must be {{"system": "{ANCHOR_SYSTEM}", "value": "eip155:<chainId>:<vault>/<recordId>"}}',
        )
    prior = _prior_prescription(document)
    if prior is not None and prior.lower() != value.lower():
        raise _mismatch("priorPrescription", "names another version than the replaces extension")
    return value


def _prior_prescription(document: dict[str, Any]) -> str | None:
    if document.get("resourceType") != "MedicationRequest" or document.get("priorPrescription") is None:
        return None
    prior = document["priorPrescription"]
    identifier = prior.get("identifier") if isinstance(prior, dict) else None
    if not isinstance(identifier, dict) or identifier.get("system") != ANCHOR_SYSTEM or prior.get("reference"):
        raise _mismatch("priorPrescription", f"must be a reference by identifier with system {ANCHOR_SYSTEM}")
    value = identifier.get("value")
    return value if isinstance(value, str) else ""


def _mismatch(path: str, problem: str) -> Exception:
    return bad_request("fhir_replaces_mismatch", f"{path} {problem}", field=path)
