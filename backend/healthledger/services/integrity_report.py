"""The integrity report: every record checked against MongoDB, the chain and IPFS, without any key.

For each record the hash MongoDB holds is compared with the hash the patient's contract holds, and
the ciphertext's CID is looked up among the IPFS node's pins. Nothing is downloaded or decrypted, so
the report is cheap enough to run over thousands of records:

- MongoDB: one query for the records in scope, projected to the fields checked;
- chain: `get_records_batch` once per patient (a `recordCount` call, then JSON-RPC batches of
  `getRecord` calls: ceil(n / 500) HTTP requests for n records, a few in flight at once), patients
  in parallel (bounded);
- IPFS: for one patient's report (up to TARGETED_PIN_CHECK_UP_TO records on chain), `pin/ls` asked
  about their CIDs only, once MongoDB named them; else one `pin/ls` listing every recursive pin.

At 10,000 records the pure-Python work (one row per record) is a few hundred milliseconds: it runs
in a worker thread (`build_report`, and the router's serialisation) so other requests keep being
served while a large report is built.

Statuses, in the order they are decided:
- `pending`: the upload is not on chain yet (nothing to compare);
- `unanchored`: the chain lost the record (a reorganisation, a reset dev chain) and it could not be
  sent again; `problems` carries the reason;
- `missing`: the chain has no such record (no record id, no contract, or an id past the count);
- `mismatched`: the chain's hash differs from MongoDB's (the metadata or the chain entry was changed);
- `missing`: the ciphertext is not pinned on the IPFS node;
- `verified`: all three agree.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

from ..chain.client import ChainError, OnChainRecord
from ..container import Services
from ..db.records import RecordDoc, ReportEntry
from ..domain_errors import Unavailable
from ..storage.ipfs import IpfsError, to_base32_v1

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")

Status = Literal["verified", "mismatched", "missing", "pending", "unanchored"]
STATUSES: tuple[Status, ...] = ("verified", "mismatched", "missing", "pending", "unanchored")

# Patients whose chain records are read at the same time (each read is a few HTTP requests).
CHAIN_CONCURRENCY = 8
# From this many records the row checks run in a worker thread (below it a thread costs more than it saves).
THREAD_ROWS_FROM = 500
# A patient's report with at most this many records on chain asks IPFS about their CIDs only
# (`pinned_among`: 10 calls of 50 at most), instead of listing every pin of the node, which grows with
# every patient. Measured on js-ipfs with 11,000 pins: 1,000 records by CID took 155 ms (20 calls),
# the whole listing 50-100 ms; the listing grows with the node, the lookup with the patient only.
TARGETED_PIN_CHECK_UP_TO = 500


@dataclass(slots=True)
class ReportRow:
    cid: str
    record_id: int | None
    patient: str
    state: str
    record_type: str
    database: bool
    blockchain: bool | None
    ipfs: bool
    status: Status
    database_hash: str
    blockchain_hash: str | None
    problems: list[str] = field(default_factory=list)
    reanchored: int = 0

    def as_json(self) -> dict[str, Any]:
        """The row as the API and the CLI print it: every field, in declaration order.

        Written out rather than `dataclasses.asdict`, which deep-copies field by field and cost
        about 15 µs a row (150 ms over 10,000 records)."""
        return {
            "cid": self.cid,
            "record_id": self.record_id,
            "patient": self.patient,
            "state": self.state,
            "record_type": self.record_type,
            "database": self.database,
            "blockchain": self.blockchain,
            "ipfs": self.ipfs,
            "status": self.status,
            "database_hash": self.database_hash,
            "blockchain_hash": self.blockchain_hash,
            "problems": list(self.problems),
            "reanchored": self.reanchored,
        }


@dataclass
class IntegrityReport:
    scope: str
    rows: list[ReportRow]
    checked_at: datetime
    timings_ms: dict[str, float]

    @property
    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def rows_with(self, status_filter: str | None = None) -> list[ReportRow]:
        """The rows of one status (all of them when `status_filter` is None)."""
        return [r for r in self.rows if status_filter is None or r.status == status_filter]

    def summary(self) -> dict[str, Any]:
        """Everything of the answer but its rows, in the answer's field order (see `as_json`)."""
        return {
            "scope": self.scope,
            "checked_at": self.checked_at.isoformat(),
            "total": len(self.rows),
            "counts": self.counts,
            "patients": len({r.patient for r in self.rows}),
            "timings_ms": self.timings_ms,
        }

    def as_json(self, status_filter: str | None = None) -> dict[str, Any]:
        return {**self.summary(), "records": [r.as_json() for r in self.rows_with(status_filter)]}


def _normal_cid(cid: str) -> str:
    try:
        return to_base32_v1(cid)
    except Exception:  # a malformed stored CID cannot be pinned under any name
        return cid


async def _chain_records(services: Services, patients: list[str]) -> dict[str, dict[int, OnChainRecord]]:
    """Every on-chain record of each patient, by id (one `get_records_batch` per patient)."""
    limit = asyncio.Semaphore(CHAIN_CONCURRENCY)

    async def one(patient: str) -> tuple[str, dict[int, OnChainRecord]]:
        async with limit:
            records = await services.chain.get_records_batch(patient)
        return patient, {r.record_id: r for r in records}

    return dict(await asyncio.gather(*(one(p) for p in patients)))


def check_record(record: RecordDoc | ReportEntry, onchain: dict[int, OnChainRecord], pinned: set[str], clone: str | None) -> ReportRow:
    """The row of one record, given its patient's on-chain records and the node's pins."""
    db_hash = (record.content_hash or "").lower()
    problems: list[str] = []
    database = db_hash.startswith("0x") and len(db_hash) == 66
    if not database:
        problems.append("the database holds no well-formed content hash")
    # `pinned` holds normalised CIDs only, each its own normal form: a stored CID found as it is
    # needs no normalising (the usual case: uploads store base32 CIDv1).
    ipfs = record.cid in pinned or _normal_cid(record.cid) in pinned
    if not ipfs:
        problems.append("the ciphertext is not pinned on the IPFS node")
    chain_hash: str | None = None
    blockchain: bool | None
    if record.state == "unanchored":
        blockchain = False
        problems.insert(0, record.unanchored_reason or "the chain lost this record")
        status: Status = "unanchored"
    elif not record.on_chain:
        blockchain = None
        problems.insert(0, "the upload is not confirmed on chain yet")
        status = "pending"
    else:
        entry = onchain.get(record.record_id) if record.record_id is not None else None
        if entry is None:
            blockchain = False
            problems.insert(0, "the chain holds no such record")
            status = "missing"
        else:
            chain_hash = entry.content_hash.lower()
            blockchain = chain_hash == db_hash
            if clone is not None and record.vault_address and record.vault_address.lower() != clone.lower():
                blockchain = False
                problems.insert(0, "the database names another vault than the patient's")
            if not blockchain:
                if chain_hash != db_hash:
                    problems.insert(0, "the chain holds a different hash than the database")
                status = "mismatched"
            elif not ipfs:
                status = "missing"
            else:
                status = "verified"
    if database is False and status == "verified":
        status = "mismatched"
    return ReportRow(
        cid=record.cid,
        record_id=record.record_id,
        patient=record.patient,
        state=record.state,
        record_type=record.record_type,
        database=database,
        blockchain=blockchain,
        ipfs=ipfs,
        status=status,
        database_hash=db_hash,
        blockchain_hash=chain_hash,
        problems=problems,
        reanchored=record.reanchored,
    )


async def _few_records(services: Services, patient: str) -> bool:
    """Whether `patient`'s records are few enough to look up among the pins by CID
    (TARGETED_PIN_CHECK_UP_TO), told by their vault's record count: one eth_call, answered at once,
    where counting MongoDB's documents competed with the report's own read (700-900 ms at 10,000
    records on SecantusDB). Pending uploads are not counted; they are few. While the chain is
    unreachable: yes (the answer is right either way, and the report then fails on the chain if
    any record is on it)."""
    try:
        return await services.chain.record_count(patient) <= TARGETED_PIN_CHECK_UP_TO
    except ChainError:
        return True


async def _together(first: Awaitable[A], second: Awaitable[B], third: Awaitable[C]) -> tuple[A, B, C]:
    """Run three calls at once; the first failure cancels the others and is raised as itself.

    Why not `asyncio.gather`: it leaves the other calls running after a failure. Why not a
    TaskGroup: it raises an ExceptionGroup, which the API's error handlers (one per dependency) do
    not match.
    """
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second), asyncio.ensure_future(third)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return tasks[0].result(), tasks[1].result(), tasks[2].result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def build_report(services: Services, patient: str | None) -> IntegrityReport:
    """The report for one patient's records, or for every record when `patient` is None.

    MongoDB, IPFS and the chain are asked at once. The chain read needs to know whose vaults to
    read: for one patient that is known up front; for every record it waits for MongoDB's answer.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    records_read: asyncio.Future[list[ReportEntry]] = asyncio.get_running_loop().create_future()

    async def database() -> list[ReportEntry]:
        began = time.perf_counter()
        try:
            records = await services.records.report_entries(patient)
        except BaseException as exc:
            records_read.cancel() if isinstance(exc, asyncio.CancelledError) else records_read.set_exception(exc)
            raise
        finally:
            timings["database"] = round((time.perf_counter() - began) * 1000, 2)
        records_read.set_result(records)
        return records

    async def pins() -> set[str]:
        # One patient's few records: their CIDs only, once MongoDB named them; else every pin, meanwhile.
        targeted = patient is not None and await _few_records(services, patient)
        cids = [r.cid for r in await asyncio.shield(records_read)] if targeted else []
        began = time.perf_counter()
        try:
            return await services.ipfs.pinned_among(cids) if targeted else await services.ipfs.pinned_cids()
        except IpfsError as exc:
            raise Unavailable("ipfs_unavailable", "the IPFS node did not list its pins; try again") from exc
        finally:
            timings["ipfs"] = round((time.perf_counter() - began) * 1000, 2)

    async def chain() -> dict[str, dict[int, OnChainRecord]]:
        if patient is None:
            patients = sorted({r.patient for r in await asyncio.shield(records_read) if r.on_chain})
        else:
            patients = [patient.lower()]
        began = time.perf_counter()
        try:
            return await _chain_records(services, patients)
        except ChainError:
            # Read ahead for one patient: a chain outage only matters if a record is on chain.
            if patient is None or any(r.on_chain for r in await asyncio.shield(records_read)):
                raise
            return {}
        finally:
            timings["chain"] = round((time.perf_counter() - began) * 1000, 2)

    try:
        records, pinned, onchain = await _together(database(), pins(), chain())
    finally:
        if not records_read.done():
            records_read.cancel()
        elif not records_read.cancelled():
            records_read.exception()  # retrieved, so asyncio does not warn about it
    patients = sorted({r.patient for r in records if r.on_chain})
    clones = {p: await services.chain.vault_address(p) for p in patients}  # computed locally

    def check_all() -> list[ReportRow]:
        return [check_record(r, onchain.get(r.patient, {}), pinned, clones.get(r.patient)) for r in records]

    began = time.perf_counter()
    rows = await asyncio.to_thread(check_all) if len(records) > THREAD_ROWS_FROM else check_all()
    timings["checks"] = round((time.perf_counter() - began) * 1000, 2)
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)
    return IntegrityReport(
        scope="patient" if patient else "all",
        rows=rows,
        checked_at=datetime.now(UTC),
        timings_ms=timings,
    )
