"""FHIR export: every record a reader may open, as one FHIR R4 `Bundle` (services/fhir_export.py);
import: a Bundle from another provider as the records the patient signs and uploads (services/fhir_import.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from ..services.fhir_export import export_bundle
from ..services.fhir_import import prepare_import
from .deps import CallerDep, PatientDep, ServicesDep
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, IPFS, ROLE, errors
from .schemas.fhir import FhirBundle, ImportPlan

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


@router.post(
    "/import/prepare",
    response_model=ImportPlan,
    summary="Import a FHIR Bundle from another provider, step one: the records it becomes (patients)",
    description="The body is the Bundle (application/fhir+json, at most the upload limit). Nothing is stored: each "
    "supported entry (MedicationRequest, DiagnosticReport, Invoice, DocumentReference with its file inline) comes "
    "back as the exact bytes of a record authored by you with its source noted. Step two: for each, draw a salt, "
    "sign AddRecord over SHA-256(salt ‖ bytes) (consecutive nonces may be signed at once) and upload it as usual.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/FhirBundle"}}},
        }
    },
    responses=errors(
        BODY, AUTH, ROLE,
        {400: ("invalid_fhir", "too_many_entries"), 413: ("file_too_large",), 503: ("worker_unavailable",)},
        validation=False,
    ),
)
async def fhir_import_prepare(caller: PatientDep, services: ServicesDep, request: Request) -> Response:
    plan = await prepare_import(services, caller.address, request.body)
    return Response(content=plan, media_type="application/json")
