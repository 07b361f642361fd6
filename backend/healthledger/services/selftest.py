"""GET /api/system/selftest: the synthetic workflow (selftest/workflow.py) run by this API instance.

The instance calls its own HTTP API (SELFTEST_API_URL, default http://127.0.0.1:PORT), so the run
passes every layer a user's request passes. The throwaway doctor is registered and unregistered by
the registrar the server already uses (its relayer, through services/directory.py), so no registrar
key travels to the endpoint.

One run at a time per instance: a call that arrives while a run is going shares that run's result
instead of starting another (each run creates accounts and transactions; piling them up on a live
system helps nobody).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ..container import Services
from ..domain_errors import DomainError
from ..selftest.client import StepFailed
from ..selftest.workflow import DOCTOR_NAME, SelftestReport, api_client, run_selftest
from . import directory

log = logging.getLogger(__name__)


@dataclass
class SelftestRunner:
    """This instance's single-flight self-test (see the module docstring)."""

    _running: asyncio.Task[SelftestReport] | None = field(default=None, repr=False)

    async def run(self, services: Services) -> SelftestReport:
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(_run(services))
        # shield: a caller that disconnects does not cancel the run the others share (clean-up included).
        return await asyncio.shield(self._running)


class ServerRegistrar:
    """Registers the throwaway doctor with the server's own relayer (which holds REGISTRAR_ROLE)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def register_doctor(self, address: str) -> None:
        try:
            await directory.register_doctor(self.services, address, DOCTOR_NAME, "SELFTEST-" + address[2:10])
        except DomainError as exc:
            raise StepFailed(f"registering the doctor failed: {exc.code}") from exc

    async def unregister_doctor(self, address: str) -> None:
        try:
            await directory.unregister_doctor(self.services, address)
        except DomainError as exc:
            raise StepFailed(f"unregistering the doctor failed: {exc.code}") from exc


async def run_selftest_once(services: Services) -> SelftestReport:
    """Run the self-test, or share the run already going on this instance."""
    if services.selftest is None:
        services.selftest = SelftestRunner()
    return await services.selftest.run(services)


def selftest_url(services: Services) -> str:
    settings = services.settings
    return settings.selftest_api_url or f"http://127.0.0.1:{settings.port}"


async def _run(services: Services) -> SelftestReport:
    settings = services.settings
    async with api_client(selftest_url(services), settings.selftest_timeout_seconds) as http:
        report = await run_selftest(http, ServerRegistrar(services), timeout_seconds=settings.selftest_timeout_seconds)
    failed = next((step for step in report.steps if not step.ok), None)
    log.info(
        "self-test finished",
        extra={"status": "ok" if report.ok else "failed", "duration_ms": report.duration_ms, "reason": failed.name if failed else None},
    )
    return report
