"""Doctor-authored records (keys v2): a doctor with a live write grant adds a record to a patient's
vault, encrypted to the patient's and the doctor's public keys, and lists what they wrote."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ..services import record_listing
from ..services.doctor_upload import DoctorUploadPipeline, DoctorUploadRequest
from .deps import ClientIpDep, DoctorDep, ServicesDep
from .record_uploads import (
    AMENDMENT_ERRORS,
    FHIR_UPLOAD_400,
    DoctorUploadFields,
    SignedRecordForm,
    multipart_body,
    signed_record_form,
    upload_response,
)
from .schemas.errors import AUTH, BODY, DATABASE, IPFS, RATE_LIMITED, RELAYED, ROLE, WRITE, errors
from .schemas.records import AuthoredRecordList, RecordOut

router = APIRouter(prefix="/api/medical-records/doctor", tags=["records"])


@router.post(
    "/upload",
    status_code=201,
    response_model=RecordOut,
    summary="Encrypt, pin and anchor a file for a patient who granted you write access (doctors)",
    description="201: anchored on chain with you as its author; 202: pinned and sent, not yet mined; "
    "200: the same upload sent again after its answer was lost. Encrypted to the patient's and your "
    "registered public keys: no key signature is needed to upload. Send the file as the form's last part.",
    openapi_extra=multipart_body(DoctorUploadFields),
    responses={
        200: {"model": RecordOut, "description": "The same upload, sent again: its record"},
        202: {"model": RecordOut, "description": "Pinned and sent, not yet mined"},
        **errors(
            BODY,
            AUTH,
            ROLE,
            {
                400: (
                    "invalid_address",
                    "invalid_name",
                    "invalid_content_type",
                    "invalid_record_type",
                    "invalid_salt",
                    "malformed_multipart",
                    "upload_incomplete",
                    "field_after_file",
                    "field_too_large",
                    "too_many_parts",
                    "empty_file",
                    "malformed_signature",
                    "invalid_record_signature",
                    *FHIR_UPLOAD_400,
                ),
                403: ("not_registered_doctor", "no_write_grant"),
                409: (
                    "patient_key_missing",
                    "doctor_key_missing",
                    "key_binding_invalid",
                    "upload_in_progress",
                    "stale_nonce",
                    "nonce_too_far_ahead",
                    "nonce_wait_expired",
                    "transaction_failed",
                    "record_conflict",
                    "record_gone",
                ),
                408: ("upload_stalled",),
                413: ("file_too_large", "fhir_too_large"),
            },
            AMENDMENT_ERRORS,
            RATE_LIMITED,
            IPFS,
            RELAYED,
            DATABASE,
            WRITE,
        ),
    },
)
async def doctor_upload(
    caller: DoctorDep,
    services: ServicesDep,
    ip: ClientIpDep,
    form: Annotated[SignedRecordForm[DoctorUploadFields], Depends(signed_record_form(DoctorUploadFields))],
) -> Any:
    outcome = await DoctorUploadPipeline(services).run_as_doctor(
        DoctorUploadRequest(
            doctor=caller.address,
            patient=form.fields.patientAddress,
            name=form.name,
            content_type=form.content_type,
            file=form.file,
            record_type=form.record_type,
            record_signature=form.record_signature,
            nonce=form.nonce,
            deadline=form.deadline,
            salt=form.salt,
            client_ip=ip,
            replaces=form.replaces,
        )
    )
    (body,) = await record_listing.with_authors(services, [outcome.record])
    return upload_response(body, outcome)


@router.get(
    "/authored",
    response_model=AuthoredRecordList,
    summary="The records you added to patients' vaults (doctors), newest first",
    responses=errors(AUTH, ROLE, DATABASE, validation=False),
)
async def authored_records(caller: DoctorDep, services: ServicesDep) -> dict[str, Any]:
    return {"records": await record_listing.authored_by(services, caller.address)}
