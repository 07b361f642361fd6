"""Doctor access workflow: request, respond (approve chosen records for a time, or deny), revoke,
extend; and write grants (a patient lets a doctor add records for a time)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool

from ..services.access import AccessService, grant_duration
from ..services.authorized import authorized_from_chain, authorized_from_database, grants_of_patient
from ..services.write_access import WriteAccessService
from .deps import ClientIpDep, DoctorDep, PatientDep, ServicesDep
from .schemas.access import (
    AccessRequestOut,
    ChainAuthorized,
    DatabaseAuthorized,
    DoctorRequestList,
    DoctorWriteGrants,
    ExtensionApproved,
    ExtensionRequested,
    PatientGrants,
    PatientWriteGrants,
    PendingRequestList,
    RespondResult,
    RevokeResult,
    WriteGranted,
    WriteRevoked,
)
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, RATE_LIMITED, RELAYED, ROLE, SIGNED, WRITE, errors

router = APIRouter(prefix="/api/access-requests", tags=["access"])


class SignedBody(BaseModel):
    signature: str = Field(description="EIP-712 signature of the payload from /api/signing/typed-data")
    nonce: int = Field(ge=0, description="The nonce that was signed (the payload's message.nonce)")
    deadline: int = Field(ge=0, description="The deadline that was signed (the payload's message.deadline)")


class DoctorRequestBody(SignedBody):
    patientAddress: str
    requestReason: str = Field(max_length=2000)
    wantsWrite: StrictBool = Field(
        default=False,
        description="Also ask to add records (prescriptions, bills, reports) to this patient's file. Stored with "
        "the request like its reason (not signed, not on chain); the patient may then grant write access "
        "(approveWrite) while answering",
    )


class RespondBody(BaseModel):
    requestId: str
    action: str = Field(description="approve | deny")
    selectedRecords: list[int] = Field(default_factory=list)
    durationSeconds: int | None = Field(
        default=None, description="How long the grant lasts, in seconds (approve only; the signed `duration`)"
    )
    walletSignature: str | None = Field(
        default=None,
        description="Your key-derivation signature (approve only): opens your copies of the chosen records' "
        "data keys so they can be sealed to the doctor's registered key; used for this request only, never stored",
    )
    approvalSignature: str = Field(
        description="EIP-712 signature of the ApproveRecords payload (approve: action approveRecords with this "
        "doctor, durationSeconds and selectedRecords as recordIds) or of the DenyAccess payload (deny)"
    )
    nonce: int = Field(ge=0, description="The nonce that was signed (the payload's message.nonce)")
    deadline: int = Field(ge=0, description="The deadline that was signed (the payload's message.deadline)")


class RevokeBody(SignedBody):
    doctorAddress: str
    recordIds: list[int] | None = None


class ExtendBody(SignedBody):
    patientAddress: str
    extraSeconds: int = Field(gt=0, description="Seconds to add to the live grant (the signed `extra`)")


class ApproveExtensionBody(SignedBody):
    doctorAddress: str
    generation: int | None = Field(
        default=None, ge=0, description="The grant generation that was signed (the payload's message.generation); "
        "optional: a signature for an earlier grant is refused either way (409 grant_changed)"
    )


class WriteGrantBody(SignedBody):
    doctorAddress: str
    durationDays: int | None = Field(
        default=None, description="How long the doctor may add records, in whole days (1 to 3650); the signed "
        "`duration` is durationDays * 86400 seconds. Send this or durationSeconds"
    )
    durationSeconds: int | None = Field(
        default=None, description="How long the doctor may add records, in seconds (the signed `duration`)"
    )


class WriteRevokeBody(SignedBody):
    doctorAddress: str


# Every signed action: the caller, the signature checked against the action, then the relayed transaction.
_SIGNED_ACTION = (BODY, AUTH, ROLE, SIGNED, RELAYED, DATABASE, WRITE)
_READ = (AUTH, ROLE, CHAIN, DATABASE)


@router.post(
    "/doctor/request",
    status_code=201,
    response_model=AccessRequestOut,
    summary="Ask a patient for access (registered doctors)",
    responses=errors(
        *_SIGNED_ACTION, {400: ("invalid_address", "invalid_reason"), 403: ("not_registered_doctor",)}, RATE_LIMITED
    ),
)
async def doctor_request(
    body: DoctorRequestBody, caller: DoctorDep, services: ServicesDep, ip: ClientIpDep
) -> dict[str, Any]:
    request = await AccessService(services).request_access(
        caller.address, body.patientAddress, body.requestReason, body.signature, body.nonce, body.deadline, ip,
        wants_write=body.wantsWrite,
    )
    return request.public()


@router.get(
    "/doctor/requests",
    response_model=DoctorRequestList,
    summary="Your requests and their state (doctors)",
    responses=errors(*_READ, validation=False),
)
async def doctor_requests(caller: DoctorDep, services: ServicesDep) -> dict[str, Any]:
    requests = await AccessService(services).requests_of_doctor(caller.address)
    return {"requests": [request.public() for request in requests]}


@router.post(
    "/doctor/extend",
    response_model=ExtensionRequested,
    summary="Ask for more time on a live grant (doctors)",
    responses=errors(
        *_SIGNED_ACTION, {400: ("invalid_address", "invalid_duration"), 403: ("not_registered_doctor",)}
    ),
)
async def doctor_extend(body: ExtendBody, caller: DoctorDep, services: ServicesDep) -> dict[str, Any]:
    return await AccessService(services).request_extension(
        caller.address, body.patientAddress, body.extraSeconds, body.signature, body.nonce, body.deadline
    )


@router.get(
    "/doctor/authorized-records",
    response_model=DatabaseAuthorized,
    summary="Records shared with you, as the database knows them",
    responses=errors(*_READ, validation=False),
)
async def authorized_records(caller: DoctorDep, services: ServicesDep) -> dict[str, Any]:
    return await authorized_from_database(services, caller.address)


@router.get(
    "/doctor/blockchain-authorized-records",
    response_model=ChainAuthorized,
    summary="Records shared with you, read from the chain",
    responses=errors(*_READ, validation=False),
)
async def blockchain_authorized_records(caller: DoctorDep, services: ServicesDep) -> dict[str, Any]:
    return await authorized_from_chain(services, caller.address)


@router.get(
    "/patient/requests",
    response_model=PendingRequestList,
    summary="Pending requests for your records (patients)",
    responses=errors(*_READ, validation=False),
)
async def patient_requests(caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return {"requests": await AccessService(services).pending_requests(caller.address)}


@router.get(
    "/patient/grants",
    response_model=PatientGrants,
    summary="Whom you share records with now: records, expiry, extension asked (patients)",
    responses=errors(*_READ, validation=False),
)
async def patient_grants(caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await grants_of_patient(services, caller.address)


@router.post(
    "/patient/respond",
    response_model=RespondResult,
    summary="Approve chosen records for a time, or deny (patients)",
    responses=errors(
        *_SIGNED_ACTION,
        {
            400: (
                "invalid_action",
                "invalid_duration",
                "invalid_records",
                "unknown_record",
                "missing_wallet_signature",
                "invalid_wallet_signature",
            ),
            404: ("request_not_found",),
            409: (
                "request_closed",
                "integrity_mismatch",
                "doctor_not_registered",
                "request_stale",
                "doctor_key_missing",
                "key_binding_invalid",
            ),
        },
    ),
)
async def patient_respond(body: RespondBody, caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await AccessService(services).respond(
        caller.address,
        body.requestId,
        body.action,
        body.selectedRecords,
        body.durationSeconds,
        body.walletSignature,
        body.approvalSignature,
        body.nonce,
        body.deadline,
    )


@router.post(
    "/patient/revoke",
    response_model=RevokeResult,
    summary="Withdraw a doctor's access to some or all records (patients)",
    responses=errors(*_SIGNED_ACTION, {400: ("invalid_address", "invalid_records")}),
)
async def patient_revoke(body: RevokeBody, caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await AccessService(services).revoke(
        caller.address, body.doctorAddress, body.recordIds, body.signature, body.nonce, body.deadline
    )


@router.post(
    "/patient/approve-extension",
    response_model=ExtensionApproved,
    summary="Accept a doctor's extension request (patients)",
    responses=errors(*_SIGNED_ACTION, {400: ("invalid_address",), 409: ("no_pending_extension", "grant_changed")}),
)
async def patient_approve_extension(
    body: ApproveExtensionBody, caller: PatientDep, services: ServicesDep
) -> dict[str, Any]:
    return await AccessService(services).approve_extension(
        caller.address, body.doctorAddress, body.signature, body.nonce, body.deadline, body.generation
    )


@router.post(
    "/patient/write-grant",
    response_model=WriteGranted,
    summary="Let a registered doctor add records to your vault for a time (patients)",
    responses=errors(
        *_SIGNED_ACTION,
        {400: ("invalid_address", "invalid_duration"), 409: ("doctor_not_registered",)},
        RATE_LIMITED,
    ),
)
async def patient_write_grant(
    body: WriteGrantBody, caller: PatientDep, services: ServicesDep, ip: ClientIpDep
) -> dict[str, Any]:
    duration = grant_duration(body.durationSeconds, body.durationDays)
    return await WriteAccessService(services).grant(
        caller.address, body.doctorAddress, duration, body.signature, body.nonce, body.deadline, ip
    )


@router.post(
    "/patient/write-revoke",
    response_model=WriteRevoked,
    summary="End a doctor's write grant now (patients)",
    responses=errors(*_SIGNED_ACTION, {400: ("invalid_address",), 409: ("no_write_grant",)}),
)
async def patient_write_revoke(body: WriteRevokeBody, caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await WriteAccessService(services).revoke(
        caller.address, body.doctorAddress, body.signature, body.nonce, body.deadline
    )


@router.get(
    "/patient/write-grants",
    response_model=PatientWriteGrants,
    summary="Doctors who may add records to your vault now (patients)",
    responses=errors(*_READ, validation=False),
)
async def patient_write_grants(caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await WriteAccessService(services).grants_of_patient(caller.address)


@router.get(
    "/doctor/write-grants",
    response_model=DoctorWriteGrants,
    summary="Patients whose vault you may add records to now (doctors)",
    responses=errors(*_READ, validation=False),
)
async def doctor_write_grants(caller: DoctorDep, services: ServicesDep) -> dict[str, Any]:
    return await WriteAccessService(services).grants_of_doctor(caller.address)
