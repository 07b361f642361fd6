"""Shapes of /api/audit: timeline entries from the chain and from the view log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel


class RecordName(BaseModel):
    """The name a record was uploaded with (its file name, or what the uploader called it)."""

    record_id: int
    name: str


RECORD_NAMES = Field(
    default_factory=list,
    description="Names of the entry's records: in the patient's own timeline only (never the registrar's)",
)


class ChainEvent(BaseModel):
    """An event of the patient's vault (their HealthRecord contract), with where and when it was mined."""

    id: str
    source: Literal["chain"]
    event: str
    action: str
    patient: str
    doctor: str | None = Field(
        description="The doctor concerned: the grant's doctor, a record's author when a doctor wrote it, "
        "the account that cancelled its signatures when it is not the patient"
    )
    record_ids: list[int] | None = Field(description="The records concerned (records_approved: decoded from its bitmap)")
    cids: list[str] | None
    record_names: list[RecordName] = RECORD_NAMES
    timestamp: str | None = Field(description="ISO-8601, UTC")
    timestamp_unix: int | None
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    contract: str
    details: dict[str, Any] = Field(
        description="doctor_name: the profile name of the entry's doctor, when known. Event-specific. record_added: record_type, content_hash, author, author_role "
        "(patient | doctor), author_name (a doctor's profile name, when known); access_approved, "
        "records_approved, extension_approved, write_approved: expires_at, expires_at_iso; "
        "extension_requested: extra_seconds; access_requested: reason; nonce_invalidated: account, nonce; "
        "bill_issued, bill_paid, bill_refunded, bill_cancelled (BillPayments, `doctor` is the issuer): bill_id, "
        "amount (base units, decimal string), token, token_symbol, token_decimals, payee, issuer, doctor_name (the issuer's "
        "profile name, when known); bill_paid: payer, partial"
    )


class ViewEvent(BaseModel):
    """A decrypted view of a file, from the database's view log."""

    id: str
    source: Literal["database"]
    event: Literal["RecordViewed"]
    action: Literal["record_viewed"]
    patient: str
    doctor: str | None
    reader: str
    reader_role: str
    reader_name: str | None = Field(default=None, description="A doctor reader's profile name, when known")
    record_ids: list[int] | None
    cids: list[str]
    record_names: list[RecordName] = RECORD_NAMES
    verified: bool
    timestamp: str = Field(description="ISO-8601, UTC")
    timestamp_unix: int


class AuditEntry(RootModel[Annotated[ChainEvent | ViewEvent, Field(discriminator="source")]]):
    """One timeline entry: a chain event or a view, told apart by `source`."""


class PatientAudit(BaseModel):
    patient: str
    total: int
    events: list[AuditEntry]


class AllAudit(BaseModel):
    page: int
    page_size: int
    total: int
    pages: int
    patients: int
    events: list[AuditEntry]


class RecordViews(BaseModel):
    """How often others (doctors) opened one of the patient's files; the patient's own views do not count."""

    cid: str
    record_id: int | None
    views: int
    last_viewed_at: str = Field(description="ISO-8601, UTC")


class PatientRecordViews(BaseModel):
    patient: str
    records: list[RecordViews] = Field(description="Only files someone else has opened, most recently viewed first")


class BillAudit(BaseModel):
    """The bill events of every bill the caller is the patient, issuer or payee of, newest first."""

    account: str
    total: int
    events: list[ChainEvent]
