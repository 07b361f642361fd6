"""FHIR export: every record a reader may open, as one FHIR R4 `Bundle` (services/fhir_export.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from ..services.fhir_export import export_bundle
from .deps import CallerDep, ServicesDep
from .schemas.errors import AUTH, CHAIN, DATABASE, IPFS, errors
from .schemas.fhir import FhirBundle

router = APIRouter(prefix="/api/fhir", tags=["fhir"])

FHIR_JSON = "application/fhir+json"


@router.get(
    "/bundle",
    response_model=FhirBundle,
    summary="Every record you can read, as one FHIR Bundle of type collection (patients; doctors with ?patient=)",
    description="A patient exports their own vault; a doctor names a patient and gets what that patient shares "
    "with them now. Needs the same X-Wallet-Signature as a view, runs the same checks per record, and logs "
    "each exported record as a view. Only fully verified records are exported: the others a reader may know "
    "of are counted by reason in X-Records-Skipped and the Bundle's meta extension.",
    responses={
        200: {
            "content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/FhirBundle"}}},
            "headers": {
                "X-Records-Exported": {"description": "How many entries the Bundle holds", "schema": {"type": "string"}},
                "X-Records-Skipped": {
                    "description": "Readable records left out, e.g. `pending=1, integrity_failed=0`; empty when none",
                    "schema": {"type": "string"},
                },
            },
        },
        **errors(
            AUTH,
            {
                400: (
                    "missing_patient",
                    "invalid_address",
                    "missing_wallet_signature",
                    "malformed_signature",
                    "invalid_wallet_signature",
                    "invalid_fhir",
                ),
                403: ("wrong_role", "not_allowed", "not_registered_doctor"),
                413: ("bundle_too_large",),
            },
            IPFS,
            CHAIN,
            DATABASE,
        ),
    },
)
async def fhir_bundle(
    caller: CallerDep,
    services: ServicesDep,
    patient: Annotated[
        str | None, Query(description="Doctors: the patient (0x address) whose shared records to export")
    ] = None,
    x_wallet_signature: Annotated[str | None, Header()] = None,
    history: Annotated[
        bool, Query(description="Also export versions an amendment replaced (default: current versions only)")
    ] = False,
) -> Response:
    export = await export_bundle(services, caller.address, caller.role, x_wallet_signature, patient, history=history)
    return Response(
        content=export.body,
        media_type=FHIR_JSON,
        headers={
            "X-Records-Exported": str(export.exported),
            "X-Records-Skipped": ", ".join(f"{reason}={count}" for reason, count in sorted(export.skipped.items())),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
