"""Shapes of /api/access-requests: requests, responses to them, grants and what is shared."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel

from ...record_kinds import RecordKindName


class AccessRequestOut(BaseModel):
    """A doctor's request for access to a patient's records (addresses lower-case)."""

    id: str
    patient: str
    doctor: str
    reason: str
    wants_write: bool = Field(
        description="The doctor also asks to add records to the patient's file (an off-chain hint: answering the "
        "request grants read access only; write access is a separate signed approveWrite)"
    )
    tx_hash: str
    state: Literal["pending", "approved", "denied", "superseded"]
    created_at: str = Field(description="ISO-8601")
    responded_at: str | None


class PendingRequestOut(AccessRequestOut):
    doctor_name: str | None
    doctor_registered: bool


class DoctorRequestList(BaseModel):
    requests: list[AccessRequestOut]


class PendingRequestList(BaseModel):
    requests: list[PendingRequestOut]


class ExtensionRequested(BaseModel):
    patient: str
    extra_seconds: int
    tx_hash: str


class AccessDenied(BaseModel):
    request_id: str
    state: Literal["denied"]
    tx_hash: str


class AccessApproved(BaseModel):
    request_id: str
    state: Literal["approved"]
    doctor: str
    record_ids: list[int]
    expires_at: int = Field(description="Unix seconds")
    tx_hash: str


class RespondResult(RootModel[Annotated[AccessApproved | AccessDenied, Field(discriminator="state")]]):
    """An approval (with the grant's records and expiry) or a denial, told apart by `state`."""


class RevokeResult(BaseModel):
    doctor: str
    record_ids: list[int] | None = Field(description="null: every record")
    keys_removed: int
    tx_hash: str


class ExtensionApproved(BaseModel):
    doctor: str
    expires_at: int
    tx_hash: str


class SharedRecord(BaseModel):
    """A record in a grant; the metadata is null when the database does not know the id."""

    record_id: int
    cid: str | None
    name: str | None
    record_type: RecordKindName | None
    content_hash: str | None


class DoctorGrant(BaseModel):
    patient: str
    expires_at: int = Field(description="Unix seconds")
    records: list[SharedRecord]


class ChainAuthorized(BaseModel):
    source: Literal["chain"]
    grants: list[DoctorGrant]


class Disagreement(BaseModel):
    patient: str
    database_record_ids: list[int]
    chain_record_ids: list[int]
    database_expires_at: int
    chain_expires_at: int


class DatabaseAuthorized(BaseModel):
    source: Literal["database"]
    consistent_with_chain: bool
    disagreements: list[Disagreement]
    grants: list[DoctorGrant]


class PatientGrant(BaseModel):
    doctor: str
    doctor_name: str | None
    doctor_registered: bool
    expires_at: int = Field(description="Unix seconds")
    pending_extension_seconds: int
    records: list[SharedRecord]


class PatientGrants(BaseModel):
    patient: str
    source: Literal["chain"]
    grants: list[PatientGrant]


# ---------------------------------------------------------------- write grants (camelCase, as the web app reads them)


class WriteGranted(BaseModel):
    """The write grant the chain now holds for the doctor."""

    doctorAddress: str
    expiresAt: int = Field(description="Unix seconds")
    txHash: str


class WriteRevoked(BaseModel):
    doctorAddress: str
    txHash: str


class PatientWriteGrant(BaseModel):
    """A doctor who may add records to your vault now."""

    doctorAddress: str
    doctorName: str | None = Field(description="From the doctor's profile, when there is one")
    expiresAt: int = Field(description="Unix seconds")


class PatientWriteGrants(BaseModel):
    grants: list[PatientWriteGrant]


class DoctorWriteGrant(BaseModel):
    """A patient whose vault you may add records to now."""

    patientAddress: str
    patientName: str | None = Field(description="The patient's published display name, if any")
    expiresAt: int = Field(description="Unix seconds")


class DoctorWriteGrants(BaseModel):
    grants: list[DoctorWriteGrant]
