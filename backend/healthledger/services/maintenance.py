"""Background upkeep of one API process: reconcile records with the chain, forget expired entries
(sign-in nonces, refresh tokens, and doctors' grant copies of data keys once their grant ended).

Runs once at start-up (before serving) and then every RECONCILE_INTERVAL_SECONDS. A failing pass
(the chain or the database is down) is logged by type and retried at the next interval; it never
stops the process or its start-up.
"""

from __future__ import annotations

import asyncio
import logging

from ..concurrency import cancel_and_wait
from ..container import Services
from .anchoring import AnchorReport
from .reconcile import reconcile_pending

log = logging.getLogger(__name__)


class Maintenance:
    """The periodic reconcile and purge loop of one process."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> AnchorReport | None:
        """One pass; returns the reconcile report, or None if the pass failed."""
        report = None
        try:
            report = await reconcile_pending(self._s)
            if report.total:
                log.info("reconciled records", extra=report.as_dict())
        except Exception as exc:  # an outage: try again next time
            log.warning("reconcile pass failed", extra={"error_type": type(exc).__name__})
        try:
            await self._s.nonces.purge_expired()
            await self._s.refresh_tokens.purge_expired()
        except Exception as exc:
            log.warning("purge of expired entries failed", extra={"error_type": type(exc).__name__})
        try:
            await self.sweep_grant_copies()
        except Exception as exc:
            log.warning("sweep of expired grant copies failed", extra={"error_type": type(exc).__name__})
        return report

    async def sweep_grant_copies(self) -> int:
        """Delete grant copies whose grant ended by chain time (the clock grants run on).

        The chain already refuses an expired grant; deleting its copies means a later leak of the
        doctor's key does not open what they may no longer read.
        """
        swept = await self._s.grant_keys.purge_expired(await self._s.chain.latest_timestamp())
        if swept:
            log.info("deleted expired grant copies", extra={"count": swept})
        return swept

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="healthledger-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)  # a cancellation PyMongo swallows must not keep it running
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._s.settings.reconcile_interval_seconds)
            await self.run_once()
