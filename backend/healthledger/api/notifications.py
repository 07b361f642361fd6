"""GET /api/notifications: what changed for the signed-in patient or doctor (polled; see the service)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from ..services.notifications import NotificationService
from .deps import Caller, ServicesDep, require_role
from .schemas.errors import AUTH, DATABASE, ROLE, errors
from .schemas.notifications import Notifications

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

PatientOrDoctorDep = Annotated[Caller, Depends(require_role("patient", "doctor"))]
# The last second of year 9999, the latest time a date can hold (a larger `since` is a 422, not a 500).
MAX_SINCE = 253_402_300_799


@router.get(
    "",
    response_model=Notifications,
    summary="Badge counts and change tokens for you (patients and doctors; poll it)",
    responses=errors(AUTH, ROLE, DATABASE),
)
async def notifications(
    caller: PatientOrDoctorDep,
    services: ServicesDep,
    since: Annotated[
        int | None,
        Query(ge=0, le=MAX_SINCE, description="Unix seconds (a previous answer's `now`): count what is new after it"),
    ] = None,
) -> dict[str, Any]:
    return await NotificationService(services).summary(caller.address, caller.role, since)
