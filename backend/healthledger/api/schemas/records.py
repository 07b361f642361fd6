"""Shapes of /api/medical-records: a record's public metadata and its integrity checks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ...record_kinds import RecordKindName

RecordState = Literal["pending", "anchored", "confirmed", "unanchored"]


class RecordOut(BaseModel):
    """A record as its patient (and the doctors it is shared with) see it: never the wrapped key."""

    patient: str = Field(description="The owner's address, lower-case")
    record_type: RecordKindName
    name: str
    content_type: str
    cid: str
    content_hash: str = Field(description="0x-hex SHA-256 of the plaintext")
    ciphertext_hash: str
    size: int
    ciphertext_size: int
    vault_address: str
    state: RecordState
    record_id: int | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    unanchored_reason: str | None
    reanchored: int
    created_at: str = Field(description="ISO-8601")
    anchored_at: str | None
    confirmed_at: str | None


class RecordList(BaseModel):
    records: list[RecordOut]


class VerifyResult(BaseModel):
    """Each check: true (passed), false (failed) or null (not checked)."""

    cid: str
    database: bool | None
    blockchain: bool | None
    ipfs: bool | None
    plaintext_rehashed: bool
    verified: bool
    problems: list[str]
