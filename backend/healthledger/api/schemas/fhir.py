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
