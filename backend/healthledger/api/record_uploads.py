"""What every record upload sends and gets back, whoever writes it (the patient into their own
vault, a doctor with a write grant into a patient's): one form and one answer, so the two upload
routes cannot drift apart on a field's meaning, its validation or its status codes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, UploadFile
from fastapi.responses import JSONResponse

from ..errors import bad_request
from ..services.upload import UploadOutcome
from ..validation import record_name

# The file's type is sent back as the Content-Type of /view: it must be something a response header
# can carry (a control character made the server drop the connection instead of answering).
MAX_CONTENT_TYPE_LENGTH = 255


class SignedRecordForm:
    """The multipart fields of a signed record upload (a FastAPI class dependency: its parameters are
    the form's fields, so both routes document and validate them alike)."""

    def __init__(
        self,
        file: Annotated[UploadFile, File(description="The file to store")],
        recordType: Annotated[str, Form(description="prescription | bill | report")],
        name: Annotated[
            str, Form(description="A name for the record, shown only to the patient and those they share it with")
        ],
        recordSignature: Annotated[
            str,
            Form(
                description="The author's EIP-712 signature (AddRecord by the patient, AddRecordAsDoctor by a "
                "doctor), its contentHash = SHA-256(salt ‖ file)"
            ),
        ],
        nonce: Annotated[int, Form(ge=0)],
        deadline: Annotated[int, Form(ge=0)],
        salt: Annotated[
            str,
            Form(
                description="0x + 64 hex: the fresh random 32 bytes the contentHash was computed with "
                "(stored encrypted; the chain sees only SHA-256(salt ‖ file))"
            ),
        ],
    ) -> None:
        self.file = file
        self.record_type = recordType.strip().lower()
        self.name = record_name(name)
        self.content_type = upload_content_type(file)
        self.record_signature = recordSignature
        self.nonce = nonce
        self.deadline = deadline
        self.salt = salt


def upload_content_type(file: UploadFile) -> str:
    """The file's Content-Type as stored and sent back by /view; 400 `invalid_content_type` otherwise."""
    content_type = (file.content_type or "").strip() or "application/octet-stream"
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH or not all(" " <= char <= "~" for char in content_type):
        raise bad_request(
            "invalid_content_type",
            f"the file's Content-Type must be printable ASCII of at most {MAX_CONTENT_TYPE_LENGTH} characters, "
            "e.g. application/pdf",
        )
    return content_type


def upload_response(body: dict[str, Any], outcome: UploadOutcome) -> Any:
    """201 mined, 202 pinned and sent but not yet mined, 200 a replay of an earlier attempt."""
    if not outcome.mined:
        # Pinned and sent, not yet mined: the record stays `pending` until the reconciler confirms it.
        return JSONResponse(body, status_code=202)
    if outcome.replayed:
        # The same upload, sent again after its answer was lost: its record, not a new one.
        return JSONResponse(body, status_code=200)
    return body
