"""Shape of GET /api/fhir/bundle: a FHIR R4 `Bundle` (validated with the R4B models before it is sent).

Loose on purpose: the entries are FHIR resources whose own schema is FHIR's, not this API's; the
fields HealthLedger fixes are described here, the rest is the FHIR specification's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FhirBundle(BaseModel):
    """A FHIR `Bundle` of type `collection`: one entry per exported record."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["Bundle"]
    type: Literal["collection"]
    timestamp: str = Field(description="When the export was made (FHIR instant)")
    meta: dict[str, Any] | None = Field(
        default=None,
        description="Present when records were left out: extension `urn:healthledger:fhir:skipped-records` "
        "with one sub-extension per reason (`pending`, `unanchored`, `integrity_failed`), valueUnsignedInt",
    )
    entry: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each `{fullUrl: urn:healthledger:record:<cid>, resource}`: a structured record as itself "
        "(MedicationRequest, DiagnosticReport, Invoice), a file as a DocumentReference with the file inline; "
        "every resource carries identifiers `urn:healthledger:anchor` (eip155:<chainId>:<vault>/<recordId>), "
        "`urn:healthledger:anchor-tx`, `urn:healthledger:content-hash`, `urn:healthledger:cid`",
    )


class ImportRecord(BaseModel):
    """One Bundle entry as the record the patient uploads: exactly these bytes."""

    index: int = Field(description="The entry's position in the Bundle")
    fullUrl: str | None = Field(description="The entry's fullUrl, if it had one (noted in the record's source extension)")
    resourceType: str
    recordType: Literal["prescription", "bill", "report"] = Field(description="The upload's recordType")
    name: str = Field(description="A name for the upload's `name` field")
    contentType: str = Field(description="The Content-Type of the upload's file part (application/fhir+json for a resource)")
    size: int
    sha256: str = Field(description="0x-hex plain SHA-256 of the bytes (a check; the signed contentHash is salted)")
    content: str = Field(
        description="Base64 of the exact bytes to upload: sign AddRecord over SHA-256(salt ‖ these bytes) with a "
        "fresh salt, then POST /api/medical-records/upload"
    )


class ImportRefusal(BaseModel):
    """An entry that is not imported, and why."""

    index: int
    fullUrl: str | None
    resourceType: str | None
    code: str = Field(
        description="e.g. unsupported_resource, attachment_not_inline, attachment_hash_mismatch, invalid_fhir, "
        "fhir_kind_mismatch, file_too_large, empty_file"
    )
    message: str


class ImportPlan(BaseModel):
    """What a Bundle becomes in your vault: the records to sign and upload, and the entries left out."""

    records: list[ImportRecord]
    refused: list[ImportRefusal]
