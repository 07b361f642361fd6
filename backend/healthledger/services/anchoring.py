"""Keep record documents in step with what the chain holds, through reorgs and lost chain state.

The upload pipeline reports a mined transaction here (`mined`); the reconciler (`settle`,
`recheck`) looks again at everything the chain could still take back. The rules:

- A record is `anchored` when one of its transactions is mined, `confirmed` once CONFIRMATIONS
  blocks sit on top. The record id comes from the receipt, never from a guess.
- Recently mined records are re-checked by block hash. A record whose block left the canonical
  chain is found again if its transaction was mined elsewhere, waits if its transaction is back in
  the pool, is sent again with its signer's original signature if that can still land (the
  patient's AddRecord, or the authoring doctor's AddRecordAsDoctor: that signer's nonce rolled back
  with the chain), and otherwise becomes `unanchored` with the reason.
- Two documents can claim the same on-chain record id only after the chain lost one of them: the
  receipt says which transaction made the record, so the other claim is the stale one. A unique
  index conflict is settled here and never reaches a client as a 500.
- A pending upload that never reached the chain is, after the grace period, sent again if it had
  been sent before and its signature can still land, and removed otherwise (its client never got
  a 201).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from pymongo.errors import DuplicateKeyError

from ..chain.client import AuditEvent, ChainClient
from ..chain.relayer import RelayerError, TransactionReverted, TransactionTimeout
from ..container import Services
from ..db.records import RecordDoc, RelayAuthorization
from ..domain_errors import DomainError, conflict
from .deadlines import can_still_land
from .pin_release import remove_unanchored_upload

log = logging.getLogger(__name__)

# How long the reconciler waits for a re-sent record before leaving it to the next pass.
RESUBMIT_WAIT_SECONDS = 10.0


@dataclass
class AnchorReport:
    """What one reconcile pass did (counts), for logs, the CLI and tests."""

    confirmed: int = 0
    anchored: int = 0
    removed: int = 0
    still_pending: int = 0
    resubmitted: int = 0
    unanchored: int = 0
    rechecked: int = 0
    # Pins of earlier removals the IPFS node could not remove then (services/pin_release.py).
    pins_released: int = 0

    @property
    def total(self) -> int:
        return (
            self.confirmed + self.anchored + self.removed + self.still_pending + self.resubmitted + self.unanchored
            + self.pins_released
        )

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class RecordAddedIndex:
    """One patient's RecordAdded events by (content hash, author), read from the chain on first use.

    Why: a reconcile pass after the chain lost many of a patient's records (a reset dev chain, a deep
    reorg) looks each of them up on chain. Reading the patient's whole event log and every claimed
    id once per record made the pass quadratic in the patient's record count. One pass holds the
    patient's lock and one head; an event mined during it belongs to a transaction whose receipt,
    pool entry or live relay job that pass already sees, so reading the log once is enough.
    """

    def __init__(self, chain: ChainClient, patient: str) -> None:
        self._chain = chain
        self._patient = patient
        self._by_key: dict[tuple[str, str], list[AuditEvent]] | None = None

    async def matching(self, record: RecordDoc) -> list[AuditEvent]:
        """The events that added `record`'s content hash by its author (the patient or a doctor), oldest first."""
        if self._by_key is None:
            events = await self._chain.get_events(self._patient, names=["RecordAdded"], with_timestamps=False)
            self._by_key = {}
            for event in events:
                key = (str(event.args.get("contentHash", "")).lower(), str(event.args.get("author", "")).lower())
                self._by_key.setdefault(key, []).append(event)
        return self._by_key.get((record.content_hash.lower(), (record.author or record.patient).lower()), [])


class RecordAnchoring:
    """Moves record documents between pending, anchored, confirmed and unanchored, as the chain says."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._unpin_now = True  # until the IPFS node fails an unpin (`_remove`)

    # -- a receipt is in ---------------------------------------------------------------------

    async def mined(self, record: RecordDoc, receipt: Mapping[str, Any], *, head: int | None = None) -> RecordDoc:
        """Record a successful receipt of one of `record`'s transactions (anchored or confirmed)."""
        record_id = self._s.chain.record_id_from_receipt(record.patient, receipt, author=record.author)
        return await self._claim(
            record,
            record_id=record_id,
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
            block_number=int(receipt["blockNumber"]),
            block_hash=HexBytes(receipt["blockHash"]).to_0x_hex(),
            head=head,
        )

    async def _claim(
        self, record: RecordDoc, *, record_id: int, tx_hash: str, block_number: int, block_hash: str, head: int | None
    ) -> RecordDoc:
        confirmations = self._s.settings.confirmations
        if confirmations == 0:
            confirmed = True  # mined is enough: no head to read (a round trip on every upload)
        else:
            head = head if head is not None else await self._s.chain.block_number()
            confirmed = head - block_number >= confirmations
        for _ in range(3):
            try:
                updated = await self._s.records.mark_mined(
                    record.cid,
                    record_id=record_id,
                    tx_hash=tx_hash,
                    block_number=block_number,
                    block_hash=block_hash,
                    confirmed=confirmed,
                )
            except DuplicateKeyError:
                holder = await self._s.records.holder_of(record.patient, record_id)
                if holder is not None and holder.cid != record.cid:
                    # This receipt made record `record_id`; the other document's claim predates a
                    # rollback that took its own transaction away.
                    await self._s.records.mark_unanchored(holder.cid, _displaced_reason(record_id))
                    log.warning("record displaced after a chain rollback", extra={"cid": holder.cid, "record_id": record_id})
                continue
            if updated is None:
                raise conflict("record_gone", "the record was removed while it was being anchored")
            if updated.replaces:
                # Only a mined amendment supersedes its previous version: a failed one never does.
                await self._s.records.mark_replaced(updated.replaces, updated.cid)
            return updated
        raise conflict("record_conflict", "another record claims the same on-chain id; try again shortly")

    # -- the reconciler ----------------------------------------------------------------------

    async def recheck(self, records: list[RecordDoc], report: AnchorReport) -> list[RecordDoc]:
        """Anchored / recently confirmed / unanchored records: still where we saw them on chain?

        Promotes anchored records that are deep enough; returns those whose block left the chain
        (or was never noted), for `settle_all`.
        """
        chain = self._s.chain
        head = await chain.block_number()
        canonical = await chain.block_hashes(r.block_number for r in records if r.block_number is not None)
        unsettled = []
        for record in records:
            report.rechecked += 1
            if record.state == "unanchored":
                unsettled.append(record)
                continue
            seen = canonical.get(record.block_number) if record.block_number is not None else None
            if record.block_number is not None and record.block_hash and seen == record.block_hash.lower():
                if record.state == "anchored" and head - record.block_number >= self._s.settings.confirmations:
                    if await self._s.records.promote(record.cid, record.block_hash):
                        report.confirmed += 1
                continue
            unsettled.append(record)
        return unsettled

    async def settle_all(
        self, records: list[RecordDoc], report: AnchorReport, *, grace_cutoff: datetime | None = None
    ) -> None:
        """Settle records patient by patient, each patient's in the order of their signatures' nonces
        (a lost record can only be sent again once the ones signed before it are back). The patient's
        and each authoring doctor's nonces count separately; sorting them together keeps each
        signer's own order."""
        by_patient: dict[str, list[RecordDoc]] = {}
        for record in records:
            by_patient.setdefault(record.patient, []).append(record)
        for patient, mine in by_patient.items():
            mine.sort(key=lambda r: (r.relay.nonce if r.relay else -1, r.created_at))
            async with self._s.patient_locks.hold(patient):
                head = await self._s.chain.block_number()
                on_chain = RecordAddedIndex(self._s.chain, patient)
                for record in mine:
                    fresh = await self._s.records.get_by_cid(record.cid)  # another path may have settled it
                    if fresh is None:
                        continue
                    if fresh.state == "unanchored":
                        await self._readopt(fresh, head, report, on_chain)
                        continue
                    report.count(await self.settle(fresh, head=head, grace_cutoff=grace_cutoff, on_chain=on_chain))

    async def settle_one(self, record: RecordDoc) -> RecordDoc | None:
        """Settle one record now (e.g. an upload retried by its client); None if it is gone."""
        async with self._s.patient_locks.hold(record.patient):
            fresh = await self._s.records.get_by_cid(record.cid)
            if fresh is None:
                return None
            if not fresh.on_chain:
                await self.settle(fresh, head=await self._s.chain.block_number())
            return await self._s.records.get_by_cid(record.cid)

    async def repair_lost(self, patient: str) -> int:
        """Before a patient signs a new AddRecord: send again what the chain lost of theirs.

        A record the database holds as on chain with an id at or past the contract's record count
        was taken back (a reorg, a reset dev chain). Its signature's nonce is free again, and a new
        signature would take it: so the old record is settled first and the new one gets the next
        nonce. On this hot path (every signing payload and upload of a patient): one `recordCount`
        call and one indexed query, which finds nothing unless the chain lost something.
        """
        count = await self._s.chain.record_count(patient)
        lost = await self._s.records.on_chain_from(patient, count)
        if lost:
            report = AnchorReport()
            await self.settle_all(lost, report)
            log.warning("records the chain lost were settled", extra=report.as_dict())
        return len(lost)

    async def settle(
        self,
        record: RecordDoc,
        *,
        head: int,
        grace_cutoff: datetime | None = None,
        on_chain: RecordAddedIndex | None = None,
    ) -> str:
        """Decide one record's state from the chain; returns the report field to count.

        `on_chain`: the patient's RecordAdded events as read once for a whole pass (`settle_all`);
        a lone record reads them itself."""
        chain = self._s.chain
        pooled = False
        for tx_hash in reversed(record.tx_hashes):
            receipt = await chain.receipt_or_none(tx_hash)
            if receipt is None:
                pooled = pooled or await chain.transaction_pending(tx_hash)
                continue
            if receipt["status"] == 1:
                updated = await self.mined(record, receipt, head=head)
                return "confirmed" if updated.state == "confirmed" else "anchored"
        if pooled:
            if record.on_chain:
                await self._s.records.back_to_pending(record.cid)
            return "still_pending"
        if await self._s.relay_queue.live_for_record(record.cid):
            # Queued or sent by the relayer queue (perhaps replaced by a new version, perhaps waiting for
            # the signer's earlier nonces, perhaps by another instance): its job decides, never a removal.
            return "still_pending"
        found = await self._find_on_chain(record, on_chain or RecordAddedIndex(self._s.chain, record.patient))
        if found is not None:
            updated = await self._claim_event(record, found, head)
            return "confirmed" if updated.state == "confirmed" else "anchored"
        was_stored = record.anchored_at is not None or record.state in ("anchored", "confirmed")
        if not was_stored:
            # Never on chain. Once nobody can still be waiting for it: sent again if it was sent
            # before (its client was told it may land: a 202, or a crash after the hash was saved)
            # and its signature can still land; removed otherwise (its client never got a 201).
            if grace_cutoff is None or record.created_at >= grace_cutoff:
                return "still_pending"
            if record.tx_hashes and await self._why_not_resubmittable(record) is None:
                return await self._resubmit(record, head)
            await self._remove(record)
            return "removed"
        reason = await self._why_not_resubmittable(record)
        if reason is None:
            return await self._resubmit(record, head)
        await self._s.records.mark_unanchored(record.cid, reason)
        log.warning("record unanchored", extra={"cid": record.cid})
        return "unanchored"

    async def _readopt(self, record: RecordDoc, head: int, report: AnchorReport, on_chain: RecordAddedIndex) -> None:
        found = await self._find_on_chain(record, on_chain)
        if found is not None:
            updated = await self._claim_event(record, found, head)
            report.count("confirmed" if updated.state == "confirmed" else "anchored")

    async def _find_on_chain(self, record: RecordDoc, on_chain: RecordAddedIndex) -> AuditEvent | None:
        """A RecordAdded in the patient's contract with this file's hash and author that no other
        document claims (one indexed lookup per matching event: there is seldom more than one)."""
        for event in await on_chain.matching(record):
            record_id = int(event.args["recordId"])
            if record_id == record.record_id:
                return event
            holder = await self._s.records.holder_of(record.patient, record_id)
            if holder is None or holder.cid == record.cid:
                return event
        return None

    async def _claim_event(self, record: RecordDoc, event: AuditEvent, head: int) -> RecordDoc:
        return await self._claim(
            record,
            record_id=int(event.args["recordId"]),
            tx_hash=event.tx_hash,
            block_number=event.block_number,
            block_hash=event.block_hash.lower(),
            head=head,
        )

    async def _why_not_resubmittable(self, record: RecordDoc) -> str | None:
        """None if the original signature (the patient's, or the authoring doctor's) can still put the
        record on chain, else why not."""
        relay = record.relay
        lost = "the chain lost this record's transaction (a reorganisation or a reset of the chain)"
        if relay is None:
            return f"{lost}, and no signature was kept to send it again: upload the file again"
        current = await self._s.chain.nonce_of(record.patient, relay.signer or record.patient)
        if current != relay.nonce:
            return (
                f"{lost}, and its signature can no longer be used (its nonce {relay.nonce} now belongs to "
                "another action): upload the file again"
            )
        if not await can_still_land(self._s.chain, relay.deadline, self._s.settings.deadline_margin_seconds):
            return f"{lost}, and its signature has expired: upload the file again"
        return None

    async def _resubmit(self, record: RecordDoc, head: int) -> str:
        """Queue the signed AddRecord (or AddRecordAsDoctor) again (its signer's nonce rolled back with
        the chain); one live job per signer nonce, so several instances reconciling send it once."""
        relay = record.relay
        assert relay is not None
        queue = self._s.relay_queue
        try:
            await queue.ensure_vault(record.patient, timeout=self._s.settings.tx_timeout_seconds)
            action, message = add_record_call(relay, record.content_hash)
            job = await queue.submit_signed(
                action, record.patient, message, bytes(HexBytes(relay.signature)),
                signer=relay.signer or record.patient, record_cid=record.cid,
            )
        except (TransactionReverted, DomainError) as exc:
            return await self._refused(record, exc)
        await self._s.records.back_to_pending(record.cid, resent=True)
        log.warning("record queued again after the chain lost it", extra={"cid": record.cid, "job": job.id})
        try:
            receipt = await queue.receipt(job, min(RESUBMIT_WAIT_SECONDS, self._s.settings.tx_timeout_seconds))
        except TransactionReverted as exc:
            if exc.tx_hash is None:
                return await self._refused(record, exc)
            return "resubmitted"  # mined and failed: the next pass decides from the receipts
        except (TransactionTimeout, RelayerError, DomainError):
            return "resubmitted"  # the next pass finds the receipt
        if receipt["status"] == 1:
            await self.mined(record, receipt, head=max(head, int(receipt["blockNumber"])))
        return "resubmitted"

    async def _refused(self, record: RecordDoc, exc: Exception) -> str:
        fresh = await self._s.records.get_by_cid(record.cid)
        if fresh is not None and fresh.tx_hashes != record.tx_hashes:
            return "still_pending"  # sent meanwhile by another process: its receipt decides
        name = exc.error_name if isinstance(exc, TransactionReverted) else getattr(exc, "code", None)
        reason = (
            "the chain lost this record's transaction and refuses to take it again "
            f"({name or 'reverted'}): upload the file again"
        )
        await self._s.records.mark_unanchored(record.cid, reason)
        return "unanchored"

    async def _remove(self, record: RecordDoc) -> None:
        """The pin first, then the document (services/pin_release.py). Once the IPFS node has failed
        one unpin, the other removals of this pass do not ask it again (with a hung node, each would
        wait out the IPFS timeout under the patient's lock): their CIDs wait in `pins_to_release`."""
        answered = await remove_unanchored_upload(self._s, record.cid, unpin_now=self._unpin_now)
        self._unpin_now = self._unpin_now and answered


def add_record_call(relay: RelayAuthorization, content_hash: str) -> tuple[str, dict[str, Any]]:
    """The signed action that adds a record and its message: the patient's `addRecord`, or the
    authoring doctor's `addRecordAsDoctor` when `relay.signer` names one (chain/actions.py)."""
    message: dict[str, Any] = {
        "kind": relay.kind, "contentHash": content_hash, "nonce": relay.nonce, "deadline": relay.deadline
    }
    if relay.signer is None:
        return "addRecord", message
    return "addRecordAsDoctor", {"doctor": to_checksum_address(relay.signer), **message}


def _displaced_reason(record_id: int) -> str:
    return (
        f"the chain lost this record (a reorganisation or a reset of the chain) and its place #{record_id} "
        "now holds another record: upload the file again"
    )


async def reconcile_records(services: Services, grace_seconds: float | None = None) -> AnchorReport:
    """One pass over everything not yet settled: pending uploads, then records the chain may take back."""
    anchoring = RecordAnchoring(services)
    settings = services.settings
    grace = timedelta(seconds=grace_seconds if grace_seconds is not None else settings.tx_timeout_seconds)
    cutoff = datetime.now(UTC) - grace
    report = AnchorReport()
    head = await services.chain.block_number()
    window_start = max(head - settings.reorg_window_blocks, -1)
    unsettled = await anchoring.recheck(await services.records.list_to_recheck(window_start), report)
    await anchoring.settle_all([*await services.records.list_pending(), *unsettled], report, grace_cutoff=cutoff)
    return report
