"""GET /api/system/selftest (registrar): run the synthetic patient-and-doctor workflow now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services.selftest import run_selftest_once
from .deps import RegistrarDep, ServicesDep
from .schemas.errors import AUTH, CHAIN, DATABASE, ROLE, errors
from .schemas.system import SelftestReport

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get(
    "/selftest",
    response_model=SelftestReport,
    summary="Run a synthetic patient and doctor workflow against this system (registrar)",
    description="Throwaway wallets sign in, upload, verify, request, approve, read, revoke and clean up "
    "through this API; each step's outcome and latency. A failed step is reported in the answer "
    "(`ok: false`), not as an error status. A call made while a run is going shares that run's result.",
    responses=errors(AUTH, ROLE, CHAIN, DATABASE, validation=False),
)
async def selftest(caller: RegistrarDep, services: ServicesDep) -> dict[str, Any]:
    return (await run_selftest_once(services)).as_json()
