"""Shapes of /api/audit: timeline entries from the chain and from the view log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel


class ChainEvent(BaseModel):
    """An event of the patient's vault (their HealthRecord contract), with where and when it was mined."""

    id: str
    source: Literal["chain"]
    event: str
    action: str
    patient: str
    doctor: str | None
    record_ids: list[int] | None
    cids: list[str] | None
    timestamp: str | None = Field(description="ISO-8601, UTC")
    timestamp_unix: int | None
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    contract: str
    details: dict[str, Any] = Field(description="Event-specific: record_type, expires_at, extra_seconds, reason, ...")


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
    record_ids: list[int] | None
    cids: list[str]
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
