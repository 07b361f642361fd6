"""Checking an uploaded FHIR document against the record it is to become.

Why the server only checks and never rewrites: the bytes are signed by the client (the record's
contentHash = SHA-256(salt ‖ bytes) is in its EIP-712 AddRecord / AddRecordAsDoctor signature and
then on chain). A server that filled in the subject or fixed a field would store bytes nobody
signed, and the anchor would not match. So a document is accepted exactly as sent, or refused with
the first thing to fix:

- 413 `fhir_too_large`: more than MAX_FHIR_BYTES (read into memory to validate, so it is bounded).
- 400 `invalid_fhir`: not UTF-8 JSON, no object, a duplicate member name (two parsers could read
  two different documents), or not a valid R4 resource: the message names the first invalid field
  as a path (`dosageInstruction[0].doseAndRate`), from pydantic's error location.
- 400 `fhir_kind_mismatch`: the resourceType does not fit the recordType (RESOURCE_OF_KIND).
- 400 `fhir_subject_mismatch` / `fhir_author_mismatch`: the subject (or an Invoice's recipient) is
  not the patient whose vault receives the record, or the requester / performer / issuer is not the
  uploader (the doctor writing under a grant, or the patient writing their own), each named by an
  `urn:ethereum:address` identifier (identifiers.py). Never free-typed: a record cannot claim
  another patient or another doctor.

Synchronous and CPU-bound (a 1 MiB document takes tens of ms): callers run it in a worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from ..domain_errors import TooLarge, bad_request
from .identifiers import ADDRESS_SYSTEM

# 1 MiB: a prescription, a lab report with its observations or an invoice is a few KiB; a document
# near this size is a mistake (or an attachment that belongs in a file record).
MAX_FHIR_BYTES = 1024 * 1024

# recordType -> the one resource type a structured record of that kind is.
RESOURCE_OF_KIND: dict[str, str] = {
    "prescription": "MedicationRequest",
    "report": "DiagnosticReport",
    "bill": "Invoice",
}


@dataclass(frozen=True)
class CheckedResource:
    """A document that passed every check: its type and the validated R4B model."""

    resource_type: str
    resource: Resource
    # The JSON object as sent (what was signed), for checks on members the model does not interpret.
    document: dict[str, Any]


def check_record_resource(content: bytes, record_type: str, patient: str, author: str) -> CheckedResource:
    """`content` as the FHIR resource of a `record_type` record in `patient`'s vault written by
    `author`, or the domain error naming what to fix (module docstring)."""
    document = _json_object(content)
    resource_type = document.get("resourceType")
    expected = RESOURCE_OF_KIND.get(record_type)
    if not isinstance(resource_type, str) or not resource_type:
        raise invalid_fhir("resourceType", "is required (e.g. MedicationRequest)")
    if expected is None or resource_type != expected:
        kinds = ", ".join(f"{kind} -> {name}" for kind, name in RESOURCE_OF_KIND.items())
        raise bad_request(
            "fhir_kind_mismatch",
            f"a {record_type} record must be a FHIR {expected or 'known'} resource, not {resource_type} ({kinds})",
        )
    resource = _validated(document, resource_type)
    _check_people(document, resource_type, patient, author)
    return CheckedResource(resource_type, resource, document)


def parse_stored_resource(content: bytes) -> dict[str, Any]:
    """A stored structured record's bytes as the JSON object they are, once they validate as their R4B
    model (they did at upload; checked again so a record stored under older rules fails loudly).

    The object as sent, not the model's dump: an export carries the author's values unchanged
    (a decimal's digits, the members' order)."""
    document = _json_object(content)
    resource_type = document.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in RESOURCE_OF_KIND.values():
        raise invalid_fhir("resourceType", f"{resource_type!r} is not a structured record type")
    _validated(document, resource_type)
    return document


def invalid_fhir(path: str, problem: str) -> Exception:
    """400 `invalid_fhir`, naming the field."""
    return bad_request("invalid_fhir", f"invalid FHIR at {path}: {problem}", field=path)


def _json_object(content: bytes) -> dict[str, Any]:
    if len(content) > MAX_FHIR_BYTES:
        raise TooLarge("fhir_too_large", f"a FHIR record may be at most {MAX_FHIR_BYTES} bytes of JSON")
    try:
        document = json.loads(content.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as exc:
        raise bad_request("invalid_fhir", "invalid FHIR: the document is not UTF-8 text") from exc
    except _DuplicateMember as exc:
        raise invalid_fhir(str(exc), "appears twice in one object") from exc
    except ValueError as exc:
        raise bad_request("invalid_fhir", f"invalid FHIR: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise bad_request("invalid_fhir", "invalid FHIR: the document must be one JSON object (a resource)")
    return document


class _DuplicateMember(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateMember(key)
        seen[key] = value
    return seen


def _validated(document: dict[str, Any], resource_type: str) -> Resource:
    model = get_fhir_model_class(resource_type)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise invalid_fhir(_error_path(first), _error_text(first)) from exc


def _error_path(error: Any) -> str:
    """pydantic's error location as a FHIR-style path: ('dosageInstruction', 0, 'doseAndRate') ->
    `dosageInstruction[0].doseAndRate`. A choice type's error has no location: it is named from the
    allowed fields (`medication[x]`)."""
    path = ""
    for part in error.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if path:
        return path
    allowed = _choice_fields(str(error.get("msg", "")))
    if allowed:
        stem = allowed[0]
        while stem and not all(name.startswith(stem) for name in allowed):
            stem = stem[:-1]
        return f"{stem}[x]" if stem else "|".join(allowed)
    return "(resource)"


def _choice_fields(message: str) -> list[str]:
    start, end = message.find("["), message.rfind("]")
    if start < 0 or end < start:
        return []
    return [name.strip(" '\"") for name in message[start + 1 : end].split(",") if name.strip(" '\"")]


def _error_text(error: Any) -> str:
    if error.get("type") in {"missing", "model_field_validation.missing"}:
        return "is required"
    if error.get("type") == "extra_forbidden":
        return "is not a field of this resource"
    if not error.get("loc") and _choice_fields(str(error.get("msg", ""))):
        return "one of " + ", ".join(_choice_fields(str(error.get("msg", "")))) + " is required"
    text = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return text[:200]


# --- subject and author -------------------------------------------------------------------------


def _check_people(document: dict[str, Any], resource_type: str, patient: str, author: str) -> None:
    if resource_type == "MedicationRequest":
        _require_person(document, "subject", patient, "fhir_subject_mismatch", "the patient")
        _require_person(document, "requester", author, "fhir_author_mismatch", "the uploader")
    elif resource_type == "DiagnosticReport":
        _require_person(document, "subject", patient, "fhir_subject_mismatch", "the patient")
        _require_people(document, "performer", author, "fhir_author_mismatch", "the uploader")
        _check_contained_observations(document, patient, author)
    elif resource_type == "Invoice":
        if document.get("subject") is None and document.get("recipient") is None:
            raise _mismatch("fhir_subject_mismatch", "subject", "the patient")
        for field in ("subject", "recipient"):
            if document.get(field) is not None:
                _require_person(document, field, patient, "fhir_subject_mismatch", "the patient")
        _require_person(document, "issuer", author, "fhir_author_mismatch", "the uploader")
        _check_contained_subjects(document, patient)


def _check_contained_observations(document: dict[str, Any], patient: str, author: str) -> None:
    """A report's results are Observations contained in it (one signed document, no dangling
    references to a server HealthLedger does not run): every `result` is `#id` of a contained
    Observation; each contained Observation's subject and performer, when present, are the
    patient and the uploader."""
    contained = document.get("contained") or []
    ids: set[str] = set()
    for index, item in enumerate(contained):
        path = f"contained[{index}]"
        if item.get("resourceType") != "Observation":
            raise invalid_fhir(path, "a report may contain only Observations (its results)")
        ids.add(str(item.get("id")))
        if item.get("subject") is not None:
            _require_person(item, "subject", patient, "fhir_subject_mismatch", "the patient", prefix=path)
        if item.get("performer"):
            _require_people(item, "performer", author, "fhir_author_mismatch", "the uploader", prefix=path)
    for index, result in enumerate(document.get("result") or []):
        reference = result.get("reference") if isinstance(result, dict) else None
        if not isinstance(reference, str) or not reference.startswith("#") or reference[1:] not in ids:
            raise invalid_fhir(f"result[{index}].reference", "must be #id of an Observation in `contained`")


def _check_contained_subjects(document: dict[str, Any], patient: str) -> None:
    """An invoice may contain the resources it bills (a stay: its room ChargeItem and inpatient
    Encounter, FHIR R4's way of giving an Invoice a period); any of them that names a subject names
    the vault's patient, so a contained resource cannot claim another patient."""
    for index, item in enumerate(document.get("contained") or []):
        if isinstance(item, dict) and item.get("subject") is not None:
            path = f"contained[{index}]"
            _require_person(item, "subject", patient, "fhir_subject_mismatch", "the patient", prefix=path)


def _require_people(
    document: dict[str, Any], field: str, address: str, code: str, who: str, prefix: str = ""
) -> None:
    people = document.get(field) or []
    path = f"{prefix}.{field}" if prefix else field
    if not people:
        raise _mismatch(code, path, who)
    for index, person in enumerate(people):
        if not _names(person, address):
            raise _mismatch(code, f"{path}[{index}]", who)


def _require_person(
    document: dict[str, Any], field: str, address: str, code: str, who: str, prefix: str = ""
) -> None:
    if not _names(document.get(field), address):
        raise _mismatch(code, f"{prefix}.{field}" if prefix else field, who)


def _names(reference: Any, address: str) -> bool:
    """Whether `reference` names exactly `address`: by identifier only (a literal `reference` URL
    could point anywhere, so it is not allowed beside it)."""
    if not isinstance(reference, dict) or reference.get("reference") is not None:
        return False
    identifier = reference.get("identifier")
    if not isinstance(identifier, dict) or identifier.get("system") != ADDRESS_SYSTEM:
        return False
    value = identifier.get("value")
    return isinstance(value, str) and value.lower() == address.lower()


def _mismatch(code: str, path: str, who: str) -> Exception:
    return bad_request(
        code,
        f"{path} must be {who}, as a reference whose identifier is "
        f'{{"system": "{ADDRESS_SYSTEM}", "value": "<their 0x address>"}}',
        field=path,
    )
