"""The audit trail: what happened to a patient's records, from the chain and from the view log.

Two sources, merged into one timeline, newest first:
- the events of the patient's vault (HealthRecord clone): records added (by the patient, or by a
  doctor under a write grant: `details.author_role`, `details.author_name`), access requested /
  approved (an id list, or a bitmap: `records_approved`, decoded to `record_ids`) / denied /
  revoked (all, or some records), extension requested / approved, write access approved /
  revoked, and signatures cancelled (`nonce_invalidated`, by the patient or a doctor).
  Each carries its block number, transaction hash and block timestamp, so anyone can check it
  against the chain;
- the bill events of the patient's bills (BillPayments: `bill_issued`, `bill_paid`, `bill_refunded`,
  `bill_cancelled`, with billId, amount and token symbol in `details`; services/bills_receipt.py);
- the `record_views` log: every decrypted view of a file, who read it (address and role, and a
  doctor's profile name as `reader_name`), when, and whether the integrity checks passed.

Record names: the patient's own timeline names the records it concerns (`record_names`: record
id -> the name the record was uploaded with), since every record of the vault is the patient's.
The registrar's timeline never carries them: a registrar may not read anyone's records, and a file
name ("HIV test.pdf") can say as much as the file.

Entries are plain JSON: ints, 0x-hex strings, checksummed addresses, ISO-8601 timestamps (UTC).

For one patient the chain is read with `ChainClient.get_events`; across all patients (registrar)
with `ChainClient.get_events_many` (one `eth_getLogs` per 200 clones). The records, access
requests and views come from their stores. A chain that does not answer surfaces as the chain
client's `ChainUnavailable` (502 `chain_unavailable`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address

from ..chain.actions import bitmap_record_ids
from ..chain.client import AuditEvent
from ..container import Services
from ..db.views import ViewEntry
from ..record_kinds import KIND_NAMES
from ..validation import paging

ACTIONS: dict[str, str] = {
    "RecordAdded": "record_added",
    "AccessRequested": "access_requested",
    "AccessApproved": "access_approved",
    "AccessDenied": "access_denied",
    "AccessRevoked": "access_revoked",  # every record
    "RecordsRevoked": "records_revoked",  # some records
    "ExtensionRequested": "extension_requested",
    "ExtensionApproved": "extension_approved",
    "RecordsApproved": "records_approved",  # a bitmap of records (v2 approvals)
    "WriteApproved": "write_approved",
    "WriteRevoked": "write_revoked",
    "NonceInvalidated": "nonce_invalidated",
    "RecordViewed": "record_viewed",
    # BillPayments' events of the patient's bills (services/bills_receipt.py).
    "BillIssued": "bill_issued",
    "BillPaid": "bill_paid",
    "BillRefunded": "bill_refunded",
    "BillCancelled": "bill_cancelled",
}

# What a patient's timeline shows of the view log at most (newest first).
MAX_PATIENT_VIEWS = 5000


@dataclass(frozen=True)
class TimelineEntry:
    """One item of a timeline; `sort_key` orders newest first once reversed."""

    sort_key: tuple[float, int, int]
    body: dict[str, Any]


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _is_patient(account: str, patient: str) -> bool:
    return account.lower() == patient.lower()


def chain_entry(
    event: AuditEvent,
    patient: str,
    cids: dict[int, str],
    reasons: dict[str, str],
    doctor_names: dict[str, str] | None = None,
) -> TimelineEntry:
    """One chain event as a timeline entry. `doctor_names`: lower-case address -> profile name."""
    doctor_names = doctor_names or {}
    args = dict(event.args)
    doctor = args.pop("doctor", None)
    record_ids: list[int] | None = None
    if "recordIds" in args:
        record_ids = [int(i) for i in args.pop("recordIds")]
    if "words" in args:  # RecordsApproved: the bitmap as ids (the words themselves are 256-bit numbers)
        record_ids = bitmap_record_ids(int(args.pop("startWord")), [int(w) for w in args.pop("words")])
    details: dict[str, Any] = {}
    if event.name == "RecordAdded":
        record_id = int(args.pop("recordId"))
        record_ids = [record_id]
        kind = int(args.pop("kind"))
        author = str(args.pop("author"))
        by_patient = _is_patient(author, patient)
        details = {
            "record_type": KIND_NAMES.get(kind, str(kind)),
            "author": author,
            "author_role": "patient" if by_patient else "doctor",
            "content_hash": args.pop("contentHash"),
        }
        if not by_patient:
            doctor = author
            if author.lower() in doctor_names:
                details["author_name"] = doctor_names[author.lower()]
    if event.name == "NonceInvalidated":
        account = str(args.pop("account"))
        details["account"] = account
        details["nonce"] = int(args.pop("nonce"))
        if not _is_patient(account, patient):  # only the patient and doctors sign for a vault
            doctor = account
    if "expiresAt" in args:
        expires_at = int(args.pop("expiresAt"))
        details["expires_at"] = expires_at
        details["expires_at_iso"] = _iso(expires_at)
    if "extra" in args:
        details["extra_seconds"] = int(args.pop("extra"))
    details.update(args)  # anything a later contract version adds
    if event.name == "AccessRequested" and event.tx_hash in reasons:
        details["reason"] = reasons[event.tx_hash]
    if doctor is not None and str(doctor).lower() in doctor_names:
        details["doctor_name"] = doctor_names[str(doctor).lower()]
    body = {
        "id": f"{event.tx_hash}:{event.log_index}",
        "source": "chain",
        "event": event.name,
        "action": ACTIONS.get(event.name, event.name),
        "patient": to_checksum_address(patient),
        "doctor": doctor,
        "record_ids": record_ids,
        "cids": [cids[i] for i in record_ids if i in cids] if record_ids is not None else None,
        "timestamp": _iso(event.timestamp),
        "timestamp_unix": event.timestamp,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "contract": event.contract,
        "details": details,
    }
    return TimelineEntry((float(event.timestamp or 0), event.block_number, event.log_index), body)


def view_entry(view: ViewEntry, view_id: str | None = None, doctor_names: dict[str, str] | None = None) -> TimelineEntry:
    """One logged view as a timeline entry. `doctor_names`: lower-case address -> profile name."""
    at = _as_utc(view.at)
    reader = to_checksum_address(view.reader)
    reader_name = (doctor_names or {}).get(view.reader.lower()) if view.reader_role == "doctor" else None
    body = {
        "id": view_id or f"view:{view.cid}:{view.reader}:{at.timestamp()}",
        "source": "database",
        "event": "RecordViewed",
        "action": "record_viewed",
        "patient": to_checksum_address(view.patient),
        "doctor": reader if view.reader_role == "doctor" else None,
        "reader": reader,
        "reader_role": view.reader_role,
        "reader_name": reader_name,
        "record_ids": [view.record_id] if view.record_id is not None else None,
        "cids": [view.cid],
        "verified": view.verified,
        "timestamp": at.isoformat(),
        "timestamp_unix": int(at.timestamp()),
    }
    # Views sort after chain events of the same second (a view of a record follows its addition).
    return TimelineEntry((at.timestamp(), 1 << 62, 0), body)


def newest_first(entries: Iterable[TimelineEntry]) -> list[dict[str, Any]]:
    return [e.body for e in sorted(entries, key=lambda e: e.sort_key, reverse=True)]


def with_record_names(body: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """`body` with `record_names` for those of its records `names` knows (the patient's own timeline only)."""
    ids = body.get("record_ids") or []
    body["record_names"] = [{"record_id": i, "name": names[i]} for i in ids if i in names]
    return body


# ----------------------------------------------------------------------------- lookups


async def _views(services: Services, patient: str | None, limit: int) -> list[TimelineEntry]:
    """The newest `limit` views (one patient's, or everyone's), their doctors named."""
    views = await services.views.newest(patient, limit)
    names = await services.profiles.doctor_names(v.reader for _, v in views if v.reader_role == "doctor")
    return [view_entry(view, f"view:{view_id}", names) for view_id, view in views]


def _doctor_of(event: AuditEvent, patient: str) -> str | None:
    """The doctor an event concerns: its `doctor`, or the author / cancelling account when not the patient."""
    account = event.args.get("doctor") or event.args.get("author") or event.args.get("account")
    if account is None or _is_patient(str(account), patient):
        return None
    return str(account)


async def _doctor_names(services: Services, patient_events: Iterable[tuple[str, AuditEvent]]) -> dict[str, str]:
    """lower-case address -> doctor profile name, for every doctor the events concern (so the
    timeline can say "Dr X" rather than an address)."""
    return await services.profiles.doctor_names(d for p, e in patient_events if (d := _doctor_of(e, p)) is not None)


async def _reasons(services: Services, events: Sequence[AuditEvent]) -> dict[str, str]:
    """tx hash -> the reason a doctor gave off chain, for the access requests among `events`."""
    return await services.access_requests.reasons_by_tx([e.tx_hash for e in events if e.name == "AccessRequested"])


# ----------------------------------------------------------------------------- one patient


async def patient_timeline(services: Services, patient: str) -> list[dict[str, Any]]:
    """Everything that happened to `patient`'s records, newest first."""
    events = await services.chain.get_events(patient)
    records = [r for r in await services.records.for_report(patient) if r.record_id is not None]
    cids = {r.record_id: r.cid for r in records if r.record_id is not None}
    record_names = {r.record_id: r.name for r in records if r.record_id is not None and r.name}
    reasons = await _reasons(services, events)
    names = await _doctor_names(services, [(patient, e) for e in events])
    entries = [chain_entry(e, patient, cids, reasons, names) for e in events]
    # Imported here: bills_receipt builds its entries with this module's TimelineEntry.
    from .bills_receipt import patient_bill_entries

    entries.extend(await patient_bill_entries(services, patient))
    entries.extend(await _views(services, patient, MAX_PATIENT_VIEWS))
    return [with_record_names(body, record_names) for body in newest_first(entries)]


async def patient_record_views(services: Services, patient: str) -> list[dict[str, Any]]:
    """How often others (doctors) opened each of `patient`'s files, and when last; most recent first."""
    record_ids = {r.cid: r.record_id for r in await services.records.for_report(patient)}
    rows = [
        {
            "cid": row["cid"],
            "record_id": record_ids.get(row["cid"]),
            "views": row["views"],
            "last_viewed_at": _as_utc(row["last_at"]).isoformat(),
        }
        for row in await services.views.others_by_cid(patient)
    ]
    return sorted(rows, key=lambda row: row["last_viewed_at"], reverse=True)


# ----------------------------------------------------------------------------- all patients


async def known_patients(services: Services) -> list[str]:
    """Distinct patients of the records collection, plus those of access requests (if any)."""
    patients = await services.records.patients() | await services.access_requests.patients()
    return sorted({p.lower() for p in patients})


async def all_timeline(services: Services, page: int, page_size: int) -> dict[str, Any]:
    """One page of everything, for every patient, newest first."""
    skip, _ = paging(page, page_size)
    patients = await known_patients(services)
    events = await services.chain.get_events_many(patients)
    # Any entry of the page is among the first `skip + page_size` of its own source.
    views = await _views(services, None, skip + page_size)
    view_total = await services.views.count()
    chain_entries = [
        TimelineEntry((float(e.timestamp or 0), e.block_number, e.log_index), {"_event": e, "_patient": p})
        for p, e in events
    ]
    merged = sorted([*chain_entries, *views], key=lambda e: e.sort_key, reverse=True)[skip : skip + page_size]
    # Only the page's chain entries need their CIDs and reasons.
    page_events = [(e.body["_patient"], e.body["_event"]) for e in merged if "_event" in e.body]
    cids = await services.records.cids_by_record_id(sorted({p for p, _ in page_events}))
    reasons = await _reasons(services, [e for _, e in page_events])
    names = await _doctor_names(services, page_events)
    items = [
        chain_entry(e.body["_event"], e.body["_patient"], cids.get(e.body["_patient"], {}), reasons, names).body
        if "_event" in e.body
        else e.body
        for e in merged
    ]
    total = len(chain_entries) + view_total
    return {
        "page": page,
        "page_size": page_size,
        "total": total,
        "pages": (total + page_size - 1) // page_size,
        "patients": len(patients),
        "events": items,
    }
