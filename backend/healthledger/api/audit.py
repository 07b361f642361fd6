"""The audit trail: a patient's own timeline, and every patient's for the registrar (paged)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services.audit import all_timeline, patient_record_views, patient_timeline
from ..services.bills_receipt import account_bill_timeline
from ..validation import DEFAULT_PAGE_SIZE
from .deps import CallerDep, PatientDep, RegistrarDep, ServicesDep
from .schemas.audit import AllAudit, BillAudit, PatientAudit, PatientRecordViews
from .schemas.errors import AUTH, CHAIN, DATABASE, ROLE, errors

router = APIRouter(prefix="/api/audit", tags=["audit"])


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
    "/patient/views",
    response_model=PatientRecordViews,
    summary="How often doctors opened each of your files, and when last (patients)",
    responses=errors(AUTH, ROLE, DATABASE, validation=False),
)
async def patient_views(caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return {"patient": caller.address, "records": await patient_record_views(services, caller.address)}


@router.get(
    "/all",
    response_model=AllAudit,
    summary="Everything that happened to every patient's records, newest first, paged (registrar)",
    responses=errors(AUTH, ROLE, {400: ("invalid_page", "invalid_page_size")}, CHAIN, DATABASE),
)
async def all_audit(
    caller: RegistrarDep, services: ServicesDep, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    return await all_timeline(services, page, page_size)


@router.get(
    "/bills",
    response_model=BillAudit,
    summary="Issue, payment, refund and cancellation of your bills, newest first (patients, issuers, payees)",
    responses=errors(AUTH, CHAIN, DATABASE, {503: ("bills_unavailable",)}, validation=False),
)
async def bills_audit(caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await account_bill_timeline(services, caller.address)
