"""Patients' records: upload, list, view (decrypted, after double verification), verify, and the
verification bundle that lets anyone check a record against the chain alone."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse

from ..services import reading, record_history, record_listing
from ..services.bundle import open_bundle
from ..services.upload import UploadPipeline, UploadRequest
from .deps import CallerDep, ClientIpDep, PatientDep, ServicesDep
from .record_uploads import (
    AMENDMENT_ERRORS,
    FHIR_UPLOAD_400,
    PatientUploadFields,
    SignedRecordForm,
    multipart_body,
    signed_record_form,
    upload_response,
)
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, IPFS, RATE_LIMITED, RELAYED, ROLE, WRITE, errors
from .schemas.records import PatientRecordList, RecordHistory, RecordOut, VerificationBundle, VerifyResult

router = APIRouter(prefix="/api/medical-records", tags=["records"])

# Types the browser may show inline (the app previews them); anything else is a download, so a
# patient-chosen `text/html` or `image/svg+xml` can never run in the service's origin.
PREVIEW_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


# Reading one record: the CID, the record, and whether this caller may read it.
_READ_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_cid",),
    403: ("not_allowed", "not_registered_doctor", "access_denied"),
    404: ("record_not_found",),
}
# Unlocking its data key: the patient's key-derivation signature, or the doctor's grant copy.
_KEY_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("missing_wallet_signature", "malformed_signature", "invalid_wallet_signature"),
    403: ("not_allowed",),
}
# Checks that stop a view (a JSON verify reports them in its answer instead).
_VIEW_CONFLICTS: dict[int, tuple[str, ...]] = {409: ("integrity_mismatch", "record_pending", "record_unanchored")}


@router.post(
    "/upload",
    status_code=201,
    response_model=RecordOut,
    summary="Encrypt, pin and anchor a file (patients)",
    description="201: anchored on chain; 202: pinned and sent, not yet mined (`state` is `pending`); "
    "200: the same upload sent again after its answer was lost (its record, not a new one). "
    "Send the file as the form's last part: it is encrypted and stored while it arrives.",
    openapi_extra=multipart_body(PatientUploadFields),
    responses={
        200: {"model": RecordOut, "description": "The same upload, sent again: its record"},
        202: {"model": RecordOut, "description": "Pinned and sent, not yet mined"},
        **errors(
            BODY,
            AUTH,
            ROLE,
            {
                400: (
                    "invalid_name",
                    "invalid_content_type",
                    "invalid_record_type",
                    "invalid_salt",
                    "malformed_multipart",
                    "upload_incomplete",
                    "field_after_file",
                    "field_too_large",
                    "too_many_parts",
                    "invalid_duplicate_tag",
                    "empty_file",
                    "malformed_signature",
                    "invalid_wallet_signature",
                    "invalid_record_signature",
                    *FHIR_UPLOAD_400,
                ),
                409: ("upload_in_progress", "stale_nonce", "nonce_too_far_ahead", "nonce_wait_expired", "transaction_failed",
                      "record_conflict", "record_gone"),
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
async def upload(
    caller: PatientDep,
    services: ServicesDep,
    ip: ClientIpDep,
    form: Annotated[SignedRecordForm[PatientUploadFields], Depends(signed_record_form(PatientUploadFields))],
) -> Any:
    outcome = await UploadPipeline(services).run(
        UploadRequest(
            patient=caller.address,
            name=form.name,
            content_type=form.content_type,
            file=form.file,
            record_type=form.record_type,
            wallet_signature=form.fields.walletSignature,
            record_signature=form.record_signature,
            nonce=form.nonce,
            deadline=form.deadline,
            salt=form.salt,
            client_ip=ip,
            duplicate_tag=form.fields.duplicateTag,
            replaces=form.replaces,
        )
    )
    return upload_response(outcome.record.public(), outcome)


@router.get(
    "/patient-records",
    response_model=PatientRecordList,
    summary="Your records (patients)",
    responses=errors(AUTH, ROLE, DATABASE, validation=False),
)
async def patient_records(caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return {"records": await record_listing.records_of(services, caller.address)}


@router.get(
    "/view/{cid}",
    summary="The decrypted file, after checking it against MongoDB and the chain",
    description="The body is the file itself, with the Content-Type it was uploaded with.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The decrypted file, every check passed",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                name: {"description": description, "schema": {"type": "string"}}
                for name, description in (
                    ("X-Integrity-Verified", "`true`: MongoDB, the chain and IPFS agree"),
                    ("X-Blockchain-Hash-Verified", "`true`: the plaintext hashes to the chain's hash"),
                    ("X-Content-SHA256", "0x-hex content hash: SHA-256(salt ‖ file), the on-chain anchor"),
                    ("X-Content-Salt", "0x-hex salt of the content hash, to re-check it (absent: a record from before salts)"),
                    ("Content-Disposition", "`inline` for previewable types, else `attachment`"),
                )
            },
        },
        **errors(AUTH, _READ_ERRORS, _KEY_ERRORS, _VIEW_CONFLICTS, IPFS, CHAIN, DATABASE),
    },
)
async def view(
    cid: str,
    caller: CallerDep,
    services: ServicesDep,
    x_wallet_signature: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    record, salt, chunks = await reading.open_verified(services, caller.address, caller.role, cid, x_wallet_signature)
    salt_header = {"X-Content-Salt": reading.salt_text(salt)} if salt is not None else {}
    return StreamingResponse(
        chunks,
        media_type=record.content_type,
        headers={
            "X-Integrity-Verified": "true",
            "X-Blockchain-Hash-Verified": "true",
            "X-Content-SHA256": record.content_hash,
            **salt_header,
            "Content-Disposition": content_disposition(record.content_type, record.name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def content_disposition(content_type: str, name: str) -> str:
    """`inline` only for the preview types, else `attachment`; the name RFC 5987-encoded."""
    kind = content_type.split(";", 1)[0].strip().lower()
    disposition = "inline" if kind in PREVIEW_TYPES else "attachment"
    return f"{disposition}; filename*=UTF-8''{quote(name)}"


@router.get(
    "/verify/{cid}",
    response_model=VerifyResult,
    summary="Integrity checks as JSON (with X-Wallet-Signature, also re-hash the file)",
    description="A failed check is an answer (`verified: false`), not an error.",
    responses=errors(AUTH, _READ_ERRORS, _KEY_ERRORS, IPFS, CHAIN, DATABASE),
)
async def verify(
    cid: str,
    caller: CallerDep,
    services: ServicesDep,
    x_wallet_signature: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    return await reading.verify(services, caller.address, caller.role, cid, x_wallet_signature)


@router.get(
    "/bundle/{cid}",
    response_model=VerificationBundle,
    summary="A verification bundle for one of your records, as a download (patients)",
    description="The file, its salt, the vault, the record id and the transaction, as one JSON document: "
    "`healthledger verify-bundle BUNDLE --rpc-url URL` checks it against the chain with no server. "
    "Needs the same X-Wallet-Signature as a view, and passes the same checks first (it is logged as a view). "
    "Whoever holds the bundle can read the file.",
    responses={
        200: {"headers": {"Content-Disposition": {"description": "`attachment`", "schema": {"type": "string"}}}},
        **errors(AUTH, ROLE, _READ_ERRORS, _KEY_ERRORS, _VIEW_CONFLICTS, IPFS, CHAIN, DATABASE),
    },
)
async def bundle(
    cid: str,
    caller: PatientDep,
    services: ServicesDep,
    x_wallet_signature: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    record, body = await open_bundle(services, caller.address, cid, x_wallet_signature)
    return StreamingResponse(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(record.name + '.bundle.json')}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/{cid}/history",
    response_model=RecordHistory,
    summary="A record's versions (amendments), newest first, each with its anchor and state",
    description="The patient; a doctor who may read the record (they see the versions they may read). "
    "Metadata only: open a version with /view. See the README's FHIR records: Amendments.",
    responses=errors(AUTH, _READ_ERRORS, CHAIN, DATABASE),
)
async def history_of_record(cid: str, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await record_history.history_for(services, caller.address, caller.role, cid)
