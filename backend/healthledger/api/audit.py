"""The audit trail: a patient's own timeline, and every patient's for the registrar (paged)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..errors import bad_request
from ..services.audit import all_timeline, patient_timeline
from .deps import PatientDep, RegistrarDep, ServicesDep
from .schemas.audit import AllAudit, PatientAudit
from .schemas.errors import AUTH, CHAIN, DATABASE, ROLE, errors

router = APIRouter(prefix="/api/audit", tags=["audit"])

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 1_000_000


@router.get(
    "/patient",
    response_model=PatientAudit,
    summary="Everything that happened to your records, newest first (patients)",
    responses=errors(AUTH, ROLE, CHAIN, DATABASE, validation=False),
)
async def patient_audit(caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    events = await patient_timeline(services, caller.address)
    return {"patient": caller.address, "total": len(events), "events": events}


@router.get(
    "/all",
    response_model=AllAudit,
    summary="Everything that happened to every patient's records, newest first, paged (registrar)",
    responses=errors(AUTH, ROLE, {400: ("invalid_page", "invalid_page_size")}, CHAIN, DATABASE),
)
async def all_audit(
    caller: RegistrarDep, services: ServicesDep, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    if not 1 <= page <= MAX_PAGE:
        raise bad_request("invalid_page", f"page must be between 1 and {MAX_PAGE}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad_request("invalid_page_size", f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    return await all_timeline(services, page, page_size)
