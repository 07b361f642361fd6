"""Reading records back: who may read which record, with which key, and the audit log of each view.

What `api/records.py` needs beyond the upload: every reader decrypts with their own key signature
(keys v2). A patient opens their own records' copies; a doctor opens their grant copy of a shared
record, or their author copy of one they wrote, while the chain says so at that moment. Every view
is logged, verified or not, before its first byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..container import Services
from ..crypto import salt_hex
from ..db.records import RecordDoc
from ..db.views import ViewEntry
from ..domain_errors import Conflict, bad_request, forbidden, not_found
from ..storage.ipfs import validate_cid
from .access import doctor_key_source, require_doctor_can_read
from .integrity import DataKeySource, RecordIntegrity, patient_key_source, record_salt


async def records_of(services: Services, patient: str) -> list[dict[str, Any]]:
    """A patient's records, newest first, as the API shows them."""
    return [record.public() for record in await services.records.list_for_patient(patient)]


def salt_text(salt: bytes) -> str:
    """A salt as the API spells it: 0x + 64 lower-case hex."""
    return salt_hex(salt)


async def readable_record(services: Services, reader: str, role: str, cid: str) -> RecordDoc:
    """The record behind `cid` if `reader` may read it: their own, or shared with them and live on chain."""
    try:
        validate_cid(cid)
    except ValueError as exc:
        raise bad_request("invalid_cid", "not a valid IPFS CID") from exc
    record = await services.records.get_by_cid(cid)
    if record is None:
        raise not_found("record_not_found", "no record with this CID")
    if role == "patient" and record.patient == reader.lower():
        return record
    if role == "doctor":
        await require_doctor_can_read(services, reader, record)
        return record
    raise forbidden("not_allowed", "this record is not yours, and it was not shared with you")


def key_source(services: Services, reader: str, role: str, wallet_signature: str | None) -> DataKeySource:
    """Every reader unlocks with their own key-derivation signature: patients their copy, doctors
    their grant or author copy. Without one: 400 `missing_wallet_signature`."""
    if role == "doctor":
        return doctor_key_source(services, reader, wallet_signature)
    if not wallet_signature:
        raise bad_request("missing_wallet_signature", "send your key-derivation signature in X-Wallet-Signature")
    return patient_key_source(wallet_signature)


async def _log_view(services: Services, reader: str, role: str, record: RecordDoc, *, verified: bool) -> None:
    """Add the view to `record_views` (the patient's audit trail): who, with which role, whether it verified."""
    await services.views.log(
        ViewEntry(
            patient=record.patient,
            reader=reader,
            reader_role=role,
            cid=record.cid,
            record_id=record.record_id,
            verified=verified,
        )
    )


async def open_verified(
    services: Services, reader: str, role: str, cid: str, wallet_signature: str | None
) -> tuple[RecordDoc, bytes | None, AsyncIterator[bytes]]:
    """The record, its salt (None for records from before salts) and its plaintext chunks, once every
    check passed; the view is logged first.

    The salt goes to whoever may read the file: with the file in hand it reveals nothing more, and
    it lets the reader re-check SHA-256(salt ‖ file) against the chain themselves.
    """
    record = await readable_record(services, reader, role, cid)
    source = key_source(services, reader, role, wallet_signature)
    used: list[bytes] = []

    async def remembering(doc: RecordDoc) -> bytes:
        used.append(await source(doc))
        return used[-1]

    try:
        chunks = await RecordIntegrity(services).open(record, remembering)
    except Conflict as exc:
        if exc.code == "integrity_mismatch":
            await _log_view(services, reader, role, record, verified=False)
        raise
    # Opened and checked already by `open` (the re-hash used it): this cannot fail now.
    salt = record_salt(record, used[-1])
    # Logged before the first byte leaves: the audit trail never misses a read.
    await _log_view(services, reader, role, record, verified=True)
    return record, salt, chunks


async def verify(
    services: Services, reader: str, role: str, cid: str, wallet_signature: str | None
) -> dict[str, Any]:
    """The integrity checks as JSON; with the reader's key signature the plaintext is re-hashed too
    (without one, patients and doctors alike get the checks that need no key)."""
    record = await readable_record(services, reader, role, cid)
    integrity = RecordIntegrity(services)
    if wallet_signature:
        try:
            result = await integrity.check_with_key(record, key_source(services, reader, role, wallet_signature))
        except Conflict as exc:
            mismatched = exc.details.get("mismatched", [])
            return {
                "cid": cid,
                "database": "database" not in mismatched,
                "blockchain": None if "database" in mismatched else "blockchain" not in mismatched,
                "ipfs": "ipfs" not in mismatched,
                "plaintext_rehashed": False,
                "verified": False,
                "problems": [exc.message],
            }
    else:
        result = await integrity.check_stored(record)
    return {"cid": cid, **result.as_json()}
