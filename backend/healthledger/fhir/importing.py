"""Importing a FHIR Bundle from another provider: each supported entry as the exact bytes of a record
the patient then signs and uploads as their own.

Why the server prepares and the client uploads: every record is anchored by the patient's own
EIP-712 AddRecord over SHA-256(salt ‖ bytes) with a fresh client-drawn salt, and the server never
signs for anyone. So the server's part is to say exactly which bytes each record will be; the
client draws salts, signs (consecutive nonces) and sends each through the ordinary upload, whose
checks (FHIR validation included) run as for any record.

Per entry (`prepare_entries`):
- `MedicationRequest`, `DiagnosticReport`, `Invoice`: the resource with its people rewritten to
  the patient (subject, and author: requester / performer / issuer; a report's contained
  Observations likewise; an Invoice's recipient), since an imported record is authored by the
  patient; without its `id` and `meta` (the source server's); without the identifiers and
  extensions HealthLedger adds (`urn:healthledger:*`: another vault's anchor and salt, a replaces
  link to a version that is not in this vault); with the extension SOURCE_URL noting where it came
  from (`fullUrl`: the entry's fullUrl, or `Bundle.entry[i]`; `author`: the original author
  reference, when there was one). Then it must pass the upload's own check
  (validation.check_record_resource): what is prepared is what the upload accepts.
- `DocumentReference` with its file inline (`content[0].attachment.data`): the decoded file, with
  the attachment's `contentType` and title; its `hash` (SHA-1) and HealthLedger's SHA-256 extension,
  when present, must match the data. The record type is the first of the document's `type` /
  `category` texts that names one (`prescription`, `bill`, `report`), else `report`.
- a report's results that are separate `Observation` entries (referenced by fullUrl or
  `Observation/<id>`) are copied into its `contained` (a record is one signed document) and are not
  listed on their own;
- anything else, or an entry that fails, is listed as refused with a code and a message; the
  others are still prepared.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..domain_errors import DomainError, bad_request
from ..record_kinds import RECORD_KINDS
from .identifiers import (
    ATTACHMENT_SHA256_URL,
    FHIR_CONTENT_TYPE,
    HEALTHLEDGER_URN,
    SOURCE_URL,
    address_reference,
    is_fhir_content_type,
)
from .validation import RESOURCE_OF_KIND, check_record_resource

# resourceType -> recordType (the inverse of RESOURCE_OF_KIND).
KIND_OF_RESOURCE = {resource: kind for kind, resource in RESOURCE_OF_KIND.items()}
# Entries per Bundle: a patient's history from one provider; more is a mistake or an attack.
MAX_IMPORT_ENTRIES = 500


@dataclass(frozen=True)
class PreparedRecord:
    """One entry as the record to upload: these exact bytes, this type, this Content-Type."""

    index: int
    full_url: str | None
    resource_type: str
    record_type: str
    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class RefusedEntry:
    """An entry that is not imported, and why."""

    index: int
    full_url: str | None
    resource_type: str | None
    code: str
    message: str


def prepare_entries(body: bytes, patient: str, max_file_bytes: int) -> tuple[list[PreparedRecord], list[RefusedEntry]]:
    """The records `body` (a FHIR Bundle as JSON) becomes in `patient`'s vault (module docstring).

    400 `invalid_fhir` when `body` is not a Bundle at all; 400 `too_many_entries` past
    MAX_IMPORT_ENTRIES. CPU-bound: callers run it in a worker thread."""
    try:
        bundle = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request("invalid_fhir", "invalid FHIR: the Bundle is not UTF-8 JSON") from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise bad_request("invalid_fhir", "invalid FHIR at resourceType: a FHIR Bundle is expected", field="resourceType")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise bad_request("invalid_fhir", "invalid FHIR at entry: must be a list", field="entry")
    if len(entries) > MAX_IMPORT_ENTRIES:
        raise bad_request("too_many_entries", f"a Bundle to import may hold at most {MAX_IMPORT_ENTRIES} entries")
    observations = _observations_by_reference(entries)
    folded: set[int] = set()
    prepared: list[PreparedRecord] = []
    refused: list[RefusedEntry] = []
    for index, entry in enumerate(entries):
        full_url = entry.get("fullUrl") if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str) else None
        resource = entry.get("resource") if isinstance(entry, dict) else None
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        try:
            if not isinstance(resource, dict) or not isinstance(resource_type, str):
                raise bad_request("invalid_fhir", "the entry has no resource")
            if resource_type == "DiagnosticReport":
                resource = _with_results_contained(resource, observations, folded)
            if resource_type in KIND_OF_RESOURCE:
                prepared.append(_structured(index, full_url, resource, resource_type, patient))
            elif resource_type == "DocumentReference":
                prepared.append(_document(index, full_url, resource, patient, max_file_bytes))
            else:
                raise bad_request(
                    "unsupported_resource",
                    f"{resource_type} is not imported (MedicationRequest, DiagnosticReport, Invoice, "
                    "DocumentReference with its file inline are)",
                )
        except DomainError as exc:
            refused.append(RefusedEntry(index, full_url, resource_type if isinstance(resource_type, str) else None,
                                        exc.code, exc.message))
    # An Observation carried into its report is imported with it, not refused on its own.
    refused = [entry for entry in refused if not (entry.index in folded and entry.code == "unsupported_resource")]
    return prepared, refused


def _observations_by_reference(entries: list[Any]) -> dict[str, tuple[int, dict[str, Any]]]:
    """The Bundle's Observation entries by the references a report may use: their fullUrl and `Observation/<id>`."""
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
            continue
        if isinstance(entry.get("fullUrl"), str):
            found[entry["fullUrl"]] = (index, resource)
        if isinstance(resource.get("id"), str):
            found[f"Observation/{resource['id']}"] = (index, resource)
    return found


def _with_results_contained(
    report: dict[str, Any], observations: dict[str, tuple[int, dict[str, Any]]], folded: set[int]
) -> dict[str, Any]:
    """A report whose results are separate entries of the Bundle (as most servers send them) with those
    Observations copied into `contained` and each `result` pointing at its copy (`#result-<n>`): a
    HealthLedger record is one signed document (validation.py). References to nothing in the Bundle
    are left as they are, and the upload's check names them."""
    results = report.get("result") or []
    if not any(isinstance(r, dict) and r.get("reference") in observations for r in results):
        return report
    document = copy.deepcopy(report)
    contained = list(document.get("contained") or [])
    for position, result in enumerate(document["result"]):
        found = observations.get(result.get("reference")) if isinstance(result, dict) else None
        if found is None:
            continue
        index, observation = found
        local = {**copy.deepcopy(observation), "id": f"result-{position}"}
        local.pop("meta", None)
        contained.append(local)
        document["result"][position] = {**result, "reference": f"#result-{position}"}
        folded.add(index)
    document["contained"] = contained
    return document


def _structured(index: int, full_url: str | None, resource: dict[str, Any], resource_type: str, patient: str) -> PreparedRecord:
    document = _without_healthledger(resource)
    me = address_reference(patient)
    if resource_type == "MedicationRequest":
        original = document.get("requester")
        document["subject"], document["requester"] = me, me
    elif resource_type == "DiagnosticReport":
        original = (document.get("performer") or [None])[0]
        document["subject"], document["performer"] = me, [me]
        for item in document.get("contained") or []:
            if isinstance(item, dict) and item.get("resourceType") == "Observation":
                item["subject"] = me
                if item.get("performer"):
                    item["performer"] = [me]
    else:  # Invoice
        original = document.get("issuer")
        document["subject"], document["issuer"] = me, me
        if document.get("recipient") is not None:
            document["recipient"] = me
    document["extension"] = [*document.get("extension", []), _source(index, full_url, original)]
    content = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    record_type = KIND_OF_RESOURCE[resource_type]
    check_record_resource(content, record_type, patient, patient)
    return PreparedRecord(index, full_url, resource_type, record_type, _structured_name(document), FHIR_CONTENT_TYPE, content)


def _document(index: int, full_url: str | None, resource: dict[str, Any], patient: str, max_file_bytes: int) -> PreparedRecord:
    contents = resource.get("content") or []
    attachment = contents[0].get("attachment") if contents and isinstance(contents[0], dict) else None
    data = attachment.get("data") if isinstance(attachment, dict) else None
    if not isinstance(data, str) or not data:
        raise bad_request("attachment_not_inline", "only a DocumentReference with its file inline (attachment.data) is imported")
    assert isinstance(attachment, dict)
    if len(data) * 3 // 4 > max_file_bytes:
        raise bad_request("file_too_large", f"the attached file exceeds the {max_file_bytes} byte limit")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request("invalid_fhir", "content[0].attachment.data is not base64") from exc
    if not content:
        raise bad_request("empty_file", "the attached file is empty")
    sha1 = attachment.get("hash")
    if sha1 is not None and sha1 != base64.b64encode(hashlib.sha1(content, usedforsecurity=False).digest()).decode():
        raise bad_request("attachment_hash_mismatch", "content[0].attachment.hash (SHA-1) does not match the data")
    sha256 = hashlib.sha256(content).hexdigest()
    for extension in attachment.get("extension") or []:
        if (
            isinstance(extension, dict)
            and extension.get("url") == ATTACHMENT_SHA256_URL
            and str(extension.get("valueString", "")).lower() != sha256
        ):
            raise bad_request("attachment_hash_mismatch", "the attachment's SHA-256 extension does not match the data")
    content_type = str(attachment.get("contentType") or "application/octet-stream")
    record_type = _document_kind(resource)
    if is_fhir_content_type(content_type):
        check_record_resource(content, record_type, patient, patient)
    name = str(attachment.get("title") or resource.get("description") or "imported document")[:200]
    return PreparedRecord(index, full_url, "DocumentReference", record_type, name, content_type, content)


def _document_kind(resource: dict[str, Any]) -> str:
    texts = [(resource.get("type") or {}).get("text")]
    texts += [item.get("text") for item in resource.get("category") or [] if isinstance(item, dict)]
    for text in texts:
        if isinstance(text, str) and text.strip().lower() in RECORD_KINDS:
            return text.strip().lower()
    return "report"


def _without_healthledger(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy without the source server's `id`/`meta` and without HealthLedger's own identifiers and
    extensions (another vault's anchor, salt, replaces link and source note)."""
    document = copy.deepcopy(resource)
    document.pop("id", None)
    document.pop("meta", None)
    for field, key in (("identifier", "system"), ("extension", "url")):
        kept = [item for item in document.get(field) or [] if not str(item.get(key, "")).startswith(HEALTHLEDGER_URN)]
        if kept:
            document[field] = kept
        else:
            document.pop(field, None)
    return document


def _source(index: int, full_url: str | None, original_author: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "fullUrl", "valueUri": full_url or f"Bundle.entry[{index}]"}]
    if isinstance(original_author, dict) and original_author:
        parts.append({"url": "author", "valueReference": original_author})
    return {"url": SOURCE_URL, "extension": parts}


def _structured_name(document: dict[str, Any]) -> str:
    """A readable name for the patient's list: the medication, the report's code, or the kind."""
    for field in ("medicationCodeableConcept", "code"):
        text = (document.get(field) or {}).get("text") if isinstance(document.get(field), dict) else None
        if isinstance(text, str) and text.strip():
            return f"{text.strip()[:180]} (imported)"
    return f"{document['resourceType']} (imported)"
