"""Finish or clean up uploads, and notice records the chain took back (see services/anchoring.py).

One pass: pending uploads are confirmed when mined, removed when they never reached the chain and
the grace period is over (their pin removed first: services/pin_release.py); anchored and recently
confirmed records are re-checked against the chain and re-sent or marked `unanchored` if a
reorganisation (or a lost dev-chain state) took them away. Last, the pins of removed uploads that the
IPFS node could not remove then are removed now.
The API runs a pass at start-up and then every RECONCILE_INTERVAL_SECONDS; `healthledger reconcile`
runs one on demand.
"""

from __future__ import annotations

from ..container import Services
from .anchoring import AnchorReport, reconcile_records
from .pin_release import release_pins

ReconcileReport = AnchorReport

__all__ = ["ReconcileReport", "reconcile_pending"]


async def reconcile_pending(
    services: Services, grace_seconds: float | None = None, pin_recheck_seconds: float | None = None
) -> ReconcileReport:
    """One reconcile pass. `grace_seconds` defaults to the transaction timeout, `pin_recheck_seconds`
    to PIN_RELEASE_RECHECK_SECONDS (services/pin_release.py).

    Records first (a removal whose unpin fails notes its CID), then the noted pins.
    """
    report = await reconcile_records(services, grace_seconds)
    report.pins_released = await release_pins(services, recheck_seconds=pin_recheck_seconds)
    return report
