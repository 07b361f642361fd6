"""The audit trail: what happened to a patient's records, from the chain and from the view log.

Two sources, merged into one timeline, newest first:
- the events of the patient's record contract (HealthRecord clone): records added, access
  requested / approved / denied / revoked (all, or some records), extension requested / approved.
  Each carries its block number, transaction hash and block timestamp, so anyone can check it
  against the chain;
- the `record_views` log: every decrypted view of a file, who read it (address and role), when,
  and whether the integrity checks passed.

Entries are plain JSON: ints, 0x-hex strings, checksummed addresses, ISO-8601 timestamps (UTC).

For one patient the chain is read with `ChainClient.get_events`. Across all patients (registrar),
the clones' addresses are computed locally and their logs fetched with one `eth_getLogs` per 200
contracts (an address list filter), block timestamps in one JSON-RPC batch per 500 blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address

from ..chain.artifacts import health_record
from ..chain.client import AUDIT_EVENTS, KIND_NAMES, AuditEvent
from ..container import Services
from ..db.mongo import ACCESS_REQUESTS, RECORD_VIEWS, RECORDS
from ..db.views import ViewEntry
from ..errors import ApiError

ACTIONS: dict[str, str] = {
    "RecordAdded": "record_added",
    "AccessRequested": "access_requested",
    "AccessApproved": "access_approved",
    "AccessDenied": "access_denied",
    "AccessRevoked": "access_revoked",  # every record
    "RecordsRevoked": "records_revoked",  # some records
    "ExtensionRequested": "extension_requested",
    "ExtensionApproved": "extension_approved",
    "RecordViewed": "record_viewed",
}

# What a patient's timeline shows of the view log at most (newest first).
MAX_PATIENT_VIEWS = 5000
LOG_ADDRESSES_PER_QUERY = 200
BLOCKS_PER_BATCH = 500


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


def chain_entry(event: AuditEvent, patient: str, cids: dict[int, str], reasons: dict[str, str]) -> TimelineEntry:
    args = dict(event.args)
    doctor = args.pop("doctor", None)
    record_ids: list[int] | None = None
    if "recordIds" in args:
        record_ids = [int(i) for i in args.pop("recordIds")]
    details: dict[str, Any] = {}
    if event.name == "RecordAdded":
        record_id = int(args.pop("recordId"))
        record_ids = [record_id]
        kind = int(args.pop("kind"))
        details = {
            "record_type": KIND_NAMES.get(kind, str(kind)),
            "author": args.pop("author"),
            "content_hash": args.pop("contentHash"),
        }
    if "expiresAt" in args:
        expires_at = int(args.pop("expiresAt"))
        details["expires_at"] = expires_at
        details["expires_at_iso"] = _iso(expires_at)
    if "extra" in args:
        details["extra_seconds"] = int(args.pop("extra"))
    details.update(args)  # anything a later contract version adds
    if event.name == "AccessRequested" and event.tx_hash in reasons:
        details["reason"] = reasons[event.tx_hash]
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


def view_entry(view: ViewEntry, view_id: str | None = None) -> TimelineEntry:
    at = _as_utc(view.at)
    reader = to_checksum_address(view.reader)
    body = {
        "id": view_id or f"view:{view.cid}:{view.reader}:{at.timestamp()}",
        "source": "database",
        "event": "RecordViewed",
        "action": "record_viewed",
        "patient": to_checksum_address(view.patient),
        "doctor": reader if view.reader_role == "doctor" else None,
        "reader": reader,
        "reader_role": view.reader_role,
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


# ----------------------------------------------------------------------------- lookups


async def _cids_by_record_id(services: Services, patients: Sequence[str]) -> dict[str, dict[int, str]]:
    """patient (lower) -> {record id -> CID} for confirmed records."""
    out: dict[str, dict[int, str]] = {}
    query = {"patient": {"$in": [p.lower() for p in patients]}, "record_id": {"$type": "number"}}
    async for doc in services.db[RECORDS].find(query, {"_id": 0, "patient": 1, "record_id": 1, "cid": 1}):
        out.setdefault(doc["patient"], {})[int(doc["record_id"])] = doc["cid"]
    return out


async def _reasons(services: Services, tx_hashes: Sequence[str]) -> dict[str, str]:
    """tx hash -> the reason a doctor gave off chain for that access request (if stored)."""
    if not tx_hashes:
        return {}
    out: dict[str, str] = {}
    cursor = services.db[ACCESS_REQUESTS].find(
        {"tx_hash": {"$in": list(tx_hashes)}}, {"_id": 0, "tx_hash": 1, "reason": 1}
    )
    async for doc in cursor:
        if isinstance(doc.get("reason"), str):
            out[str(doc["tx_hash"]).lower()] = doc["reason"]
    return out


async def _views(services: Services, query: dict[str, Any], limit: int) -> list[TimelineEntry]:
    cursor = services.db[RECORD_VIEWS].find(query).sort("at", -1).limit(limit)
    out = []
    async for doc in cursor:
        view_id = f"view:{doc['_id']}"
        out.append(view_entry(ViewEntry.from_mongo(doc), view_id))
    return out


# ----------------------------------------------------------------------------- one patient


async def patient_timeline(services: Services, patient: str) -> list[dict[str, Any]]:
    """Everything that happened to `patient`'s records, newest first."""
    try:
        events = await services.chain.get_events(patient)
    except Exception as exc:
        raise ApiError(502, "chain_unavailable", "the chain did not answer; try again") from exc
    cids = (await _cids_by_record_id(services, [patient])).get(patient.lower(), {})
    reasons = await _reasons(services, [e.tx_hash for e in events if e.name == "AccessRequested"])
    entries = [chain_entry(e, patient, cids, reasons) for e in events]
    entries.extend(await _views(services, {"patient": patient.lower()}, MAX_PATIENT_VIEWS))
    return newest_first(entries)


# ----------------------------------------------------------------------------- all patients


async def known_patients(services: Services) -> list[str]:
    """Distinct patients of the records collection, plus those of access requests (if any)."""
    patients = {p for p in await services.db[RECORDS].distinct("patient") if isinstance(p, str)}
    if ACCESS_REQUESTS in await services.db.list_collection_names():
        patients.update(p for p in await services.db[ACCESS_REQUESTS].distinct("patient") if isinstance(p, str))
    return sorted(p.lower() for p in patients)


def _audit_topics() -> list[str]:
    return [
        "0x" + event_abi_to_log_topic(entry).hex()
        for entry in health_record().abi
        if entry.get("type") == "event" and entry["name"] in AUDIT_EVENTS
    ]


async def _events_of_many(services: Services, patients: Sequence[str]) -> list[tuple[str, AuditEvent]]:
    """(patient, event) for every audit event of every given patient's clone, with timestamps."""
    chain = services.chain
    by_contract = {(await chain.record_address(p)).lower(): p for p in patients}
    addresses = [to_checksum_address(a) for a in by_contract]
    if not addresses:
        return []
    topics = [_audit_topics()]
    end = await chain.block_number()
    raw: list[Any] = []
    for start in range(0, len(addresses), LOG_ADDRESSES_PER_QUERY):
        raw.extend(
            await chain.w3.eth.get_logs(
                {
                    "address": addresses[start : start + LOG_ADDRESSES_PER_QUERY],
                    "fromBlock": 0,
                    "toBlock": end,
                    "topics": topics,
                }
            )
        )
    decoded = [e for e in (chain.decode_log(entry) for entry in raw) if e is not None]
    times = await _block_times(services, sorted({e.block_number for e in decoded}))
    out = []
    for event in decoded:
        patient = by_contract.get(event.contract.lower())
        if patient is None:  # not one of ours (cannot happen with the address filter)
            continue
        out.append((patient, AuditEvent(**{**event.to_dict(), "timestamp": times.get(event.block_number)})))
    return out


async def _block_times(services: Services, numbers: Sequence[int]) -> dict[int, int]:
    provider = services.chain.w3.provider
    times: dict[int, int] = {}
    for start in range(0, len(numbers), BLOCKS_PER_BATCH):
        chunk = numbers[start : start + BLOCKS_PER_BATCH]
        answers = await provider.make_batch_request(  # type: ignore[arg-type]
            [("eth_getBlockByNumber", [hex(n), False]) for n in chunk]
        )
        if not isinstance(answers, list) or len(answers) != len(chunk):
            raise ApiError(502, "chain_unavailable", "the chain did not answer the block lookup")
        for number, answer in zip(chunk, answers, strict=True):
            block = answer.get("result") if isinstance(answer, dict) else None
            if not block:
                raise ApiError(502, "chain_unavailable", "the chain did not answer the block lookup")
            times[number] = int(block["timestamp"], 16)
    return times


async def all_timeline(services: Services, page: int, page_size: int) -> dict[str, Any]:
    """One page of everything, for every patient, newest first."""
    patients = await known_patients(services)
    try:
        events = await _events_of_many(services, patients)
    except ApiError:
        raise
    except Exception as exc:
        raise ApiError(502, "chain_unavailable", "the chain did not answer; try again") from exc
    skip = (page - 1) * page_size
    # Any entry of the page is among the first `skip + page_size` of its own source.
    views = await _views(services, {}, skip + page_size)
    view_total = await services.db[RECORD_VIEWS].count_documents({})
    chain_entries = [
        TimelineEntry((float(e.timestamp or 0), e.block_number, e.log_index), {"_event": e, "_patient": p})
        for p, e in events
    ]
    merged = sorted([*chain_entries, *views], key=lambda e: e.sort_key, reverse=True)[skip : skip + page_size]
    # Only the page's chain entries need their CIDs and reasons.
    page_events = [(e.body["_patient"], e.body["_event"]) for e in merged if "_event" in e.body]
    cids = await _cids_by_record_id(services, sorted({p for p, _ in page_events}))
    reasons = await _reasons(services, [e.tx_hash for _, e in page_events if e.name == "AccessRequested"])
    items = [
        chain_entry(e.body["_event"], e.body["_patient"], cids.get(e.body["_patient"], {}), reasons).body
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
