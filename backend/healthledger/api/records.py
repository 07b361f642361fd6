"""Patients' records: upload, list, view (decrypted, after double verification), verify."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from ..errors import bad_request
from ..services import reading
from ..services.upload import UploadPipeline, UploadRequest
from ..validation import record_name
from .deps import CallerDep, ClientIpDep, PatientDep, ServicesDep

router = APIRouter(prefix="/api/medical-records", tags=["records"])

# The file's type is sent back as the Content-Type of /view: it must be something a response header
# can carry (a control character made the server drop the connection instead of answering).
MAX_CONTENT_TYPE_LENGTH = 255
# Types the browser may show inline (the app previews them); anything else is a download, so a
# patient-chosen `text/html` or `image/svg+xml` can never run in the service's origin.
PREVIEW_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


@router.post("/upload", status_code=201, summary="Encrypt, pin and anchor a file (patients)")
async def upload(
    caller: PatientDep,
    services: ServicesDep,
    ip: ClientIpDep,
    file: Annotated[UploadFile, File(description="The file to store")],
    recordType: Annotated[str, Form(description="prescription | bill | report")],
    name: Annotated[str, Form(description="A name for the record, shown only to you and those you share it with")],
    walletSignature: Annotated[str, Form(description="Your personal_sign of the key-derivation message")],
    recordSignature: Annotated[str, Form(description="Your EIP-712 AddRecord signature for this file")],
    nonce: Annotated[int, Form(ge=0)],
    deadline: Annotated[int, Form(ge=0)],
) -> Any:
    clean_name = record_name(name)
    content_type = (file.content_type or "").strip() or "application/octet-stream"
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH or not all(" " <= char <= "~" for char in content_type):
        raise bad_request(
            "invalid_content_type",
            f"the file's Content-Type must be printable ASCII of at most {MAX_CONTENT_TYPE_LENGTH} characters, "
            "e.g. application/pdf",
        )
    outcome = await UploadPipeline(services).run(
        UploadRequest(
            patient=caller.address,
            name=clean_name,
            content_type=content_type,
            file=file,
            record_type=recordType.strip().lower(),
            wallet_signature=walletSignature,
            record_signature=recordSignature,
            nonce=nonce,
            deadline=deadline,
            client_ip=ip,
        )
    )
    body = outcome.record.public()
    if not outcome.mined:
        # Pinned and sent, not yet mined: the record stays `pending` until the reconciler confirms it.
        return JSONResponse(body, status_code=202)
    if outcome.replayed:
        # The same upload, sent again after its answer was lost: its record, not a new one.
        return JSONResponse(body, status_code=200)
    return body


@router.get("/patient-records", summary="Your records (patients)")
async def patient_records(caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return {"records": await reading.records_of(services, caller.address)}


@router.get(
    "/view/{cid}",
    summary="The decrypted file, after checking it against MongoDB and the chain",
    response_class=StreamingResponse,
)
async def view(
    cid: str,
    caller: CallerDep,
    services: ServicesDep,
    x_wallet_signature: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    record, chunks = await reading.open_verified(services, caller.address, caller.role, cid, x_wallet_signature)
    return StreamingResponse(
        chunks,
        media_type=record.content_type,
        headers={
            "X-Integrity-Verified": "true",
            "X-Blockchain-Hash-Verified": "true",
            "X-Content-SHA256": record.content_hash,
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


@router.get("/verify/{cid}", summary="Integrity checks as JSON (with X-Wallet-Signature, also re-hash the file)")
async def verify(
    cid: str,
    caller: CallerDep,
    services: ServicesDep,
    x_wallet_signature: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    return await reading.verify(services, caller.address, caller.role, cid, x_wallet_signature)
