"""What every record upload sends and gets back, whoever writes it (the patient into their own
vault, a doctor with a write grant into a patient's): one form and one answer, so the two upload
routes cannot drift apart on a field's meaning, its validation or its status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import bad_request
from ..services.upload import UploadOutcome
from ..validation import record_name
from .deps import get_services
from .multipart_stream import StreamedFile, StreamedForm

# The file's type is sent back as the Content-Type of /view: it must be something a response header
# can carry (a control character made the server drop the connection instead of answering).
MAX_CONTENT_TYPE_LENGTH = 255
FILE_FIELD = "file"
# A file sent as application/fhir+json is a structured record, validated before anything is stored
# (services/fhir_upload.py): the 400s that can refuse it (413 `fhir_too_large` past 1 MiB).
FHIR_UPLOAD_400 = ("invalid_fhir", "fhir_kind_mismatch", "fhir_subject_mismatch", "fhir_author_mismatch")
# An amendment (`replaces`) refused before anything is stored (services/amendments.py), by status.
AMENDMENT_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_cid", "amendment_not_structured", "amendment_kind_mismatch", "fhir_replaces_mismatch"),
    403: ("not_record_author",),
    404: ("record_not_found",),
    409: ("record_superseded", "record_pending"),
}


class SignedRecordFields(BaseModel):
    """The text fields of every signed record upload (the file is the form's last part, `file`)."""

    model_config = ConfigDict(extra="ignore")

    recordType: str = Field(
        description="prescription | bill | report. A file sent as application/fhir+json is a structured "
        "record: a MedicationRequest, a DiagnosticReport or an Invoice respectively (see the README's FHIR records)"
    )
    name: str = Field(description="A name for the record, shown only to the patient and those they share it with")
    recordSignature: str = Field(
        description="The author's EIP-712 signature (AddRecord by the patient, AddRecordAsDoctor by a doctor), "
        "its contentHash = SHA-256(salt ‖ file)"
    )
    nonce: int = Field(ge=0)
    deadline: int = Field(ge=0)
    salt: str = Field(
        description="0x + 64 hex: the fresh random 32 bytes the contentHash was computed with "
        "(stored encrypted; the chain sees only SHA-256(salt ‖ file))"
    )
    replaces: str | None = Field(
        default=None,
        description="Optional: amend a structured record you wrote. The CID of its current version; the new "
        "resource must carry the extension urn:healthledger:fhir:replaces naming that version's anchor "
        "(see the README's FHIR records: Amendments)",
    )


class PatientUploadFields(SignedRecordFields):
    """A patient's upload into their own vault."""

    walletSignature: str = Field(description="Your personal_sign of the key-derivation message")
    duplicateTag: str | None = Field(
        default=None,
        description="Optional 0x + 64 hex: HMAC-SHA256 of the file under a key derived from your key signature, "
        "so the app can warn about a file you added before; returned only in your record list",
    )


class DoctorUploadFields(SignedRecordFields):
    """A doctor's upload into the vault of a patient who granted them write access."""

    patientAddress: str = Field(description="The patient whose vault receives the record")


FieldsT = TypeVar("FieldsT", bound=SignedRecordFields)


@dataclass(frozen=True)
class SignedRecordForm(Generic[FieldsT]):
    """A signed record upload: its validated fields, and its file still streaming from the client
    (api/multipart_stream.py), so the pipeline encrypts and adds it to IPFS while it arrives."""

    fields: FieldsT
    file: StreamedFile
    record_type: str
    name: str
    content_type: str
    record_signature: str
    nonce: int
    deadline: int
    salt: str
    replaces: str | None


def signed_record_form(model: type[FieldsT]) -> Callable[[Request], AsyncIterator[SignedRecordForm[FieldsT]]]:
    """A FastAPI dependency reading `model`'s fields and the streamed file from the request body.

    Declared after the caller's authentication, so a request that may not upload is refused before
    a byte of its file is read. A missing or invalid field is the same 422 `invalid_request` the
    framework's own form parsing gave.
    """
    required = [name for name, info in model.model_fields.items() if info.is_required()]

    async def dependency(request: Request) -> AsyncIterator[SignedRecordForm[FieldsT]]:
        form = await StreamedForm.open(
            request,
            FILE_FIELD,
            required=required,
            known=model.model_fields,
            idle_timeout=get_services(request).settings.upload_idle_timeout_seconds,
        )
        try:
            yield _validated(model, form)
        finally:
            if form.file is not None:
                await form.file.close()

    return dependency


def _validated(model: type[FieldsT], form: StreamedForm) -> SignedRecordForm[FieldsT]:
    problems: list[Any] = []
    fields: FieldsT | None = None
    try:
        # An empty field is a missing one, as the framework's form parsing had it (422 `invalid_request`).
        fields = model.model_validate({name: value for name, value in form.fields.items() if value != ""})
    except ValidationError as exc:
        problems = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
    if form.file is None:
        problems.append({"type": "missing", "loc": ("body", FILE_FIELD), "msg": "Field required", "input": None})
    if problems or fields is None:
        raise RequestValidationError(problems)
    return SignedRecordForm(
        fields=fields,
        file=form.file,
        record_type=fields.recordType.strip().lower(),
        name=record_name(fields.name),
        content_type=upload_content_type(form.file.content_type),
        record_signature=fields.recordSignature,
        nonce=fields.nonce,
        deadline=fields.deadline,
        salt=fields.salt,
        replaces=(fields.replaces or "").strip() or None,
    )


def multipart_body(model: type[SignedRecordFields]) -> dict[str, Any]:
    """The route's OpenAPI `requestBody` (`openapi_extra`): the route reads its body itself, so the
    framework cannot describe it; the generated client still sees every field, and the file."""
    schema = model.model_json_schema()
    schema["properties"][FILE_FIELD] = {
        "type": "string",
        "format": "binary",
        "description": "The file to store (send it last)",
    }
    schema["required"] = [*schema.get("required", []), FILE_FIELD]
    schema["title"] = f"{model.__name__}Form"
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def upload_content_type(declared: str | None) -> str:
    """The file's Content-Type as stored and sent back by /view; 400 `invalid_content_type` otherwise."""
    content_type = (declared or "").strip() or "application/octet-stream"
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
