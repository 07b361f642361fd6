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
    content_hash: str = Field(
        description="0x-hex SHA-256(salt ‖ plaintext), the on-chain anchor "
        "(plain SHA-256 for records uploaded before salts)"
    )
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
    author: str | None = Field(
        default=None,
        description="The doctor who added the record under a write grant (lower-case); null when the patient did",
    )
    author_name: str | None = Field(default=None, description="That doctor's name from their profile, if any")
    replaces: str | None = Field(
        default=None, description="An amendment: the CID of the version it replaces (see the README's FHIR records)"
    )
    replaced_by: str | None = Field(
        default=None, description="The CID of the (mined) version that replaces this one; null for a current version"
    )
    superseded: bool = Field(default=False, description="Whether a newer version replaces this one (`replaced_by` set)")


class RecordList(BaseModel):
    records: list[RecordOut]


class PatientRecordOut(RecordOut):
    """A record in its patient's own list: with the duplicate tag their app sent, which no one else sees."""

    duplicate_tag: str | None = Field(
        default=None,
        description="0x-hex HMAC-SHA256 of the file under a key only the patient's key signature gives "
        "(the app's \"you added this on …\" check); null when the app sent none",
    )


class PatientRecordList(BaseModel):
    records: list[PatientRecordOut]


class AuthoredRecordList(BaseModel):
    """The records a doctor added (each names its patient), newest first."""

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


class VerificationBundle(BaseModel):
    """Everything needed to check one record against the chain alone (`healthledger verify-bundle`)."""

    version: Literal[1]
    fileName: str
    contentType: str
    salt: str | None = Field(
        description="0x + 64 hex: the salt of SHA-256(salt ‖ file); null for records uploaded before salts"
    )
    contentHash: str = Field(description="0x-hex SHA-256(salt ‖ file), the record's on-chain hash")
    chainId: int
    contract: str = Field(description="The patient's vault (HealthRecord clone) holding the record, checksummed")
    recordId: int
    txHash: str = Field(description="The transaction that added the record")
    blockNumber: int | None
    file: str = Field(description="The file itself, base64")


class RecordVersion(RecordOut):
    """One version in a record's history."""

    anchor: str | None = Field(
        description="`eip155:<chainId>:<vault>/<recordId>` once mined (what an amendment's replaces link names); "
        "null while pending or unanchored"
    )


class RecordHistory(BaseModel):
    """A structured record's versions (amendments), newest first."""

    cid: str = Field(description="The record asked about")
    current: str = Field(description="The CID of the newest version (it may still be pending)")
    versions: list[RecordVersion] = Field(description="Newest first; each replaces the next one in the list")
