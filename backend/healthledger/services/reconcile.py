"""Finish or clean up uploads left `pending` by a crash, a restart or a slow chain.

A pending record whose transaction was mined successfully is confirmed; one whose transaction
failed, or that never got a transaction and is older than the grace period, is deleted and its
ciphertext unpinned. A transaction still unknown to the node within the grace period is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..container import Services

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    confirmed: int = 0
    removed: int = 0
    still_pending: int = 0

    @property
    def total(self) -> int:
        return self.confirmed + self.removed + self.still_pending


async def reconcile_pending(services: Services, grace_seconds: float | None = None) -> ReconcileReport:
    """Walk every pending record once. `grace_seconds` defaults to the transaction timeout."""
    grace = timedelta(seconds=grace_seconds if grace_seconds is not None else services.settings.tx_timeout_seconds)
    cutoff = datetime.now(UTC) - grace
    report = ReconcileReport()
    for record in await services.records.list_pending():
        receipt = await services.chain.receipt_or_none(record.tx_hash) if record.tx_hash else None
        if receipt is not None and receipt["status"] == 1:
            record_id = services.chain.record_id_from_receipt(record.patient, receipt)
            await services.records.confirm(record.cid, record_id, record.tx_hash)
            report.confirmed += 1
        elif receipt is not None or record.created_at < cutoff:
            await services.records.delete(record.cid)
            try:
                await services.ipfs.unpin(record.cid)
            except Exception:
                log.warning("could not unpin %s while cleaning up", record.cid)
            report.removed += 1
        else:
            report.still_pending += 1
    return report
