"""The FHIR export: every record a reader may open, as one FHIR `Bundle` of type `collection`.

Nothing is decrypted here that /view would not decrypt: each record goes through the same read path
(services/reading.py's `open_verified`: who may read it, their own key copy, the ciphertext's MAC,
the plaintext re-hashed against MongoDB and the chain), and each is logged as a view. A patient
exports their own vault; a doctor (`patient=0x…`) exports what that patient shares with them now
(the chain's `canRead` per record, or their own records under a live write grant), exactly the
records /view would open for them.

Which records are left out, and how the receiver learns of it: only records whose every check
passes are exported. A readable record that is still pending on chain (`pending`), was dropped by
the chain (`unanchored`), or fails its integrity check (`integrity_failed`) is skipped and counted
by reason in the Bundle's `meta` extension (fhir/bundle.py) and the X-Records-Skipped header: an
export never silently looks complete, and one bad record does not stop a patient taking the rest
elsewhere. Records a doctor may not read are not counted (their number is the patient's business).

Entries (fhir/bundle.py): a structured record (uploaded as `application/fhir+json`, validated then)
is exported as itself; any other file, or a structured record that no longer validates, as a
`DocumentReference` with the file inline. The Bundle is built from R4B models and validated before
it is sent, in a worker process (fhir/export_bundle.py): in a thread, pydantic held the GIL, and so
every other request of the instance, for up to a second at 48 MiB. It is held in memory whole
(validating it needs the whole of it), so the files it inlines are capped at EXPORT_MAX_BYTES in
total: past that 413 `bundle_too_large`. An instance
opens and builds FHIR_BUNDLE_CONCURRENCY Bundles at once (imports included); the others wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address

from ..container import Services
from ..crypto import salt_hex
from ..db.records import RecordDoc
from ..domain_errors import (
    Conflict,
    NotAllowed,
    TooLarge,
    bad_request,
    forbidden,
)
from ..fhir import is_fhir_content_type
from ..fhir.bundle import Anchor, FileRecord
from ..fhir.export_bundle import ExportItem, export_bundle_json
from ..validation import address as checked_address
from .bills_receipt import patient_receipts
from .reading import key_source, open_verified

# 64 MiB of files in one Bundle: with base64 and the validated model the export holds a few times
# that in memory while it is built.
EXPORT_MAX_BYTES = 64 * 1024 * 1024
# Records opened at once: each is an IPFS read, a chain read, a decryption in a worker thread and a
# view log entry; a few in flight overlap their waits without crowding out other requests.
EXPORT_CONCURRENCY = 4
# Conflicts of the read path that skip one record instead of failing the export, by the reason
# the Bundle reports.
_SKIP_REASONS = {"record_pending": "pending", "record_unanchored": "unanchored", "integrity_mismatch": "integrity_failed"}


@dataclass(frozen=True)
class FhirExport:
    """The Bundle as JSON (UTF-8 bytes), and what it holds."""

    body: bytes
    exported: int
    skipped: dict[str, int]


@dataclass(frozen=True)
class _Opened:
    record: RecordDoc
    salt: bytes | None
    content: bytes


async def export_bundle(
    services: Services,
    reader: str,
    role: str,
    wallet_signature: str | None,
    patient: str | None = None,
    *,
    history: bool = False,
) -> FhirExport:
    """The Bundle of every record `reader` may open in `patient`'s vault (a patient: their own).

    Current versions only, unless `history`: a version an amendment replaced (`replaced_by` set,
    services/amendments.py) is left out, not counted as skipped (the current version stands for it,
    and its resource names its predecessor's anchor). With `history` every version is exported, each
    amendment linking to the one it replaces by its `urn:healthledger:fhir:replaces` extension."""
    owner = await _vault_owner(services, reader, role, patient)
    key_source(services, reader, role, wallet_signature)  # a missing or wrong key signature fails first
    records = sorted(await services.records.list_for_patient(owner), key=lambda record: record.created_at)
    chain_id = await services.chain.chain_id()
    # A doctor can never read a record that is not on chain (require_doctor_can_read): not theirs to count.
    candidates = [
        record
        for record in records
        if (role != "doctor" or record.on_chain) and (history or record.replaced_by is None)
    ]
    skipped: dict[str, int] = {}
    total = 0
    gate = asyncio.Semaphore(EXPORT_CONCURRENCY)

    async def open_one(record: RecordDoc) -> _Opened | None:
        nonlocal total
        async with gate:
            if total > EXPORT_MAX_BYTES:
                return None  # the export fails below; nothing more is decrypted
            item = await _open(services, reader, role, record, wallet_signature, skipped)
            total += len(item.content) if item is not None else 0
            return item

    # The files are held in memory until the Bundle is built: one of FHIR_BUNDLE_CONCURRENCY turns.
    async with services.bundle_turns:
        opened = [item for item in await _all_or_nothing([open_one(record) for record in candidates]) if item is not None]
        if total > EXPORT_MAX_BYTES:
            raise TooLarge(
                "bundle_too_large", f"these records hold more than {EXPORT_MAX_BYTES} bytes of files: too much for one Bundle"
            )
        # The patient's receipts of paid bills (public chain data, services/bills_receipt.py).
        receipts = await patient_receipts(services, owner) if role == "patient" else []
        # Entries, validation and JSON in a worker process (process_workers.py): pydantic holds the GIL.
        items = [_export_item(item, chain_id) for item in opened]
        body = await services.cpu_workers.run(export_bundle_json, items, receipts, skipped, datetime.now(UTC))
    return FhirExport(body=body, exported=len(items), skipped=skipped)


async def _all_or_nothing(calls: list[Coroutine[Any, Any, _Opened | None]]) -> list[_Opened | None]:
    """Every call's result in order; on the first failure the others are cancelled and awaited, then
    it is raised as itself (asyncio.TaskGroup would wrap it in an ExceptionGroup the error handlers
    do not map)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _vault_owner(services: Services, reader: str, role: str, patient: str | None) -> str:
    """Whose vault is exported: the patient's own; for a doctor, the `patient` they name."""
    if role == "patient":
        if patient and patient.lower() != reader.lower():
            raise forbidden("not_allowed", "patients export their own records only: leave out `patient`")
        return reader
    if role != "doctor":
        raise forbidden("wrong_role", "only patients and doctors export records")
    if not patient:
        raise bad_request("missing_patient", "doctors name the patient whose shared records to export: ?patient=0x…")
    owner = checked_address(patient, "patient")
    if not await services.chain.is_doctor(reader):
        raise forbidden("not_registered_doctor", "your address is no longer in the provider registry")
    return owner


async def _open(
    services: Services, reader: str, role: str, record: RecordDoc, wallet_signature: str | None, skipped: dict[str, int]
) -> _Opened | None:
    """The record's verified plaintext, or None (skipped, counted in `skipped` when the reader may
    know of it)."""
    try:
        doc, salt, chunks = await open_verified(services, reader, role, record.cid, wallet_signature)
    except Conflict as exc:
        reason = _SKIP_REASONS.get(exc.code)
        if reason is None:
            raise
        skipped[reason] = skipped.get(reason, 0) + 1
        return None
    except NotAllowed as exc:
        if role == "doctor" and exc.code in {"not_allowed", "access_denied"}:
            return None  # not shared with this doctor (now)
        raise
    pieces = [chunk async for chunk in chunks]
    return _Opened(doc, salt, b"".join(pieces))


def _export_item(item: _Opened, chain_id: int) -> ExportItem:
    """What the worker needs of an opened record (plain values that pickle)."""
    record = item.record
    assert record.record_id is not None  # opened: on chain
    return ExportItem(
        anchor=Anchor(
            chain_id=chain_id,
            vault=to_checksum_address(record.vault_address),
            record_id=record.record_id,
            tx_hash=record.tx_hash,
            content_hash=record.content_hash,
            cid=record.cid,
            salt=salt_hex(item.salt) if item.salt is not None else None,
        ),
        file=FileRecord(
            patient=to_checksum_address(record.patient),
            author=to_checksum_address(record.author) if record.author else None,
            record_type=record.record_type,
            name=record.name,
            content_type=record.content_type,
            created_at=record.created_at,
        ),
        content=item.content,
        structured=is_fhir_content_type(record.content_type),
    )
